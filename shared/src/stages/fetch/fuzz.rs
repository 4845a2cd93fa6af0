//! Property tests that feed arbitrary input to the parsers: whatever arrives,
//! they return a value or a reason, never panic. Run with the other tests;
//! `PROPTEST_CASES=100000 cargo test -p article-rec-core fuzz` for a longer run.

use proptest::prelude::*;

use crate::contract::layout::ObjectKey;
use crate::stages::fetch::hour_batch::EventBatch;
use crate::stages::fetch::snowplow::fields::FIELD_COUNT;
use crate::stages::fetch::snowplow::tsv::LineReader;
use crate::stages::fetch::snowplow::{parse, parse_line, parse_tstamp, READ};

fn valid_line() -> String {
    crate::stages::fetch::snowplow::tests::line(&[("derived_tstamp", "2026-01-08 10:00:00.000")])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn line_parser_survives_arbitrary_text(s in any::<String>()) {
        let _ = parse_line(&s, "site");
        let _ = parse_line(&s, "*");
    }

    /// Raw bytes, not only text: invalid UTF-8 and bytes of 0x80 and above
    /// anywhere, tabs often enough to reach the field checks.
    #[test]
    fn line_parser_survives_arbitrary_bytes(
        bytes in prop::collection::vec(prop_oneof![3 => any::<u8>(), 1 => Just(b'\t')], 0..1500)
    ) {
        let _ = parse_line(&bytes, "site");
        let _ = parse_line(&bytes, "*");
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

proptest! {
    // long texts of short lines: each case splits thousands of lines
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// One reader over any bytes: every line moves it forward and is the
    /// text up to the next newline. Newlines are rare in some texts so that
    /// lines longer than the reader's tables (4 KiB) come up too.
    #[test]
    fn line_reader_survives_arbitrary_bytes(
        texts in prop::collection::vec(
            (1u32..200).prop_flat_map(|newline_weight| prop::collection::vec(
                prop_oneof![400 => any::<u8>(), 100 => Just(b'\t'), newline_weight => Just(b'\n')],
                0..6000,
            )),
            1..4,
        )
    ) {
        let mut reader = LineReader::default();
        for text in &texts {
            let mut at = 0;
            while at < text.len() {
                let line = reader.first(&text[at..], &READ);
                prop_assert!(line.consumed > 0);
                prop_assert!(line.consumed <= text.len() - at);
                prop_assert_eq!(&text[at..at + line.bytes.len()], line.bytes);
                prop_assert!(!line.bytes.contains(&b'\n'));
                let _ = parse(&line, "site");
                at += line.consumed;
            }
        }
    }
}
