//! Fixed-size blocks of a byte slice for the SIMD scans (line splitting,
//! JSON strings, user agents): each scan loads whole blocks, and the one at
//! the end of the text is padded with zeros, which none of them looks for.

/// The `N` bytes of `text` from `at`, zeros past its end (all zeros when
/// `at` is at or beyond the end).
#[inline(always)]
pub fn block_at<const N: usize>(text: &[u8], at: usize) -> [u8; N] {
    let rest = text.get(at..).unwrap_or_default();
    match rest.first_chunk::<N>() {
        Some(block) => *block,
        None => {
            let mut padded = [0u8; N];
            padded[..rest.len()].copy_from_slice(rest);
            padded
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_padded_with_zeros_at_the_end() {
        let text = b"abcdef";
        assert_eq!(block_at::<4>(text, 0), *b"abcd");
        assert_eq!(block_at::<4>(text, 2), *b"cdef");
        assert_eq!(block_at::<4>(text, 4), [b'e', b'f', 0, 0]);
        assert_eq!(block_at::<4>(text, 6), [0; 4]);
        assert_eq!(block_at::<4>(text, 100), [0; 4]);
        assert_eq!(block_at::<4>(b"", 0), [0; 4]);
    }
}
