//! The library's floor plan holds: imports go one way (contract <-
//! recommend <- settings <- context <- adapters <- stages <- run), no stage
//! imports another, and no two modules import each other, directly or round
//! a circle. Read from the `crate::` paths of every source file (tests
//! excepted: they may reach anywhere). The same check is then fed a planted
//! violation of each kind, so it is seen to fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path, `["stages", "train", "gate"]`.
type Module = Vec<String>;

/// The layer of a top-level module; a module may import only lower layers
/// (and its own top-level module).
fn layer(top: &str) -> Option<u8> {
    match top {
        "contract" => Some(0),
        "recommend" => Some(1),
        "settings" => Some(2),
        "context" => Some(3),
        "adapters" => Some(4),
        "stages" => Some(5),
        "run" => Some(6),
        "devtools" => Some(7),
        _ => None,
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("shared/src")
}

/// Module path (`settings`) of every source file.
fn modules(dir: &Path, prefix: &[String], out: &mut BTreeMap<Vec<String>, PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            let mut p = prefix.to_vec();
            p.push(name);
            modules(&path, &p, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let mut p = prefix.to_vec();
            if name != "mod" && name != "lib" {
                p.push(name);
            }
            out.insert(p, path);
        }
    }
}

/// Whether a file is test code (a module only compiled for tests).
fn is_test_file(path: &Path) -> bool {
    matches!(
        path.file_stem().and_then(|s| s.to_str()),
        Some("tests" | "fuzz" | "fake" | "conformance")
    )
}

/// The file's non-test source: up to its `#[cfg(test)] mod tests`, comments dropped.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim_start();
        if t == "#[cfg(test)]" && lines.peek().is_some_and(|l| l.contains("mod tests")) {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Every module a file's code names through `crate::`, by its longest
/// module path (`crate::contract::layout::RunLayout` -> `contract::layout`).
fn imports(code: &str, known: &BTreeSet<Module>) -> BTreeSet<Module> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let path: Vec<String> = rest
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .next()
            .unwrap_or_default()
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        // `use crate::x::{a, b}` names modules inside the braces too
        let braces = rest.find('{').filter(|&b| {
            rest[..b]
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == ':')
        });
        let mut candidates = vec![path.clone()];
        if let Some(b) = braces {
            let end = rest[b..].find('}').map_or(rest.len(), |e| b + e);
            for item in rest[b + 1..end].split(',') {
                let item = item.trim().split(" as ").next().unwrap_or_default().trim();
                let mut p = path.clone();
                p.extend(
                    item.split("::")
                        .filter(|s| !s.is_empty() && *s != "self")
                        .map(str::to_string),
                );
                candidates.push(p);
            }
        }
        for c in candidates {
            if let Some(m) = (1..=c.len())
                .rev()
                .map(|n| c[..n].to_vec())
                .find(|m| known.contains(m))
            {
                out.insert(m);
            }
        }
    }
    out
}

/// What the floor plan forbids in `code` (each module's non-test code):
/// imports against the layers, a stage importing another, adapters and
/// recommend importing each other, and the first import circle found.
fn violations(code: &BTreeMap<Module, String>) -> (Vec<String>, Option<String>) {
    let known: BTreeSet<Module> = code.keys().cloned().collect();
    let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for (module, text) in code {
        if module.is_empty() {
            continue;
        }
        let top = &module[0];
        let Some(from) = layer(top) else {
            wrong.push(format!("{} is in no layer", module.join("::")));
            continue;
        };
        let uses = imports(text, &known);
        for used in &uses {
            let to_top = &used[0];
            let to = layer(to_top).unwrap_or(0);
            let same_top = to_top == top;
            let allowed = same_top || to < from;
            let stage = |m: &Module| (m[0] == "stages").then(|| m.get(1).cloned()).flatten();
            let stage_to_stage = matches!((stage(module), stage(used)), (Some(a), Some(b)) if a != b);
            let sideways =
                (top == "adapters" && to_top == "recommend") || (top == "recommend" && to_top == "adapters");
            if !allowed || stage_to_stage || sideways {
                wrong.push(format!("{} imports {}", module.join("::"), used.join("::")));
            }
        }
        graph.insert(
            module.clone(),
            uses.into_iter()
                .filter(|u| u != module && !module.starts_with(u))
                .collect(),
        );
    }
    (wrong, circle(&graph))
}

/// The first import circle, by a depth-first search for a back edge.
fn circle(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<String> {
    fn visit(
        m: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        state: &mut BTreeMap<Module, u8>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<String>> {
        match state.get(m) {
            Some(2) => return None,
            Some(1) => {
                let start = stack.iter().position(|s| s == m).unwrap_or(0);
                let mut names: Vec<String> = stack[start..].iter().map(|s| s.join("::")).collect();
                names.push(m.join("::"));
                return Some(names);
            }
            _ => {}
        }
        state.insert(m.clone(), 1);
        stack.push(m.clone());
        for next in graph.get(m).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, state, stack) {
                return Some(circle);
            }
        }
        stack.pop();
        state.insert(m.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    graph
        .keys()
        .find_map(|m| visit(m, graph, &mut state, &mut Vec::new()))
        .map(|c| c.join(" -> "))
}

/// Every library module's non-test code, by module path.
fn library() -> BTreeMap<Module, String> {
    let mut files = BTreeMap::new();
    modules(&src(), &[], &mut files);
    assert!(files.len() > 40, "found only {} modules", files.len());
    files
        .into_iter()
        .filter(|(_, path)| !is_test_file(path))
        .map(|(m, path)| (m, code(&path)))
        .collect()
}

fn m(path: &str) -> Module {
    path.split("::").map(str::to_string).collect()
}

#[test]
fn imports_go_one_way_and_round_no_circle() {
    let (wrong, circle) = violations(&library());
    assert!(
        wrong.is_empty(),
        "imports against the floor plan:\n{}",
        wrong.join("\n")
    );
    assert_eq!(circle, None, "an import circle");
}

/// The check, on the real library with one planted import of each kind it
/// forbids, names exactly that import.
#[test]
fn the_check_fails_on_each_planted_violation() {
    let clean = library();
    for module in [
        "stages::train::gate",
        "stages::save",
        "contract::names",
        "recommend::ease",
        "adapters::open",
    ] {
        assert!(
            clean.contains_key(&m(module)),
            "{module} is no longer a module: plant elsewhere"
        );
    }
    let plant = |module: &str, line: &str| {
        let mut code = clean.clone();
        code.get_mut(&m(module)).unwrap().push_str(line);
        violations(&code)
    };

    // a stage importing another
    let (wrong, _) = plant("stages::train::gate", "use crate::stages::save::Outcome;\n");
    assert_eq!(wrong, ["stages::train::gate imports stages::save"]);

    // an upward import: the contract naming an adapter
    let (wrong, _) = plant("contract::names", "let s = crate::adapters::open::open(x);\n");
    assert_eq!(wrong, ["contract::names imports adapters::open"]);

    // sideways: a recommender reaching an adapter
    let (wrong, _) = plant("recommend::ease", "use crate::adapters::sdk::client;\n");
    assert_eq!(wrong, ["recommend::ease imports adapters::sdk"]);

    // a circle inside one layer, where the layer rule allows both imports
    let mut code = clean.clone();
    code.get_mut(&m("recommend::ease"))
        .unwrap()
        .push_str("use crate::recommend::hybrid::Hybrid;\n");
    code.get_mut(&m("recommend::hybrid"))
        .unwrap()
        .push_str("use crate::recommend::ease::Ease;\n");
    let (wrong, circle) = violations(&code);
    assert!(wrong.is_empty(), "{wrong:?}");
    let circle = circle.expect("the planted circle is found");
    assert!(
        circle.contains("recommend::ease") && circle.contains("recommend::hybrid"),
        "{circle}"
    );

    // a module outside every layer
    let mut code = clean.clone();
    code.insert(m("helpers"), String::new());
    let (wrong, _) = violations(&code);
    assert_eq!(wrong, ["helpers is in no layer"]);
}

/// The import reader names modules by their longest known path, inside
/// braces too.
#[test]
fn imports_are_read_by_their_longest_module_path() {
    let known: BTreeSet<Module> = ["contract::a", "contract::b", "stages::train", "stages::save"]
        .into_iter()
        .map(m)
        .collect();
    let uses = imports(
        "use crate::contract::{a, b::X};\nlet x = crate::stages::save::thing();",
        &known,
    );
    let names: Vec<String> = uses.iter().map(|u| u.join("::")).collect();
    assert_eq!(names, ["contract::a", "contract::b", "stages::save"]);
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file a newcomer reads in one sitting: no source file of the library,
/// the CLI or a function is over 500 lines. Test code is exempt, and only
/// what is compiled for tests alone counts as test code (checked too).
#[test]
fn no_source_file_is_over_500_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("shared/src"), &mut files);
    rust_files(&root.join("src"), &mut files);
    for f in std::fs::read_dir(root.join("functions")).unwrap() {
        rust_files(&f.unwrap().path().join("src"), &mut files);
    }
    assert!(files.len() > 100, "found only {} files", files.len());
    let mut long = Vec::new();
    let mut exempt_not_test = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim();
            let declares_exempt = ["tests", "fuzz", "fake", "conformance"]
                .iter()
                .any(|m| t.ends_with(&format!("mod {m};")));
            let under_cfg_test = i > 0 && lines[i - 1].trim() == "#[cfg(test)]";
            if declares_exempt && !under_cfg_test {
                exempt_not_test.push(format!("{}:{}", path.display(), i + 1));
            }
        }
        if !is_test_file(path) && lines.len() > 500 {
            long.push(format!(
                "{} ({} lines)",
                path.strip_prefix(root).unwrap().display(),
                lines.len()
            ));
        }
    }
    assert!(
        exempt_not_test.is_empty(),
        "test-named modules compiled outside tests: {exempt_not_test:?}"
    );
    assert!(long.is_empty(), "files over 500 lines:\n{}", long.join("\n"));
}

/// The contract is what every part agrees on, so it names no driver or
/// service library: their errors reach it as boxed sources, made by the
/// adapters (a planted import is seen, too).
#[test]
fn the_contract_names_no_driver_or_service_library() {
    const DRIVERS: [&str; 6] = [
        "sqlx::",
        "polars::",
        "aws_sdk_",
        "aws_config::",
        "reqwest::",
        "lambda_runtime::",
    ];
    let named = |code: &BTreeMap<Module, String>| -> Vec<String> {
        code.iter()
            .filter(|(m, _)| m.first().is_some_and(|t| t == "contract"))
            .flat_map(|(m, text)| {
                DRIVERS
                    .iter()
                    .filter(|d| text.contains(*d))
                    .map(move |d| format!("{} names {d}", m.join("::")))
            })
            .collect()
    };
    let mut code = library();
    assert_eq!(named(&code), Vec::<String>::new());
    code.get_mut(&m("contract::error"))
        .unwrap()
        .push_str("source: sqlx::Error,\n");
    assert_eq!(named(&code), ["contract::error names sqlx::"]);
}

/// ARCHITECTURE.md's "where a change goes" names only files and folders
/// that exist (in the library's `src/`, the library or the repository).
#[test]
fn the_where_a_change_goes_table_names_real_paths() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let start = doc.find("## Where a change goes").expect("the section");
    let section = &doc[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let mut checked = 0;
    let mut missing = Vec::new();
    for token in section.split('`').skip(1).step_by(2) {
        let looks_like_path = token.contains('/') || token.ends_with(".rs");
        if !looks_like_path || token.contains(['*', '<', ' ']) {
            continue;
        }
        let found = [root.join("shared/src"), root.join("shared"), root.to_path_buf()]
            .iter()
            .any(|base| base.join(token).exists());
        checked += 1;
        if !found {
            missing.push(token.to_string());
        }
    }
    assert!(checked > 25, "only {checked} paths in the table");
    assert!(
        missing.is_empty(),
        "the table names paths that do not exist: {missing:?}"
    );
}
