//! Byte buffers handed back for reuse once a batch is done with them.
//!
//! Batches are a few hundred KiB; allocating fresh ones per batch from several
//! threads lets glibc's per-thread arenas grow with the input, so peak memory
//! would follow the input size. A small shared stock keeps it flat.

use std::sync::Mutex;

/// At most this many idle buffers are kept.
const STOCK: usize = 8;
/// Buffers grown larger than this are not kept (one huge event should not pin memory).
const LARGEST_KEPT: usize = 8 << 20;

static STOCKED: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// An empty buffer, with capacity when one is in stock.
pub fn take() -> Vec<u8> {
    STOCKED
        .lock()
        .ok()
        .and_then(|mut s| s.pop())
        .unwrap_or_default()
}

/// Returns a buffer to the stock.
pub fn give(mut buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > LARGEST_KEPT {
        return;
    }
    buf.clear();
    if let Ok(mut s) = STOCKED.lock()
        && s.len() < STOCK
    {
        s.push(buf);
    }
}
