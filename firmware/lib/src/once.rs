//! A static buffer handed out exactly once, so big buffers live in `.bss` (counted by the
//! linker against the chip's RAM) instead of on the stack, without `static mut` references.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

pub struct Once<T> {
    taken: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the only access to `value` is the single `&mut T` that `take` hands out, at most
// once (guarded by the atomic flag), so sharing the `Once` between contexts cannot create two
// references to the value; `T: Send` lets that one reference move to whichever context wins.
unsafe impl<T: Send> Sync for Once<T> {}

impl<T> Once<T> {
    pub const fn new(value: T) -> Self {
        Once { taken: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    /// The value, the first time; `None` ever after.
    // A `&mut` from a `&`: sound here, the flag hands it out once (see the SAFETY note).
    #[allow(clippy::mut_from_ref)]
    pub fn take(&'static self) -> Option<&'static mut T> {
        if self.taken.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: the swap above returned `false` exactly once, so this is the only reference
        // to `value` ever created, and it borrows a static.
        Some(unsafe { &mut *self.value.get() })
    }
}
