//! `template.yaml` as a deployed stack would read it: short-form tags
//! (`!Ref`, `!Sub`, ...) become their long forms, and a [`Deployment`]
//! (parameter values and the physical names CloudFormation would give)
//! fills them in. Tests run each function with exactly the environment and
//! the policy statements this yields.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Map, Value};

/// The parameter values and physical names of one deployment of the stack.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub stack: String,
    pub region: String,
    pub account: String,
    /// Parameter values, as `sam deploy --parameter-overrides` gives them.
    pub parameters: BTreeMap<String, String>,
    /// Physical names of resources (a bucket's name, a function's name).
    pub names: BTreeMap<String, String>,
}

impl Deployment {
    /// A deployment of `stack` in us-east-1 with only the parameters that
    /// have no default, its data bucket named `data_bucket`.
    pub fn minimal(stack: &str, data_bucket: &str) -> Deployment {
        Deployment {
            stack: stack.into(),
            region: "us-east-1".into(),
            account: "123456789012".into(),
            parameters: [
                ("SnowplowBucket", "snowplow-enriched"),
                ("DatabaseSubnetIds", "subnet-1"),
                ("DatabaseSecurityGroupIds", "sg-1"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            names: BTreeMap::from([("DataBucket".to_string(), data_bucket.to_string())]),
        }
    }

    pub fn arn(&self, service: &str, rest: &str) -> String {
        format!("arn:aws:{service}:{}:{}:{rest}", self.region, self.account)
    }
}

pub struct Template {
    doc: Value,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// serde_yaml's tagged values as CloudFormation's long-form JSON.
fn long_form(v: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(n).unwrap_or(Value::Null),
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(long_form).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let k = match k {
                        Y::String(s) => s,
                        other => serde_yaml::to_string(&other).unwrap().trim().to_string(),
                    };
                    (k, long_form(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => {
            let name = t.tag.to_string().trim_start_matches('!').to_string();
            let value = long_form(t.value);
            match name.as_str() {
                "Ref" => json!({ "Ref": value }),
                "Condition" => json!({ "Condition": value }),
                "GetAtt" => {
                    let parts = match value {
                        Value::String(s) => {
                            let (a, b) = s.split_once('.').expect("!GetAtt Resource.Attribute");
                            json!([a, b])
                        }
                        other => other,
                    };
                    json!({ "Fn::GetAtt": parts })
                }
                other => json!({ format!("Fn::{other}"): value }),
            }
        }
    }
}

impl Template {
    pub fn load() -> Template {
        let text = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml");
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("template.yaml is YAML");
        Template { doc: long_form(yaml) }
    }

    pub fn doc(&self) -> &Value {
        &self.doc
    }

    pub fn resource(&self, logical: &str) -> &Value {
        let r = &self.doc["Resources"][logical];
        assert!(r.is_object(), "no resource {logical} in template.yaml");
        r
    }

    /// Logical ids of the stack's functions.
    pub fn functions(&self) -> Vec<String> {
        self.doc["Resources"]
            .as_object()
            .expect("Resources")
            .iter()
            .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The logical id of the function built from the crate `functions/<name>/`.
    pub fn function_for(&self, name: &str) -> String {
        let code = format!("functions/{name}/");
        self.functions()
            .into_iter()
            .find(|f| self.resource(f)["Properties"]["CodeUri"] == code.as_str())
            .unwrap_or_else(|| panic!("no function has CodeUri {code}"))
    }

    /// A function's environment as deployed: `Globals` and its own
    /// variables, every intrinsic filled in.
    pub fn environment(&self, function: &str, d: &Deployment) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for vars in [
            &self.doc["Globals"]["Function"]["Environment"]["Variables"],
            &self.resource(function)["Properties"]["Environment"]["Variables"],
        ] {
            for (k, v) in vars.as_object().into_iter().flatten() {
                let value = match self.resolve(v, d) {
                    Value::String(s) => s,
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => panic!("{function}: {k} resolves to {other}, not a string"),
                };
                env.insert(k.clone(), value);
            }
        }
        env
    }

    /// A function's inline policy statements, every intrinsic filled in.
    pub fn statements(&self, function: &str, d: &Deployment) -> Vec<Value> {
        let mut out = Vec::new();
        for policy in self.resource(function)["Properties"]["Policies"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let statements = policy
                .get("Statement")
                .unwrap_or_else(|| panic!("{function}: only inline statements are supported: {policy}"));
            for st in statements.as_array().into_iter().flatten() {
                out.push(self.resolve(st, d));
            }
        }
        out
    }

    fn parameter(&self, name: &str, d: &Deployment) -> Option<Value> {
        let p = self.doc["Parameters"].get(name)?;
        let raw = d
            .parameters
            .get(name)
            .cloned()
            .or_else(|| {
                p.get("Default").map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
            })
            .unwrap_or_else(|| panic!("parameter {name} has no value and no default"));
        Some(if p["Type"] == "CommaDelimitedList" {
            Value::Array(
                raw.split(',')
                    .map(|x| Value::String(x.trim().to_string()))
                    .collect(),
            )
        } else {
            Value::String(raw)
        })
    }

    fn reference(&self, name: &str, d: &Deployment) -> Value {
        match name {
            "AWS::Region" => return json!(d.region),
            "AWS::AccountId" => return json!(d.account),
            "AWS::StackName" => return json!(d.stack),
            "AWS::Partition" => return json!("aws"),
            _ => {}
        }
        if let Some(v) = self.parameter(name, d) {
            return v;
        }
        let physical = self.physical(name, d);
        match self.resource(name)["Type"].as_str() {
            // Ref of a topic or a state machine is its ARN
            Some("AWS::SNS::Topic") => json!(d.arn("sns", &physical)),
            Some("AWS::Serverless::StateMachine") => {
                json!(d.arn("states", &format!("stateMachine:{physical}")))
            }
            _ => json!(physical),
        }
    }

    fn physical(&self, logical: &str, d: &Deployment) -> String {
        d.names
            .get(logical)
            .cloned()
            .unwrap_or_else(|| format!("{}-{logical}", d.stack))
    }

    fn attribute(&self, logical: &str, attr: &str, d: &Deployment) -> Value {
        let physical = self.physical(logical, d);
        let kind = self.resource(logical)["Type"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        json!(match (kind.as_str(), attr) {
            ("AWS::S3::Bucket", "Arn") => format!("arn:aws:s3:::{physical}"),
            ("AWS::Serverless::Function", "Arn") => d.arn("lambda", &format!("function:{physical}")),
            ("AWS::SNS::Topic", "TopicName") => physical,
            ("AWS::Serverless::StateMachine", "Name") => physical,
            _ => panic!("!GetAtt {logical}.{attr} is not supported here"),
        })
    }

    /// Fills in `Ref`, `Fn::Sub`, `Fn::GetAtt`, `Fn::Join` and `Fn::Select`.
    pub fn resolve(&self, v: &Value, d: &Deployment) -> Value {
        match v {
            Value::Array(items) => Value::Array(items.iter().map(|i| self.resolve(i, d)).collect()),
            Value::Object(m) if m.len() == 1 => {
                let (k, arg) = m.iter().next().unwrap();
                match k.as_str() {
                    "Ref" => self.reference(arg.as_str().expect("Ref name"), d),
                    "Fn::GetAtt" => self.attribute(
                        arg[0].as_str().expect("GetAtt resource"),
                        arg[1].as_str().expect("GetAtt attribute"),
                        d,
                    ),
                    "Fn::Sub" => json!(self.sub(arg, d)),
                    "Fn::Join" => {
                        let sep = arg[0].as_str().expect("Join separator");
                        let parts = self.resolve(&arg[1], d);
                        json!(parts
                            .as_array()
                            .expect("Join list")
                            .iter()
                            .map(|p| p.as_str().expect("Join item").to_string())
                            .collect::<Vec<_>>()
                            .join(sep))
                    }
                    "Fn::Select" => {
                        let i: usize = match self.resolve(&arg[0], d) {
                            Value::Number(n) => n.as_u64().unwrap() as usize,
                            Value::String(s) => s.parse().unwrap(),
                            other => panic!("Select index {other}"),
                        };
                        self.resolve(&arg[1], d)[i].clone()
                    }
                    _ => Value::Object(
                        m.iter()
                            .map(|(k, v)| (k.clone(), self.resolve(v, d)))
                            .collect::<Map<_, _>>(),
                    ),
                }
            }
            Value::Object(m) => {
                Value::Object(m.iter().map(|(k, v)| (k.clone(), self.resolve(v, d))).collect())
            }
            other => other.clone(),
        }
    }

    fn sub(&self, arg: &Value, d: &Deployment) -> String {
        let (text, vars) = match arg {
            Value::String(s) => (s.as_str(), Map::new()),
            Value::Array(a) => (
                a[0].as_str().expect("Sub text"),
                a[1].as_object().cloned().unwrap_or_default(),
            ),
            other => panic!("Fn::Sub {other}"),
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("closing brace") + start;
            let name = &rest[start + 2..end];
            let value = if let Some(v) = vars.get(name) {
                self.resolve(v, d)
            } else if let Some((res, attr)) = name.split_once('.').filter(|_| !name.starts_with("AWS::")) {
                self.attribute(res, attr, d)
            } else {
                self.reference(name, d)
            };
            out.push_str(value.as_str().unwrap_or_else(|| panic!("${{{name}}} is {value}")));
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }
}
