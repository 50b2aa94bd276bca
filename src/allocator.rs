//! The binary's allocator: mimalloc, called the way its fast paths expect.
//!
//! Rust hands every allocation an alignment. mimalloc's aligned entry points
//! (`mi_malloc_aligned`, what a plain `GlobalAlloc` over mimalloc calls for everything) take
//! their fast path only while the size class's current page has a free block; when it has
//! none, a block whose size is not a power of two is over-allocated by `alignment - 1` bytes
//! into a larger size class, and its page marked as holding interior pointers. Yet nearly every
//! alignment Rust asks for is a machine word or less, and every mimalloc block is a whole number
//! of words from a page start aligned to 16 bytes: for those, `mi_malloc` already answers an
//! aligned block, through its own fast path. Only larger alignments go through the aligned
//! functions.

use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

use libmimalloc_sys::{
    mi_free, mi_malloc, mi_malloc_aligned, mi_realloc, mi_realloc_aligned, mi_zalloc,
    mi_zalloc_aligned,
};

/// The alignment every mimalloc block has whatever its size: a machine word.
const BLOCK_ALIGN: usize = std::mem::size_of::<usize>();

/// mimalloc as the global allocator (`#[global_allocator]` in `main.rs`).
pub struct MiMalloc;

// SAFETY: each method returns a block of at least the asked size with at least the asked
// alignment (the word alignment of every mimalloc block, or mimalloc's aligned functions), or
// null; blocks are freed and resized by mimalloc, which made them.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= BLOCK_ALIGN {
            mi_malloc(layout.size()).cast()
        } else {
            mi_malloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= BLOCK_ALIGN {
            mi_zalloc(layout.size()).cast()
        } else {
            mi_zalloc_aligned(layout.size(), layout.align()).cast()
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi_free(ptr.cast::<c_void>());
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= BLOCK_ALIGN {
            mi_realloc(ptr.cast::<c_void>(), new_size).cast()
        } else {
            mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every size up to a few pages, with every alignment up to a page, allocated, zeroed,
    /// grown and freed many times over (so that pages fill up and the slow paths run): each
    /// block has the alignment asked, and its bytes are its own.
    #[test]
    fn every_block_has_the_alignment_asked_and_keeps_its_bytes() {
        let sizes = (1..=256).chain((257..=20_000).step_by(499));
        let mut held = Vec::new();
        for size in sizes {
            for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
                let layout = Layout::from_size_align(size, align).unwrap();
                for round in 0..4u8 {
                    // SAFETY: the layout's size is not zero; each block is freed once, below.
                    unsafe {
                        let zeroed = round % 2 == 0;
                        let p = if zeroed {
                            MiMalloc.alloc_zeroed(layout)
                        } else {
                            MiMalloc.alloc(layout)
                        };
                        assert!(!p.is_null());
                        assert_eq!(p as usize % align, 0, "size {size}, alignment {align}");
                        if zeroed {
                            assert!((0..size).all(|i| *p.add(i) == 0));
                        }
                        p.write_bytes(round, size);
                        let grown = MiMalloc.realloc(p, layout, size * 2 + 8);
                        assert!(!grown.is_null());
                        assert_eq!(grown as usize % align, 0, "grown {size}, alignment {align}");
                        assert!((0..size).all(|i| *grown.add(i) == round));
                        held.push((grown, Layout::from_size_align(size * 2 + 8, align).unwrap()));
                    }
                }
            }
            if held.len() > 2_000 {
                for (p, layout) in held.drain(..) {
                    // SAFETY: allocated above with this layout, freed once.
                    unsafe { MiMalloc.dealloc(p, layout) };
                }
            }
        }
        for (p, layout) in held {
            // SAFETY: as above.
            unsafe { MiMalloc.dealloc(p, layout) };
        }
    }
}
