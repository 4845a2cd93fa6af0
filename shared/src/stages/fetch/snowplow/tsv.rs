//! Finds the next line of a tab-separated text and the fields of it a caller
//! reads, in one pass over its bytes.
//!
//! Snowplow lines have 131 fields, mostly empty, so a line of 1 KB holds a tab
//! every 8 bytes or so, and fetch reads 13 of the fields. Searching for the
//! line's end, checking it is ASCII and searching for each tab in turn were
//! three passes, and taking each tab's position from a bit mask cost a
//! dependent step (and, with tabs in other places on every line, a
//! mispredicted branch) per tab. Here each 64-byte block is compared once
//! (two 32-byte AVX2 compares through the `wide` crate, no unsafe code; four
//! 16-byte ones where AVX2 is not compiled in) for tabs, newlines and bytes
//! of 0x80 and above; per block only its tab mask and running tab count are
//! kept. The positions of the tabs that bound wanted fields are then taken
//! directly, without a branch: which block holds tab `t` is recorded by
//! letting every block mark the tab numbers from its first one on, so the
//! last to write a number is the block that holds it, and the tab's place in
//! the block is a rank query on the block's mask ([`select`]).

use wide::{u8x32, CmpEq};

use crate::stages::fetch::snowplow::byte_blocks::block_at;

/// Most fields a line may have (the bit sets and tables below are sized for it).
pub const MAX_FIELDS: usize = 192;
/// Most fields a caller may read: each needs at most two tab positions.
const MAX_WANTED: usize = 16;
const MAX_SLOTS: usize = 2 * MAX_WANTED;
/// Lines up to this many 64-byte blocks (4 KiB) take the fast path; longer
/// ones (rare: a line with many context entities) a simple scan.
const MAX_BLOCKS: usize = 64;

/// The fields of an `N`-field line that a caller reads.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<const N: usize> {
    /// Bit `i`: field `i` is wanted.
    fields: [u64; 3],
    /// The tabs whose positions are needed (tab `t` ends field `t`), ascending.
    tabs: [u8; MAX_SLOTS],
    slots: usize,
    /// Per field: the slot of the tab before it and of the tab after it.
    start: [u8; N],
    end: [u8; N],
}

impl<const N: usize> Wanted<N> {
    /// # Panics
    /// At compile time (in a `const`) when `N` is 0 or over [`MAX_FIELDS`],
    /// an index is not below `N`, or more than 16 fields are asked for.
    pub const fn new(fields: &[usize]) -> Wanted<N> {
        assert!(N > 0 && N <= MAX_FIELDS, "fields per line must be 1 to 192");
        assert!(fields.len() <= MAX_WANTED, "at most 16 fields can be read");
        let mut w = Wanted {
            fields: [0; 3],
            tabs: [0; MAX_SLOTS],
            slots: 0,
            start: [0; N],
            end: [0; N],
        };
        let mut needed = [false; MAX_FIELDS];
        let mut k = 0;
        while k < fields.len() {
            let i = fields[k];
            assert!(i < N, "field index out of range");
            w.fields[i / 64] |= 1 << (i % 64);
            // field i spans from tab i - 1 to tab i (the last one to the line's end)
            if i > 0 {
                needed[i - 1] = true;
            }
            if i + 1 < N {
                needed[i] = true;
            }
            k += 1;
        }
        let mut slot_of = [0u8; MAX_FIELDS];
        let mut t = 0;
        while t + 1 < N {
            if needed[t] {
                slot_of[t] = w.slots as u8;
                w.tabs[w.slots] = t as u8;
                w.slots += 1;
            }
            t += 1;
        }
        let mut i = 0;
        while i < N {
            if i > 0 {
                w.start[i] = slot_of[i - 1];
            }
            if i + 1 < N {
                w.end[i] = slot_of[i];
            }
            i += 1;
        }
        w
    }

    fn has_field(&self, i: usize) -> bool {
        i < N && self.fields[i / 64] & (1 << (i % 64)) != 0
    }
}

/// The first line of a text: its bytes and the wanted fields' bounds.
#[derive(Debug, Clone)]
pub struct Line<'a, const N: usize> {
    /// The line without its terminator (`\n`, and a `\r` before it).
    pub bytes: &'a [u8],
    /// Bytes of the text the line took, terminator included: where the next
    /// line starts.
    pub consumed: usize,
    /// No byte of the line is 0x80 or above, so it is valid UTF-8.
    pub ascii: bool,
    /// Tabs in the line (its fields less one).
    tabs: usize,
    /// Positions of the needed tabs, by slot (valid when `tabs == N - 1`).
    at: [u32; MAX_SLOTS],
    wanted: &'a Wanted<N>,
}

/// Tabs, newlines and bytes of 0x80 and above in a block, as bit masks.
#[inline]
fn masks(block: &[u8; 64]) -> (u64, u64, u64) {
    let (tab, newline) = (u8x32::splat(b'\t'), u8x32::splat(b'\n'));
    let (halves, _) = block.as_chunks::<32>();
    let (mut tabs, mut newlines, mut high) = (0u64, 0u64, 0u64);
    for (k, half) in halves.iter().enumerate() {
        let v = u8x32::new(*half);
        // move_mask gives the sign bit of each of the 32 lanes
        let bits = |m: u8x32| u64::from(m.move_mask() as u32) << (32 * k);
        tabs |= bits(v.cmp_eq(tab));
        newlines |= bits(v.cmp_eq(newline));
        high |= bits(v);
    }
    (tabs, newlines, high)
}

/// Splits lines one after another. It keeps its per-block tables between
/// lines: each line writes the entries it reads, so they need no clearing
/// (which cost as much as the rest of the split).
#[derive(Debug, Clone)]
pub struct LineReader {
    block_mask: [u64; MAX_BLOCKS],
    block_first: [u32; MAX_BLOCKS],
    /// `block_of[t]`: the block that holds tab `t` (see the module doc).
    block_of: [u8; MAX_FIELDS + 64],
}

impl Default for LineReader {
    fn default() -> Self {
        LineReader {
            block_mask: [0; MAX_BLOCKS],
            block_first: [0; MAX_BLOCKS],
            block_of: [0; MAX_FIELDS + 64],
        }
    }
}

impl LineReader {
    /// The first line of `text`: up to its first `\n`, or all of it.
    #[inline]
    pub fn first<'a, const N: usize>(&mut self, text: &'a [u8], wanted: &'a Wanted<N>) -> Line<'a, N> {
        let (mut tabs, mut high, mut k) = (0usize, 0u64, 0usize);
        let len = loop {
            let at = 64 * k;
            let (t, newlines, h) = masks(&block_at(text, at));
            // only the bytes before the first newline (the padding has none)
            let before = newlines.wrapping_sub(1) & !newlines;
            let t = t & before;
            high |= h & before;
            if k < MAX_BLOCKS {
                self.block_mask[k] = t;
                self.block_first[k] = tabs as u32;
                let from = tabs.min(MAX_FIELDS);
                self.block_of[from..from + 64].fill(k as u8);
            }
            tabs += t.count_ones() as usize;
            k += 1;
            if newlines != 0 {
                break (at + newlines.trailing_zeros() as usize).min(text.len());
            }
            if at + 64 >= text.len() {
                break text.len();
            }
        };
        let consumed = (len + 1).min(text.len());
        let bytes = &text[..len];
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let mut line = Line {
            bytes,
            consumed,
            ascii: high == 0,
            tabs,
            at: [0; MAX_SLOTS],
            wanted,
        };
        if tabs != N - 1 {
            return line;
        }
        if k > MAX_BLOCKS {
            line.find_needed_tabs_slowly();
            return line;
        }
        for s in 0..wanted.slots {
            let t = usize::from(wanted.tabs[s]);
            let b = usize::from(self.block_of[t]) % MAX_BLOCKS;
            let rank = (t as u32).wrapping_sub(self.block_first[b]);
            line.at[s] = 64 * b as u32 + select(self.block_mask[b], rank);
        }
        line
    }
}

impl<'a, const N: usize> Line<'a, N> {
    /// The first line of `text` (with a reader of its own; see [`LineReader`]
    /// to split many).
    pub fn first(text: &'a [u8], wanted: &'a Wanted<N>) -> Line<'a, N> {
        LineReader::default().first(text, wanted)
    }

    /// For lines beyond [`MAX_BLOCKS`]: every tab in turn.
    fn find_needed_tabs_slowly(&mut self) {
        let mut slot = 0;
        for (t, pos) in memchr::memchr_iter(b'\t', self.bytes).enumerate() {
            if slot < self.wanted.slots && usize::from(self.wanted.tabs[slot]) == t {
                self.at[slot] = pos as u32;
                slot += 1;
            }
        }
    }

    /// The wanted fields.
    ///
    /// # Errors
    /// The number of fields the line has, when it is not `N`.
    pub fn fields(&self) -> Result<Fields<'a, '_, N>, usize> {
        if self.tabs == N - 1 {
            Ok(Fields { line: self })
        } else {
            Err(self.tabs + 1)
        }
    }
}

/// The wanted fields of a line with the right number of fields.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a, 'l, const N: usize> {
    line: &'l Line<'a, N>,
}

impl<'a, const N: usize> Fields<'a, '_, N> {
    /// Field `i`, which must be one of the wanted ones (another field's bytes
    /// may come back otherwise; a debug build panics).
    pub fn get(&self, i: usize) -> &'a [u8] {
        let (line, wanted) = (self.line, self.line.wanted);
        // callers ask for the fields they named: checked in tests, not per call
        debug_assert!(wanted.has_field(i), "field {i} was not asked for when splitting");
        if i >= N {
            return b"";
        }
        let start = if i == 0 {
            0
        } else {
            line.at[usize::from(wanted.start[i])] as usize + 1
        };
        let end = if i + 1 == N {
            line.bytes.len()
        } else {
            line.at[usize::from(wanted.end[i])] as usize
        };
        line.bytes.get(start..end).unwrap_or_default()
    }
}

/// Where bit `i` of each byte's rank table is: `SELECT_IN_BYTE[b][r]` is the
/// position of the set bit of rank `r` in the byte `b`.
static SELECT_IN_BYTE: [[u8; 8]; 256] = {
    let mut table = [[0u8; 8]; 256];
    let mut b = 0;
    while b < 256 {
        let (mut rank, mut bit) = (0, 0);
        while bit < 8 {
            if b & (1 << bit) != 0 {
                table[b][rank] = bit as u8;
                rank += 1;
            }
            bit += 1;
        }
        b += 1;
    }
    table
};

/// The position of the set bit of rank `rank` (from 0) in `x`, for
/// `rank < x.count_ones()`. Branch-free: bytes' bit counts summed by one
/// multiplication find the byte, a table the bit in it (BMI2's `pdep` would
/// do it in one instruction, but is microcoded and slow on AMD before Zen 3).
#[inline]
pub fn select(x: u64, rank: u32) -> u32 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut counts = x - ((x >> 1) & 0x5555_5555_5555_5555);
    counts = (counts & 0x3333_3333_3333_3333) + ((counts >> 2) & 0x3333_3333_3333_3333);
    counts = (counts + (counts >> 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    // byte i: set bits in bytes 0..=i (at most 64, so no carries between bytes)
    let through = counts.wrapping_mul(ONES);
    // bytes whose running count is at most `rank` come before the bit's byte
    let at_most = (((u64::from(rank & 63) * ONES) | HIGHS) - through) & HIGHS;
    let byte = at_most.count_ones();
    let before = (((through << 8) >> (8 * byte)) & 0xff) as u32;
    let bits = ((x >> (8 * byte)) & 0xff) as usize;
    8 * byte + u32::from(SELECT_IN_BYTE[bits][(rank.wrapping_sub(before) & 7) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Checks the first line of `text` against splitting by hand, with the
    /// first and the last 32 fields wanted (all of them when `N <= 32`), and
    /// with only `some`.
    fn check<const N: usize>(text: &[u8], some: &[usize]) -> Result<(), TestCaseError> {
        let end = text.iter().position(|&c| c == b'\n');
        let raw = &text[..end.unwrap_or(text.len())];
        let expected_line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let expected: Vec<&[u8]> = expected_line.split(|&c| c == b'\t').collect();
        let head: Vec<usize> = (0..N.min(MAX_WANTED)).collect();
        let tail: Vec<usize> = (N.saturating_sub(MAX_WANTED)..N).collect();
        // a reader that split another line first: stale tables must not show
        let mut reader = LineReader::default();
        let other: String = (0..300).map(|i| if i % 3 == 0 { "\t" } else { "yz" }).collect();
        for wanted in [
            Wanted::<N>::new(&head),
            Wanted::<N>::new(&tail),
            Wanted::<N>::new(some),
        ] {
            reader.first(other.as_bytes(), &wanted);
            let line = reader.first(text, &wanted);
            prop_assert_eq!(line.bytes, expected_line);
            prop_assert_eq!(line.consumed, end.map_or(text.len(), |e| e + 1));
            prop_assert_eq!(line.ascii, expected_line.is_ascii());
            match line.fields() {
                Ok(f) => {
                    prop_assert_eq!(expected.len(), N);
                    for (i, e) in expected.iter().enumerate() {
                        if wanted.has_field(i) {
                            prop_assert_eq!(f.get(i), *e, "field {}", i);
                        }
                    }
                }
                Err(n) => {
                    prop_assert_ne!(expected.len(), N);
                    prop_assert_eq!(n, expected.len());
                }
            }
        }
        Ok(())
    }

    #[test]
    fn fields_at_block_edges() {
        for len in 0..200 {
            let mut line = "a".repeat(len);
            for at in [0, 15, 16, 17, 31, 32, 63, 64, 65, 127, 128, 130, 191] {
                if at < len {
                    line.replace_range(at..=at, "\t");
                }
            }
            for text in [line.clone(), format!("{line}\nnext\tline"), format!("{line}\r\n")] {
                check::<4>(text.as_bytes(), &[3]).unwrap();
                check::<5>(text.as_bytes(), &[0, 4]).unwrap();
                check::<9>(text.as_bytes(), &[2]).unwrap();
                check::<12>(text.as_bytes(), &[1, 11]).unwrap();
            }
        }
        let all = Wanted::<3>::new(&[0, 1, 2]);
        let line = Line::first("é\tü\t".as_bytes(), &all);
        assert_eq!(line.fields().unwrap().get(1), "ü".as_bytes());
        assert!(!line.ascii);
        assert_eq!(Line::first(b"\t\t\t\t", &all).fields().err(), Some(5));
        assert_eq!(Line::first(b"", &all).fields().err(), Some(1));
        assert_eq!(Line::first(b"\n\t\t", &all).fields().err(), Some(1));
        let one = Wanted::<1>::new(&[0]);
        assert_eq!(Line::first(b"abc", &one).fields().unwrap().get(0), b"abc");
    }

    #[test]
    fn lines_follow_each_other() {
        let all = Wanted::<2>::new(&[0, 1]);
        let text = b"a\tb\n\nc\td\r\ne\tf";
        let mut at = 0;
        let mut seen = Vec::new();
        let mut reader = LineReader::default();
        while at < text.len() {
            let line = reader.first(&text[at..], &all);
            seen.push(line.bytes);
            at += line.consumed;
        }
        assert_eq!(seen, [&b"a\tb"[..], b"", b"c\td", b"e\tf"]);
    }

    /// Lines of more than 64 blocks take the simple path; the text after
    /// them is not looked at.
    #[test]
    fn long_lines() {
        for len in [4095usize, 4096, 4097, 10_000] {
            for fields in [131, 130, 132] {
                let mut cols: Vec<String> = (0..fields).map(|i| format!("f{i}")).collect();
                let pad = len.saturating_sub(cols.join("\t").len());
                cols[52] = "x".repeat(pad);
                let text = format!("{}\nnext", cols.join("\t"));
                check::<131>(text.as_bytes(), &[0, 3, 52, 77, 122, 129, 130]).unwrap();
            }
        }
    }

    #[test]
    fn select_finds_the_bit_of_each_rank() {
        for x in [
            1u64,
            0x80,
            0xff,
            0x8000_0000_0000_0001,
            u64::MAX,
            0x1234_5678_9abc_def0,
        ] {
            let mut y = x;
            for rank in 0..x.count_ones() {
                assert_eq!(select(x, rank), y.trailing_zeros(), "{x:#x} rank {rank}");
                y &= y - 1;
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn agrees_with_splitting_by_hand(
            parts in prop::collection::vec("[a-cé\u{1F600}\t\r\n]{0,30}", 0..40),
            some in prop::collection::btree_set(0usize..7, 0..4),
        ) {
            let text = parts.join("\t");
            let some: Vec<usize> = some.into_iter().collect();
            check::<7>(text.as_bytes(), &some)?;
            let wide: Vec<usize> = some.iter().map(|i| i * 6).collect();
            check::<40>(text.as_bytes(), &wide)?;
            let snowplow: Vec<usize> = some.iter().map(|i| i * 21).collect();
            check::<131>(text.as_bytes(), &snowplow)?;
        }

        #[test]
        fn select_agrees_with_clearing_bits(x in 1u64.., r in any::<u32>()) {
            let r = r % x.count_ones();
            let mut y = x;
            for _ in 0..r {
                y &= y - 1;
            }
            prop_assert_eq!(select(x, r), y.trailing_zeros());
        }
    }
}
