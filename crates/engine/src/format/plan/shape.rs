//! The shape of an event: which output slots hold a value, as bits. Events of one
//! shape are written from one cached skeleton, and an object's presence is one test.

use super::layout::Range;

/// Slots a shape can hold; a format with more output slots writes events by walking
/// its layout instead (slower, same output).
pub(super) const WIDTH: usize = 256;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Shape([u64; WIDTH / 64]);

impl Shape {
    #[inline(always)]
    pub(super) fn insert(&mut self, slot: u32) {
        if let Some(word) = self.0.get_mut(slot as usize / 64) {
            *word |= 1 << (slot % 64);
        }
    }

    #[inline(always)]
    pub(super) fn remove(&mut self, slot: u32) {
        if let Some(word) = self.0.get_mut(slot as usize / 64) {
            *word &= !(1 << (slot % 64));
        }
    }

    /// Whether any slot of `range` is in the shape.
    #[inline(always)]
    pub(super) fn any_in(&self, range: Range) -> bool {
        let (lo, hi) = (range.lo as usize, (range.hi as usize).min(WIDTH));
        if lo >= hi {
            return false;
        }
        let (first, last) = (lo / 64, (hi - 1) / 64);
        (first..=last).any(|w| {
            let from = if w == first { lo % 64 } else { 0 };
            let to = if w == last { (hi - 1) % 64 + 1 } else { 64 };
            let mask = if to - from == 64 {
                u64::MAX
            } else {
                ((1u64 << (to - from)) - 1) << from
            };
            self.0[w] & mask != 0
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_across_words() {
        let mut s = Shape::default();
        for slot in [0, 63, 64, 130, 255] {
            s.insert(slot);
        }
        let r = |lo, hi| Range { lo, hi };
        assert!(s.any_in(r(0, 1)));
        assert!(!s.any_in(r(1, 63)));
        assert!(s.any_in(r(1, 64)));
        assert!(s.any_in(r(64, 65)));
        assert!(!s.any_in(r(65, 130)));
        assert!(s.any_in(r(65, 131)));
        assert!(s.any_in(r(200, 256)));
        assert!(!s.any_in(r(131, 255)));
        assert!(!s.any_in(r(5, 5)));
        s.remove(130);
        assert!(!s.any_in(r(65, 200)));
        // Slots past the width are not held (the layout walk covers them).
        s.insert(300);
        assert_eq!(s, {
            let mut t = Shape::default();
            for slot in [0, 63, 64, 255] {
                t.insert(slot);
            }
            t
        });
    }
}
