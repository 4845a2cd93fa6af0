//! Property tests that feed arbitrary input to the parsers: whatever arrives,
//! they return a value or a reason, never panic. Run with the other tests;
//! `PROPTEST_CASES=100000 cargo test -p article-rec-core fuzz` for a longer run.

use proptest::prelude::*;

use crate::events::EventBatch;
use crate::layout::ObjectKey;
use crate::snowplow::{parse_line, parse_tstamp};
use crate::snowplow_fields::FIELD_COUNT;

fn valid_line() -> String {
    crate::snowplow::tests::line(&[("derived_tstamp", "2026-01-08 10:00:00.000")])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn line_parser_survives_arbitrary_text(s in any::<String>()) {
        let _ = parse_line(&s, "site");
        let _ = parse_line(&s, "");
    }

    /// Lines with the right shape but arbitrary values in some fields reach the
    /// deeper checks (timestamps, JSON, ids, paths).
    #[test]
    fn line_parser_survives_arbitrary_field_values(
        edits in prop::collection::vec((0..FIELD_COUNT, any::<String>()), 1..8)
    ) {
        let base = valid_line();
        let mut cols: Vec<String> = base.split('\t').map(str::to_string).collect();
        for (i, v) in edits {
            cols[i] = v;
        }
        let line = cols.join("\t");
        let _ = parse_line(&line, "site");
    }

    #[test]
    fn timestamp_parser_survives_arbitrary_text(s in any::<String>()) {
        if let Some(ms) = parse_tstamp(&s) {
            prop_assert!(ms > i64::MIN / 2);
        }
    }

    /// Any bytes, with or without a gzip header, are an object to read.
    #[test]
    fn object_reader_survives_arbitrary_bytes(mut bytes in prop::collection::vec(any::<u8>(), 0..2048), gz in any::<bool>()) {
        if gz {
            bytes.splice(0..0, [0x1f, 0x8b, 8, 0]);
        }
        let key = ObjectKey::from_listing("fuzz/object").unwrap();
        let mut batch = EventBatch::new("site");
        batch.add_object(&key, &bytes);
        prop_assert!(batch.counts.lines >= batch.counts.events);
        prop_assert_eq!(batch.counts.lines, batch.counts.accounted());
    }
}
