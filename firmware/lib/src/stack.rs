//! Stack high-water mark. cortex-m-rt's `paint-stack` fills the whole stack region with
//! [`cortex_m_rt::STACK_PAINT_VALUE`] before `main`; the deepest word that no longer holds the
//! paint is as far as the stack ever grew. flip-link places the stack at the bottom of RAM,
//! below the statics, and defines `_stack_end` (lowest address) and `_stack_start` (top).

use cortex_m_rt::STACK_PAINT_VALUE;

extern "C" {
    static _stack_start: u32;
    static _stack_end: u32;
}

fn region() -> (*const u32, *const u32) {
    // Only the addresses of the linker symbols are taken; nothing is read through them.
    (&raw const _stack_end, &raw const _stack_start)
}

/// Bytes of the stack region.
pub fn size() -> usize {
    let (bottom, top) = region();
    top as usize - bottom as usize
}

/// Bytes of stack used so far, at most (the deepest unpainted word).
pub fn high_water() -> usize {
    let (bottom, top) = region();
    // Interrupts off: no handler pushes a frame while the scan runs.
    let deepest = cortex_m::interrupt::free(|_| {
        let mut p = bottom;
        // SAFETY: the stack region is plain RAM between two 4-aligned linker symbols, so every
        // `p` is an aligned, in-bounds u32 address, and `p.add(1)` stays within one past
        // `top`. The words read are either painted and never written since reset (no Rust
        // value lives in them) or the first word of a frame, read and compared only;
        // volatile, because the compiler cannot know that the memory changed under it.
        while p < top && unsafe { p.read_volatile() } == STACK_PAINT_VALUE {
            p = unsafe { p.add(1) };
        }
        p
    });
    top as usize - deepest as usize
}
