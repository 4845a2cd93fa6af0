//! The static article catalogue: one JSON object a line, for sites without an
//! API and for local runs. Articles seen in events but missing here still count;
//! they just have no title or publish time.

use crate::contract::error::{Error, Result};
use crate::contract::site::CatalogEntry;

/// Parses a JSON-lines catalogue. Blank lines are ignored.
///
/// # Errors
/// `InvalidInput` naming the first line that is not a catalogue entry.
pub fn parse(text: &str) -> Result<Vec<CatalogEntry>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| Error::InvalidInput(format!("catalogue line {}: {e}", i + 1)))
        })
        .collect()
}

/// Writes entries as JSON lines.
///
/// # Errors
/// `Bug` if an entry cannot be serialised (it always can).
pub fn to_jsonl(entries: &[CatalogEntry]) -> Result<String> {
    let mut out = String::new();
    for e in entries {
        out.push_str(&serde_json::to_string(e).map_err(|e| Error::Bug(e.to_string()))?);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reports_bad_lines() {
        let e = CatalogEntry {
            external_id: "7".into(),
            path: "/article/7/x".into(),
            title: Some("Seven".into()),
            published_at: Some("2026-01-01T00:00:00Z".parse().unwrap()),
            exclude_reason: None,
            excerpt: Some("Seven things".into()),
            section: Some("News".into()),
            tags: vec!["Budget".into()],
        };
        let text = to_jsonl(std::slice::from_ref(&e)).unwrap();
        assert_eq!(parse(&text).unwrap(), vec![e]);
        // the text fields are optional
        let bare = parse(r#"{"external_id":"8","path":"/article/8/x"}"#).unwrap();
        assert_eq!((bare[0].excerpt.as_ref(), bare[0].tags.len()), (None, 0));
        let err = parse("\n{\"external_id\":\"1\"}\n").unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
    }
}
