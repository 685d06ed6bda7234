//! The events of depthwise convolution, which the firmware runs through the reference kernel
//! (`common::kernels::depthwise`: per output value, its window positions inside the input).

use super::{Event, Ledger};
use crate::format::Depthwise;
use crate::shape::Shape;

/// The input rows (or columns) of output `o`'s window that lie inside the input.
fn inside(o: usize, k: u8, s: u8, pad: u8, n: u16) -> u64 {
    let start = (o * s as usize) as isize - pad as isize;
    ((start + k as isize).min(n as isize) - start.max(0)).max(0) as u64
}

/// One call on `is`, giving `os`.
pub fn depthwise(t: &mut impl Ledger, l: &Depthwise<'_>, is: Shape, os: Shape) {
    let w = l.window;
    let rows: u64 = (0..os.h as usize).map(|o| inside(o, w.kernel_h, w.stride_h, w.pads.top, is.h)).sum();
    let cols: u64 = (0..os.w as usize).map(|o| inside(o, w.kernel_w, w.stride_w, w.pads.left, is.w)).sum();
    t.add(Event::DepthwiseCall, 1);
    t.add(Event::DepthwiseValue, os.len() as u64);
    t.add(Event::DepthwiseTap, rows * cols * is.c as u64);
}
