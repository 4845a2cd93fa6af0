//! A JSON syntax check (RFC 8259) that builds nothing.
//!
//! Fetch must quarantine lines whose `contexts` is not JSON, but on almost
//! every line it needs nothing from that JSON (only AMP lines carry an id in
//! it). Checking the syntax alone is several times faster than deserialising,
//! and fetch's throughput depends on it. It accepts exactly what serde_json
//! accepts (a property test holds it to that), with no nesting limit (an
//! explicit stack, not recursion).

use std::fmt;

use wide::{u8x32, CmpEq};

use crate::stages::fetch::snowplow::byte_blocks::block_at;

/// Why the text is not JSON, and where (byte offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError {
    pub what: &'static str,
    pub at: usize,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    Object,
    Array,
}

/// The open containers, innermost last: the first 64 levels as bits (no
/// allocation for the shallow JSON of real lines), deeper ones in a `Vec`.
#[derive(Default)]
struct Stack {
    /// Bit `i` set: level `i` is an array.
    shallow: u64,
    depth: usize,
    deeper: Vec<Open>,
}

impl Stack {
    fn push(&mut self, open: Open) {
        if self.depth < 64 {
            let bit = 1u64 << self.depth;
            match open {
                Open::Array => self.shallow |= bit,
                Open::Object => self.shallow &= !bit,
            }
        } else {
            self.deeper.push(open);
        }
        self.depth += 1;
    }

    fn pop(&mut self) {
        if self.depth > 64 {
            self.deeper.pop();
        }
        self.depth = self.depth.saturating_sub(1);
    }

    fn last(&self) -> Option<Open> {
        match self.depth {
            0 => None,
            d if d <= 64 => Some(if self.shallow & (1 << (d - 1)) != 0 {
                Open::Array
            } else {
                Open::Object
            }),
            _ => self.deeper.last().copied(),
        }
    }
}

/// Checks that `text` is one JSON value, with optional whitespace around it.
///
/// # Errors
/// The first syntax error.
pub fn check(text: impl AsRef<[u8]>) -> Result<(), SyntaxError> {
    let b = text.as_ref();
    let mut stack = Stack::default();
    let mut i = skip_ws(b, 0);
    'value: loop {
        // a value starts at i
        match b.get(i) {
            Some(b'{') => {
                i = skip_ws(b, i + 1);
                if b.get(i) == Some(&b'}') {
                    i += 1;
                } else {
                    stack.push(Open::Object);
                    i = key(b, i)?;
                    continue 'value;
                }
            }
            Some(b'[') => {
                i = skip_ws(b, i + 1);
                if b.get(i) == Some(&b']') {
                    i += 1;
                } else {
                    stack.push(Open::Array);
                    continue 'value;
                }
            }
            Some(b'"') => i = string(b, i)?,
            Some(b't') => i = literal(b, i, b"true")?,
            Some(b'f') => i = literal(b, i, b"false")?,
            Some(b'n') => i = literal(b, i, b"null")?,
            Some(b'-' | b'0'..=b'9') => i = number(b, i)?,
            Some(_) => return Err(err("expected value", i)),
            None => return Err(err("EOF while parsing a value", i)),
        }
        // after a value: close containers or go on to the next member
        loop {
            i = skip_ws(b, i);
            match stack.last() {
                None => {
                    return if i == b.len() {
                        Ok(())
                    } else {
                        Err(err("trailing characters", i))
                    };
                }
                Some(Open::Array) => match b.get(i) {
                    Some(b',') => {
                        i = skip_ws(b, i + 1);
                        continue 'value;
                    }
                    Some(b']') => {
                        stack.pop();
                        i += 1;
                    }
                    Some(_) => return Err(err("expected `,` or `]`", i)),
                    None => return Err(err("EOF while parsing a list", i)),
                },
                Some(Open::Object) => match b.get(i) {
                    Some(b',') => {
                        i = key(b, skip_ws(b, i + 1))?;
                        continue 'value;
                    }
                    Some(b'}') => {
                        stack.pop();
                        i += 1;
                    }
                    Some(_) => return Err(err("expected `,` or `}`", i)),
                    None => return Err(err("EOF while parsing an object", i)),
                },
            }
        }
    }
}

fn err(what: &'static str, at: usize) -> SyntaxError {
    SyntaxError { what, at }
}

#[inline(always)]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// A member's key and its colon; returns where the value starts.
#[inline]
fn key(b: &[u8], i: usize) -> Result<usize, SyntaxError> {
    match b.get(i) {
        Some(b'"') => {}
        Some(_) => return Err(err("key must be a string", i)),
        None => return Err(err("EOF while parsing an object", i)),
    }
    let i = skip_ws(b, string(b, i)?);
    match b.get(i) {
        Some(b':') => Ok(skip_ws(b, i + 1)),
        Some(_) => Err(err("expected `:`", i)),
        None => Err(err("EOF while parsing an object", i)),
    }
}

/// A string starting at the quote at `i`; returns the index after its closing quote.
#[inline]
fn string(b: &[u8], i: usize) -> Result<usize, SyntaxError> {
    let mut i = i + 1;
    loop {
        let Some(at) = special(b, i) else {
            return Err(err("EOF while parsing a string", b.len()));
        };
        i = at;
        match b[i] {
            b'"' => return Ok(i + 1),
            b'\\' => match b.get(i + 1) {
                Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                Some(b'u') => {
                    for k in i + 2..i + 6 {
                        match b.get(k) {
                            Some(c) if c.is_ascii_hexdigit() => {}
                            Some(_) => return Err(err("invalid escape", k)),
                            None => return Err(err("EOF while parsing a string", k)),
                        }
                    }
                    i += 6;
                }
                Some(_) => return Err(err("invalid escape", i + 1)),
                None => return Err(err("EOF while parsing a string", i + 1)),
            },
            _ => return Err(err("control character while parsing a string", i)),
        }
    }
}

/// The first byte from `i` on that ends a run of plain string characters: a
/// quote, a backslash or a control character; `None` at the end of the text.
/// 32 bytes at a time (strings such as schema URIs are long), the last ones
/// padded with zeros, which count as control characters and so stop the
/// search at the end.
#[inline(always)]
fn special(b: &[u8], mut i: usize) -> Option<usize> {
    let (quote, backslash, space) = (u8x32::splat(b'"'), u8x32::splat(b'\\'), u8x32::splat(0x1f));
    loop {
        let v = u8x32::new(block_at(b, i));
        let mask = (v.cmp_eq(quote) | v.cmp_eq(backslash) | v.min(space).cmp_eq(v)).move_mask();
        if mask != 0 {
            let at = i + mask.trailing_zeros() as usize;
            return (at < b.len()).then_some(at);
        }
        i += 32;
    }
}

fn literal(b: &[u8], i: usize, word: &[u8]) -> Result<usize, SyntaxError> {
    for (k, &c) in word.iter().enumerate() {
        match b.get(i + k) {
            Some(&x) if x == c => {}
            Some(_) => return Err(err("expected ident", i + k)),
            None => return Err(err("EOF while parsing a value", i + k)),
        }
    }
    Ok(i + word.len())
}

/// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
fn number(b: &[u8], mut i: usize) -> Result<usize, SyntaxError> {
    let digits = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    if b[i] == b'-' {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(i + 1),
        Some(_) => return Err(err("invalid number", i)),
        None => return Err(err("EOF while parsing a value", i)),
    }
    if b.get(i) == Some(&b'.') {
        let end = digits(i + 1);
        if end == i + 1 {
            return Err(if end == b.len() {
                err("EOF while parsing a value", end)
            } else {
                err("invalid number", end)
            });
        }
        i = end;
    }
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = b.get(i) {
            i += 1;
        }
        let end = digits(i);
        if end == i {
            return Err(if end == b.len() {
                err("EOF while parsing a value", end)
            } else {
                err("invalid number", end)
            });
        }
        i = end;
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn serde_accepts(s: &str) -> bool {
        serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok()
    }

    #[test]
    fn accepts_json_and_says_where_it_is_not() {
        for ok in [
            "{}",
            " [ ] ",
            r#"{"schema":"iglu:x","data":[{"a":1.5e-3,"b":[true,false,null],"c":"\u00e9\n"}]}"#,
            "-0",
            "0.5E+10",
            "\"\"",
            "[[[[]]]]",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        assert_eq!(check(r#"{"schema":"#), Err(err("EOF while parsing a value", 10)));
        assert_eq!(check("{\"a\" 1}"), Err(err("expected `:`", 5)));
        assert_eq!(check("[1,]"), Err(err("expected value", 3)));
        assert_eq!(check("{} x"), Err(err("trailing characters", 3)));
        assert_eq!(check("01"), Err(err("trailing characters", 1)));
        assert_eq!(
            check("\"a\tb\""),
            Err(err("control character while parsing a string", 2))
        );
        assert_eq!(check(""), Err(err("EOF while parsing a value", 0)));
    }

    #[test]
    fn deep_nesting_is_no_problem() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(check(deep), Ok(()));
        assert!(check("[".repeat(100_000)).is_err());
    }

    /// Objects and arrays alternate below and beyond the 64 levels kept as
    /// bits; each closer must match its own opener at every depth.
    #[test]
    fn containers_close_in_order_at_every_depth() {
        for depth in [1, 63, 64, 65, 100] {
            let open: String = (0..depth)
                .map(|i| if i % 3 == 0 { "[" } else { "{\"k\":" })
                .collect();
            let close: String = (0..depth)
                .rev()
                .map(|i| if i % 3 == 0 { "]" } else { "}" })
                .collect();
            let valid = format!("{open}1{close}");
            assert_eq!(check(&valid), Ok(()), "depth {depth}");
            assert!(serde_accepts(&valid));
            for wrong_at in [0, depth / 2, depth - 1] {
                let mut bad: Vec<char> = close.chars().collect();
                bad[wrong_at] = if bad[wrong_at] == ']' { '}' } else { ']' };
                let bad = format!("{open}1{}", bad.into_iter().collect::<String>());
                assert!(check(&bad).is_err(), "depth {depth}, closer {wrong_at}");
                assert!(!serde_accepts(&bad));
            }
        }
    }

    /// Text built from JSON's own pieces, so that most cases are near-valid.
    fn jsonish() -> impl Strategy<Value = String> {
        let piece = prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            ",",
            ":",
            "\"",
            "\"a\"",
            "\"\\u00e9\"",
            "\\",
            "\\n",
            "\\x",
            "1",
            "-",
            "0",
            ".",
            "e",
            "E",
            "+",
            "12.5",
            "true",
            "fals",
            "null",
            " ",
            "\t",
            "\n",
            "x",
            "\u{1}",
            "é",
        ]);
        prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
    }

    /// Valid JSON values, to check that nothing valid is refused.
    fn value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_string()),
            any::<bool>().prop_map(|b| b.to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| f.to_string()),
            any::<i64>().prop_map(|i| i.to_string()),
            any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(" , "))),
                prop::collection::vec((any::<String>(), inner), 0..6).prop_map(|v| {
                    let members: Vec<String> = v
                        .into_iter()
                        .map(|(k, x)| format!("{}:{x}", serde_json::to_string(&k).unwrap_or_default()))
                        .collect();
                    format!("{{ {} }}", members.join(","))
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn agrees_with_serde_json_on_near_json(s in jsonish()) {
            prop_assert_eq!(check(&s).is_ok(), serde_accepts(&s), "{:?}", s);
        }

        #[test]
        fn agrees_with_serde_json_on_arbitrary_text(s in any::<String>()) {
            prop_assert_eq!(check(&s).is_ok(), serde_accepts(&s), "{:?}", s);
        }

        #[test]
        fn accepts_every_valid_value(s in value()) {
            prop_assert!(serde_accepts(&s), "generator made invalid JSON: {}", s);
            prop_assert_eq!(check(&s), Ok(()), "{}", s);
        }
    }
}
