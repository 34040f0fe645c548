//! Appending the short pieces an event is written from (keys, separators, field
//! values) to a byte buffer.
//!
//! An event of 800 bytes is some fifty pieces of a few bytes to a few dozen. Through
//! `extend_from_slice` each is a `memcpy` call plus a capacity check, which cost
//! more than the copy. Here a piece of up to 32 bytes is copied by two overlapping
//! loads and stores of one width, chosen by its length.

/// Appends `bytes` to `out`.
#[inline(always)]
pub fn append(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    if n > 32 {
        out.extend_from_slice(bytes);
        return;
    }
    out.reserve(n);
    // SAFETY: `reserve` made room for `n` more bytes after `len`; `copy_short`
    // writes exactly `dst..dst + n` and reads exactly `bytes`.
    unsafe {
        let len = out.len();
        copy_short(bytes.as_ptr(), out.as_mut_ptr().add(len), n);
        out.set_len(len + n);
    }
}

/// Appends `bytes` between double quotes (text known to need no JSON escape).
#[inline(always)]
pub fn append_quoted(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = bytes.len();
    if n > 32 {
        out.reserve(n + 2);
        out.push(b'"');
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    out.reserve(n + 2);
    // SAFETY: room for `n + 2` bytes was reserved; the writes cover exactly
    // `dst..dst + n + 2`.
    unsafe {
        let len = out.len();
        let dst = out.as_mut_ptr().add(len);
        *dst = b'"';
        copy_short(bytes.as_ptr(), dst.add(1), n);
        *dst.add(n + 1) = b'"';
        out.set_len(len + n + 2);
    }
}

/// Copies `n <= 32` bytes from `src` to `dst` (not overlapping).
///
/// # Safety
/// `src..src + n` must be readable and `dst..dst + n` writable.
#[inline(always)]
unsafe fn copy_short(src: *const u8, dst: *mut u8, n: usize) {
    debug_assert!(n <= 32);
    // SAFETY (all arms): each pair of accesses starts at 0 and ends at `n`, and the
    // width is at most `n`, so both stay within the ranges the caller vouches for.
    unsafe {
        if n >= 16 {
            let a = src.cast::<[u8; 16]>().read_unaligned();
            let b = src.add(n - 16).cast::<[u8; 16]>().read_unaligned();
            dst.cast::<[u8; 16]>().write_unaligned(a);
            dst.add(n - 16).cast::<[u8; 16]>().write_unaligned(b);
        } else if n >= 8 {
            let a = src.cast::<u64>().read_unaligned();
            let b = src.add(n - 8).cast::<u64>().read_unaligned();
            dst.cast::<u64>().write_unaligned(a);
            dst.add(n - 8).cast::<u64>().write_unaligned(b);
        } else if n >= 4 {
            let a = src.cast::<u32>().read_unaligned();
            let b = src.add(n - 4).cast::<u32>().read_unaligned();
            dst.cast::<u32>().write_unaligned(a);
            dst.add(n - 4).cast::<u32>().write_unaligned(b);
        } else if n > 0 {
            // 1 to 3 bytes: the first, the middle and the last (some coincide).
            *dst = *src;
            *dst.add(n / 2) = *src.add(n / 2);
            *dst.add(n - 1) = *src.add(n - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length around each width's edges, onto buffers with and without
    /// spare room, gives what `extend_from_slice` gives.
    #[test]
    fn appends_exactly_the_bytes_at_every_length() {
        let source: Vec<u8> = (0..80u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        for n in 0..=70 {
            for offset in [0, 1, 7] {
                let piece = &source[offset..offset + n];
                for spare in [0, 3, 64] {
                    let mut got = Vec::with_capacity(5 + spare);
                    got.extend_from_slice(b"head:");
                    let mut want = got.clone();
                    append(&mut got, piece);
                    want.extend_from_slice(piece);
                    assert_eq!(got, want, "append, length {n}, offset {offset}");

                    let mut got = b"head:".to_vec();
                    got.reserve(spare);
                    append_quoted(&mut got, piece);
                    let mut want = b"head:\"".to_vec();
                    want.extend_from_slice(piece);
                    want.push(b'"');
                    assert_eq!(got, want, "append_quoted, length {n}, offset {offset}");
                }
            }
        }
    }
}
