//! Byte scans of short texts (a log line, a field), 16 bytes at a time. On
//! x86_64 they use SSE2, which every such CPU has; elsewhere a plain loop.

/// For the first 16 bytes of `bytes` (fewer at its end): one bit per byte that is
/// `delimiter`, and one per quote or newline.
#[inline(always)]
pub(crate) fn delimiter_masks(bytes: &[u8], delimiter: u8) -> (u32, u32) {
    match bytes.first_chunk::<16>() {
        Some(block) => masks_of(block, delimiter),
        None => {
            // The end of the text, padded with a byte that is neither.
            let pad = if delimiter == 0 { 1 } else { 0 };
            let mut block = [pad; 16];
            block[..bytes.len()].copy_from_slice(bytes);
            masks_of(&block, delimiter)
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn masks_of(block: &[u8; 16], delimiter: u8) -> (u32, u32) {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of every x86_64 CPU; the load reads the 16 bytes of
    // `block` (unaligned loads are allowed).
    unsafe {
        let v = _mm_loadu_si128(block.as_ptr().cast());
        let eq = |b: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8));
        let special = _mm_or_si128(_mm_or_si128(eq(b'"'), eq(b'\n')), eq(b'\r'));
        (
            _mm_movemask_epi8(eq(delimiter)) as u32,
            _mm_movemask_epi8(special) as u32,
        )
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn masks_of(block: &[u8; 16], delimiter: u8) -> (u32, u32) {
    let mut found = 0;
    let mut special = 0;
    for (i, &b) in block.iter().enumerate() {
        found |= u32::from(b == delimiter) << i;
        special |= u32::from(matches!(b, b'"' | b'\n' | b'\r')) << i;
    }
    (found, special)
}

/// How many bytes of `hay` are `byte` (Python's `str.count` of one ASCII
/// character).
pub(crate) fn count_byte(hay: &[u8], byte: u8) -> usize {
    let (blocks, rest) = hay.split_at(hay.len() / 16 * 16);
    count_blocks(blocks, byte) + rest.iter().filter(|&&b| b == byte).count()
}

/// [`count_byte`] of whole 16-byte blocks.
#[cfg(target_arch = "x86_64")]
fn count_blocks(blocks: &[u8], byte: u8) -> usize {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_sad_epu8, _mm_set1_epi8, _mm_setzero_si128,
        _mm_storeu_si128, _mm_sub_epi8,
    };
    let mut total = 0;
    // SAFETY: SSE2 is part of every x86_64 CPU; each load reads one 16-byte block
    // of `blocks`, the store writes the 16 bytes of `lanes`.
    unsafe {
        let needle = _mm_set1_epi8(byte as i8);
        let zero = _mm_setzero_si128();
        // Per-byte counters (a match is -1, subtracted), summed before they wrap.
        for group in blocks.chunks(16 * 255) {
            let mut counters = zero;
            for block in group.chunks_exact(16) {
                let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
                counters = _mm_sub_epi8(counters, _mm_cmpeq_epi8(v, needle));
            }
            let mut lanes = [0u64; 2];
            _mm_storeu_si128(
                lanes.as_mut_ptr().cast::<__m128i>(),
                _mm_sad_epu8(counters, zero),
            );
            total += (lanes[0] + lanes[1]) as usize;
        }
    }
    total
}

#[cfg(not(target_arch = "x86_64"))]
fn count_blocks(blocks: &[u8], byte: u8) -> usize {
    blocks.iter().filter(|&&b| b == byte).count()
}

/// Whether `bytes` has a comma, and whether some byte of it needs an escape in a
/// JSON string (a control character, `"` or `\\`): two questions the flat
/// executor asks of every message, answered in one pass.
pub(crate) fn comma_and_escape(bytes: &[u8]) -> (bool, bool) {
    let (blocks, rest) = bytes.split_at(bytes.len() / 16 * 16);
    let (comma, escape) = comma_and_escape_blocks(blocks);
    let escaped = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
    (
        comma || rest.contains(&b','),
        escape || rest.iter().any(|&b| escaped(b)),
    )
}

/// [`comma_and_escape`] of whole 16-byte blocks.
#[cfg(target_arch = "x86_64")]
fn comma_and_escape_blocks(blocks: &[u8]) -> (bool, bool) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_setzero_si128,
    };
    // SAFETY: SSE2 is part of every x86_64 CPU; each load reads one 16-byte block
    // of `blocks`.
    unsafe {
        let (comma, quote, backslash, control) = (
            _mm_set1_epi8(b',' as i8),
            _mm_set1_epi8(b'"' as i8),
            _mm_set1_epi8(b'\\' as i8),
            _mm_set1_epi8(0x1f),
        );
        let mut commas = _mm_setzero_si128();
        let mut escapes = _mm_setzero_si128();
        for block in blocks.chunks_exact(16) {
            let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
            commas = _mm_or_si128(commas, _mm_cmpeq_epi8(v, comma));
            // A byte is at most 0x1f when the unsigned minimum leaves it as it is.
            let low = _mm_cmpeq_epi8(_mm_min_epu8(v, control), v);
            let marks = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
            escapes = _mm_or_si128(escapes, _mm_or_si128(low, marks));
        }
        (
            _mm_movemask_epi8(commas) != 0,
            _mm_movemask_epi8(escapes) != 0,
        )
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn comma_and_escape_blocks(blocks: &[u8]) -> (bool, bool) {
    (
        blocks.contains(&b','),
        blocks.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\'),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_occurrence_at_every_length() {
        // Past 255 blocks too, where the per-byte counters are folded.
        for len in (0..100).chain([4079, 4080, 4081, 4096, 4097, 9000]) {
            for period in [1, 2, 3, 7, 16, 17] {
                let hay: Vec<u8> = (0..len)
                    .map(|i| if i % period == 0 { b' ' } else { b'a' })
                    .collect();
                let want = hay.iter().filter(|&&b| b == b' ').count();
                assert_eq!(count_byte(&hay, b' '), want, "{len} {period}");
                assert_eq!(count_byte(&hay, b'a'), len - want, "{len} {period}");
            }
        }
    }

    #[test]
    fn finds_commas_and_escapes_at_every_position() {
        for len in 0..50 {
            for at in 0..len {
                for (byte, comma, escape) in [
                    (b',', true, false),
                    (b'"', false, true),
                    (b'\\', false, true),
                    (0x00, false, true),
                    (0x1f, false, true),
                    (b'\n', false, true),
                    (0x20, false, false),
                    (0x7f, false, false),
                    (0x80, false, false),
                    (0xff, false, false),
                ] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = byte;
                    assert_eq!(
                        comma_and_escape(&bytes),
                        (comma, escape),
                        "{len} {at} {byte:#x}"
                    );
                }
            }
            assert_eq!(comma_and_escape(&vec![b'a'; len]), (false, false));
        }
    }
}
