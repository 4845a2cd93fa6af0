//! The data side of the States Language the runner interprets: Parameters
//! templates, JSONPaths (`$.a.b`, `$[0]`, `$.a[*].b`, `$$.Execution.Name`),
//! the intrinsics `States.Format` and `States.ArrayContains`, Choice rules
//! and ResultPath.

use serde_json::{Map, Value};

use crate::contract::error::{Error, Result};

/// Evaluates a Parameters/ResultSelector template: keys ending in `.$` are paths.
pub(super) fn params(template: &Value, input: &Value, exec: &Value) -> Result<Value> {
    match template {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                if let Some(key) = k.strip_suffix(".$") {
                    let path = v
                        .as_str()
                        .ok_or_else(|| Error::Bug(format!("{k} is not a path")))?;
                    let value = if let Some(call) = path.strip_prefix("States.Format(") {
                        format_intrinsic(call, input, exec)?
                    } else if let Some(call) = path.strip_prefix("States.ArrayContains(") {
                        array_contains(call, input, exec)?
                    } else {
                        select(path, input, exec)?
                    };
                    out.insert(key.to_string(), value);
                } else {
                    out.insert(k.clone(), params(v, input, exec)?);
                }
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

/// `States.Format('template {}', $.path, ...)` (after the opening parenthesis).
pub(super) fn format_intrinsic(call: &str, input: &Value, exec: &Value) -> Result<Value> {
    let bad = || Error::Bug(format!("unsupported States.Format({call}"));
    let body = call.trim_end().strip_suffix(')').ok_or_else(bad)?;
    let rest = body.trim_start().strip_prefix('\'').ok_or_else(bad)?;
    let end = rest.find('\'').ok_or_else(bad)?;
    let template = &rest[..end];
    let args = rest[end + 1..].trim_start();
    let args: Vec<&str> = if args.is_empty() {
        Vec::new()
    } else {
        args.strip_prefix(',')
            .ok_or_else(bad)?
            .split(',')
            .map(str::trim)
            .collect()
    };
    let mut out = String::new();
    let mut pieces = template.split("{}");
    out.push_str(pieces.next().unwrap_or_default());
    let mut used = 0;
    for piece in pieces {
        let arg = args.get(used).ok_or_else(bad)?;
        match select(arg, input, exec)? {
            Value::String(v) => out.push_str(&v),
            v => out.push_str(&v.to_string()),
        }
        out.push_str(piece);
        used += 1;
    }
    if used != args.len() {
        return Err(bad());
    }
    Ok(Value::String(out))
}

/// `States.ArrayContains($.path, value)` (after the opening parenthesis):
/// whether the array at the path holds the JSON value.
pub(super) fn array_contains(call: &str, input: &Value, exec: &Value) -> Result<Value> {
    let bad = || Error::Bug(format!("unsupported States.ArrayContains({call}"));
    let body = call.trim_end().strip_suffix(')').ok_or_else(bad)?;
    let (path, want) = body.split_once(',').ok_or_else(bad)?;
    let want: Value = serde_json::from_str(want.trim()).map_err(|_| bad())?;
    match select(path.trim(), input, exec)? {
        Value::Array(items) => Ok(Value::Bool(items.contains(&want))),
        _ => Err(bad()),
    }
}

/// The `Next` of the first Choice rule that holds, else the `Default`.
pub(super) fn choose(
    state: &Value,
    input: &Value,
    exec: &Value,
) -> std::result::Result<Option<String>, String> {
    for rule in state["Choices"].as_array().into_iter().flatten() {
        let var = rule["Variable"].as_str().ok_or("a rule without Variable")?;
        let value = select(var, input, exec).ok();
        let holds = if let Some(want) = rule.get("IsPresent") {
            Some(value.is_some()) == want.as_bool()
        } else if let Some(want) = rule.get("BooleanEquals") {
            value.as_ref().and_then(Value::as_bool).is_some() && value.as_ref() == Some(want)
        } else if let Some(want) = rule.get("StringEquals") {
            value.as_ref().and_then(Value::as_str).is_some() && value.as_ref() == Some(want)
        } else if let Some(want) = rule.get("NumericEquals") {
            value.as_ref().and_then(Value::as_f64).is_some()
                && value.as_ref().and_then(Value::as_f64) == want.as_f64()
        } else if let Some(want) = rule.get("NumericGreaterThanEquals").and_then(Value::as_f64) {
            value.as_ref().and_then(Value::as_f64).is_some_and(|v| v >= want)
        } else {
            return Err(format!("unsupported rule {rule}"));
        };
        if holds {
            return Ok(Some(
                rule["Next"].as_str().ok_or("a rule without Next")?.to_string(),
            ));
        }
    }
    Ok(state["Default"].as_str().map(str::to_string))
}

/// Reads a JSONPath of the supported forms. After `[*]` the rest of the
/// path is read in every element, and the elements that have it are the
/// result (as Step Functions' JSONPath does).
pub(super) fn select(path: &str, input: &Value, exec: &Value) -> Result<Value> {
    let (root, rest) = if let Some(r) = path.strip_prefix("$$") {
        (exec, r)
    } else if let Some(r) = path.strip_prefix('$') {
        (input, r)
    } else {
        return Err(Error::Bug(format!("unsupported path {path}")));
    };
    let segs = segments(rest)?;
    select_in(root, &segs).ok_or_else(|| Error::InvalidInput(format!("path {path} not found in state")))
}

fn select_in(mut cur: &Value, segs: &[Seg<'_>]) -> Option<Value> {
    for (i, seg) in segs.iter().enumerate() {
        cur = match seg {
            Seg::Key(k) => cur.get(k)?,
            Seg::Index(n) => cur.get(n)?,
            Seg::All => {
                let found = cur
                    .as_array()?
                    .iter()
                    .filter_map(|item| select_in(item, &segs[i + 1..]))
                    .collect();
                return Some(Value::Array(found));
            }
        };
    }
    Some(cur.clone())
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
    /// `[*]`: every element.
    All,
}

fn segments(mut rest: &str) -> Result<Vec<Seg<'_>>> {
    let mut out = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            out.push(Seg::Key(&r[..end]));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r
                .find(']')
                .ok_or_else(|| Error::Bug(format!("bad path segment {rest}")))?;
            if &r[..end] == "*" {
                out.push(Seg::All);
            } else {
                let i = r[..end]
                    .parse()
                    .map_err(|_| Error::Bug(format!("bad index in {rest}")))?;
                out.push(Seg::Index(i));
            }
            rest = &r[end + 1..];
        } else {
            return Err(Error::Bug(format!("bad path segment {rest}")));
        }
    }
    Ok(out)
}

/// Puts a result into the state at `ResultPath` (`$` or absent: replaces it).
pub(super) fn place(mut state: Value, result_path: Option<&Value>, result: Value) -> Result<Value> {
    let path = match result_path {
        // `"ResultPath": null`: the state's input passes through unchanged
        Some(Value::Null) => return Ok(state),
        None => return Ok(result),
        Some(p) => match p.as_str() {
            Some("$") => return Ok(result),
            Some(p) => p,
            None => return Err(Error::Bug(format!("bad ResultPath {p}"))),
        },
    };
    let rest = path
        .strip_prefix('$')
        .ok_or_else(|| Error::Bug(format!("bad ResultPath {path}")))?;
    let segs = segments(rest)?;
    let mut cur = &mut state;
    for (i, seg) in segs.iter().enumerate() {
        let Seg::Key(k) = seg else {
            return Err(Error::Bug(format!("ResultPath {path} indexes an array")));
        };
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let obj = cur
            .as_object_mut()
            .ok_or_else(|| Error::Bug("state is not an object".into()))?;
        if i + 1 == segs.len() {
            obj.insert((*k).to_string(), result);
            return Ok(state);
        }
        cur = obj.entry((*k).to_string()).or_insert(Value::Object(Map::new()));
    }
    Ok(state)
}
