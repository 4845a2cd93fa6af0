//! Splits a tab-separated line into a fixed number of fields.
//!
//! Snowplow lines have 131 fields, mostly empty, so a line of 1 KB holds a tab
//! every 8 bytes or so: searching for each tab in turn (`memchr`) pays a call
//! per tab and was a third of fetch's parsing time. This compares 16 bytes at
//! a time (SSE2 or NEON through the `wide` crate, no unsafe code) and takes the
//! tabs' positions from the bit mask.

use wide::u8x16;

/// The fields of one line; fields are looked up by index, without copying.
#[derive(Debug, Clone)]
pub struct Fields<'a, const N: usize> {
    line: &'a str,
    /// Where each field but the last ends (the tab after it).
    tabs: [u32; N],
}

impl<'a, const N: usize> Fields<'a, N> {
    /// Splits `line` into exactly `N` fields.
    ///
    /// # Errors
    /// The number of fields the line has, when it is not `N`.
    #[inline]
    pub fn split(line: &'a str) -> Result<Self, usize> {
        let b = line.as_bytes();
        if N == 0 || u32::try_from(b.len()).is_err() {
            return Err(memchr::memchr_iter(b'\t', b).count() + 1);
        }
        let mut tabs = [0u32; N];
        let mut n = 0;
        let mut blocks = b.chunks_exact(16);
        let mut base = 0u32;
        for block in &mut blocks {
            let mut mask = tab_mask(block);
            while mask != 0 {
                if n == N - 1 {
                    return Err(memchr::memchr_iter(b'\t', b).count() + 1);
                }
                tabs[n] = base + mask.trailing_zeros();
                n += 1;
                mask &= mask - 1;
            }
            base += 16;
        }
        for (i, &c) in (0u32..).zip(blocks.remainder()) {
            if c == b'\t' {
                if n == N - 1 {
                    return Err(memchr::memchr_iter(b'\t', b).count() + 1);
                }
                tabs[n] = base + i;
                n += 1;
            }
        }
        if n != N - 1 {
            return Err(n + 1);
        }
        // the last field ends at the end of the line
        tabs[N - 1] = base + blocks.remainder().len() as u32;
        Ok(Fields { line, tabs })
    }

    /// Field `i` (empty when `i` is out of range).
    pub fn get(&self, i: usize) -> &'a str {
        let Some(&end) = self.tabs.get(i) else {
            return "";
        };
        let start = if i == 0 { 0 } else { self.tabs[i - 1] + 1 };
        // tabs are ASCII, so both ends are character boundaries
        self.line.get(start as usize..end as usize).unwrap_or_default()
    }
}

/// Bit `i` set where `block[i]` is a tab.
fn tab_mask(block: &[u8]) -> u32 {
    let bytes: [u8; 16] = block.try_into().unwrap_or([0; 16]);
    // move_mask gives the sign bit of each of the 16 lanes: 16 bits
    u8x16::new(bytes).cmp_eq(u8x16::splat(b'\t')).move_mask() as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(line: &str) -> Vec<&str> {
        line.split('\t').collect()
    }

    fn check<const N: usize>(line: &str) -> Result<(), TestCaseError> {
        let expected = naive(line);
        match Fields::<N>::split(line) {
            Ok(f) => {
                prop_assert_eq!(expected.len(), N);
                for (i, e) in expected.iter().enumerate() {
                    prop_assert_eq!(f.get(i), *e);
                }
                prop_assert_eq!(f.get(N), "");
            }
            Err(n) => {
                prop_assert_ne!(expected.len(), N);
                prop_assert_eq!(n, expected.len());
            }
        }
        Ok(())
    }

    #[test]
    fn fields_at_block_edges() {
        for len in 0..70 {
            let mut line = "a".repeat(len);
            for at in [0, 15, 16, 17, 31, 32, 33, 47] {
                if at < len {
                    line.replace_range(at..=at, "\t");
                }
            }
            check::<4>(&line).unwrap();
            check::<5>(&line).unwrap();
            check::<9>(&line).unwrap();
        }
        assert_eq!(Fields::<3>::split("é\tü\t").unwrap().get(1), "ü");
        assert_eq!(Fields::<3>::split("\t\t\t\t").err(), Some(5));
        assert_eq!(Fields::<3>::split("").err(), Some(1));
        assert_eq!(Fields::<1>::split("abc").unwrap().get(0), "abc");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn agrees_with_str_split(parts in prop::collection::vec("[a-cé\u{1F600}\t]{0,20}", 0..40)) {
            let line = parts.join("\t");
            check::<7>(&line)?;
            check::<40>(&line)?;
            check::<131>(&line)?;
        }
    }
}
