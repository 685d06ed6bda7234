//! The events of the pooling kernels: the firmware's max pooling (`firmware/kernels/src/
//! pool.rs`: per output pixel and window position, four channels per step) and average
//! pooling, which the firmware runs through the reference kernel (`common::kernels::avg_pool`:
//! per output value, an iterator over its window and a rounding division). Counted per window
//! row and column so that a huge layer costs no more to count than its output's sides.

use super::memory::memset_instructions;
use super::{Event, Ledger};
use crate::format::Pool;
use crate::shape::Shape;

/// The input rows (or columns) `lo..hi` the window of output `o` covers.
fn span(o: usize, k: u8, s: u8, pad: u8, n: u16) -> usize {
    let start = (o * s as usize) as isize - pad as isize;
    let (lo, hi) = (start.max(0), (start + k as isize).min(n as isize).max(0));
    (hi - lo).max(0) as usize
}

/// Sums of the window sides over the output rows and columns: (rows, columns).
fn spans(p: &Pool, is: Shape, os: Shape) -> (u64, u64) {
    let rows = (0..os.h as usize).map(|o| span(o, p.kernel_h, p.stride_h, p.pads.top, is.h) as u64).sum();
    let cols = (0..os.w as usize).map(|o| span(o, p.kernel_w, p.stride_w, p.pads.left, is.w) as u64).sum();
    (rows, cols)
}

/// One call of the firmware's max pooling on `is`, writing `os` at arena offset `out_at`.
pub fn max_pool(t: &mut impl Ledger, p: &Pool, is: Shape, os: Shape, out_at: usize) {
    let c = is.c as usize;
    let (rows, cols) = spans(p, is, os);
    let pixels = os.h as u64 * os.w as u64;
    let taps = rows * cols;
    if c >= 4 {
        t.add(Event::MaxPoolCall, 1);
        t.add(Event::MaxPoolPixel, pixels);
        t.add(Event::MaxPoolRow, rows * os.w as u64);
        t.add(Event::MaxPoolTap, taps);
    } else {
        t.add(Event::MaxPoolNarrowCall, 1);
        t.add(Event::MaxPoolNarrowPixel, pixels);
        t.add(Event::MaxPoolNarrowRow, rows * os.w as u64);
        t.add(Event::MaxPoolNarrowTap, taps);
    }
    if !c.is_multiple_of(4) {
        t.add(Event::MaxPoolTapTail, taps);
    }
    t.add(Event::MaxPoolWord, taps * (c / 4) as u64);
    t.add(Event::MaxPoolByte, taps * (c % 4) as u64);
    // `out.fill(i8::MIN)` per output pixel: a `memset` of its channels. Its cost depends on
    // the pixel's alignment only, which repeats every 4 pixels.
    for o in 0..pixels.min(4) {
        let times = (pixels - o).div_ceil(4);
        t.add(Event::MemoryInstruction, times * memset_instructions(c, out_at + o as usize * c));
    }
}

/// The reference average pooling on `is`, giving `os`.
pub fn avg_pool(t: &mut impl Ledger, p: &Pool, is: Shape, os: Shape) {
    let c = is.c as u64;
    let (rows, cols) = spans(p, is, os);
    let (oh, ow) = (os.h as u64, os.w as u64);
    t.add(Event::AvgPoolCall, 1);
    t.add(Event::AvgPoolRow, oh);
    t.add(Event::AvgPoolPixel, oh * ow);
    t.add(Event::AvgPoolValue, oh * ow * c);
    // Every value of output row `oy` walks its window's rows for every column.
    t.add(Event::AvgPoolTapRow, rows * ow * c);
    t.add(Event::AvgPoolTap, rows * cols * c);
}
