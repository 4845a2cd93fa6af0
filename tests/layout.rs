//! The library's floor plan holds: imports go one way (contract <- adapters
//! and recommend <- the stages <- run), no stage imports another, and no two
//! modules import each other, directly or round a circle. Read from the
//! `crate::` paths of every source file (tests excepted: they may reach
//! anywhere).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const STAGES: [&str; 5] = ["fetch", "preprocess", "defaults", "train", "save"];

/// The layer of a top-level module; a module may import only lower layers
/// (and itself). Adapters and recommend share a layer and ignore each other.
fn layer(top: &str) -> Option<u8> {
    match top {
        "contract" => Some(0),
        "adapters" | "recommend" => Some(1),
        t if STAGES.contains(&t) => Some(2),
        "run" => Some(3),
        "devtools" => Some(4),
        _ => None,
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("shared/src")
}

/// Module path (`contract::settings`) of every source file.
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
fn imports(code: &str, known: &BTreeMap<Vec<String>, PathBuf>) -> BTreeSet<Vec<String>> {
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
                .find(|m| known.contains_key(m))
            {
                out.insert(m);
            }
        }
    }
    out
}

#[test]
fn imports_go_one_way_and_round_no_circle() {
    let mut known = BTreeMap::new();
    modules(&src(), &[], &mut known);
    assert!(known.len() > 40, "found only {} modules", known.len());
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for (module, path) in &known {
        if is_test_file(path) || module.is_empty() {
            continue;
        }
        let top = &module[0];
        let from = layer(top).unwrap_or_else(|| panic!("{} is in no layer", path.display()));
        let uses = imports(&code(path), &known);
        for used in &uses {
            let to_top = &used[0];
            let to = layer(to_top).unwrap_or(0);
            let same_top = to_top == top;
            let allowed = same_top || to < from;
            let stage_to_stage =
                STAGES.contains(&top.as_str()) && STAGES.contains(&to_top.as_str()) && !same_top;
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
    assert!(
        wrong.is_empty(),
        "imports against the floor plan:\n{}",
        wrong.join("\n")
    );

    // no circle: depth-first search for a back edge
    fn visit(
        m: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        match state.get(m) {
            Some(2) => return None,
            Some(1) => {
                let start = stack.iter().position(|s| s == m).unwrap_or(0);
                return Some(stack[start..].iter().map(|s| s.join("::")).collect());
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
    for m in graph.keys() {
        if let Some(circle) = visit(m, &graph, &mut state, &mut Vec::new()) {
            panic!("an import circle: {}", circle.join(" -> "));
        }
    }
}

/// The check itself finds what it must: a made-up module list with a stage
/// importing another, an adapter importing a stage, and a circle.
#[test]
fn the_check_sees_a_wrong_import() {
    let known: BTreeMap<Vec<String>, PathBuf> = ["contract::a", "contract::b", "train", "save"]
        .iter()
        .map(|m| (m.split("::").map(str::to_string).collect(), PathBuf::new()))
        .collect();
    let uses = imports(
        "use crate::contract::{a, b::X};\nlet x = crate::save::thing();",
        &known,
    );
    let names: Vec<String> = uses.iter().map(|u| u.join("::")).collect();
    assert_eq!(names, ["contract::a", "contract::b", "save"]);
}
