//! The events of one call of the firmware's depthwise convolution (`firmware/kernels/src/
//! depthwise.rs`): per output row its segments of at most as many pixels as the gathered
//! columns hold, per segment the padding slots and, per channel group of four, the group's
//! table, the gathered input columns and one sweep of the pixels (taps, requantization). The
//! walk follows the kernel's own loops and tests. A kernel of more than 64 taps runs the
//! reference kernel (`common::kernels::depthwise`: per output value, its window positions
//! inside the input).

use super::{Event, Ledger};
use crate::format::{read_i32, Depthwise};
use crate::quant::lower_clamp;
use crate::shape::Shape;

/// The kernel's limits (`kernels::depthwise`).
const MAX_TAPS: usize = 64;
const GATHER_SLOTS: usize = 256;
const TAIL_PIXELS: usize = 32;
const UNROLL: usize = 9;

/// How a channel group's sums are requantized (`kernels::depthwise::Requant`, and whether
/// the lower clamp is above -128).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Requant {
    Fast,
    FastClamped,
    General,
}

/// One call on `is` (a band row's window or a whole tensor), giving `os`.
pub fn depthwise(t: &mut impl Ledger, l: &Depthwise<'_>, is: Shape, os: Shape) {
    let w = l.window;
    let (kh, kw) = (w.kernel_h as usize, w.kernel_w as usize);
    let taps = kh * kw;
    if taps > MAX_TAPS {
        return reference(t, l, is, os);
    }
    let (sh, sw) = (w.stride_h as usize, w.stride_w as usize);
    let (oh, ow, c) = (os.h as usize, os.w as usize, is.c as usize);
    let clamped = lower_clamp(l.relu, l.output.zero_point) != -128;
    let seg = (GATHER_SLOTS / kh - kw) / sw + 1;
    // Every group's requantization, which depends on its multipliers only.
    let groups = c.div_ceil(4);
    let requant = |g: usize| {
        let fast = (4 * g..c.min(4 * g + 4)).all(|ch| read_i32(l.multipliers, ch) < 1 << 15);
        match (fast, clamped) {
            (true, false) => Requant::Fast,
            (true, true) => Requant::FastClamped,
            (false, _) => Requant::General,
        }
    };
    t.add(Event::DwCall, 1);
    for oy in 0..oh {
        t.add(Event::DwRow, 1);
        let iy0 = (oy * sh) as isize - w.pads.top as isize;
        let mut ox0 = 0;
        while ox0 < ow {
            let n = if c % 4 == 0 { seg } else { seg.min(TAIL_PIXELS) }.min(ow - ox0);
            let ix0 = (ox0 * sw) as isize - w.pads.left as isize;
            let cols = (n - 1) * sw + kw;
            // `Columns::new`: the rows and columns of the segment inside the input.
            let r0 = (-iy0).clamp(0, kh as isize) as usize;
            let r1 = (is.h as isize - iy0).clamp(r0 as isize, kh as isize) as usize;
            let i_lo = (-ix0).clamp(0, cols as isize) as usize;
            let i_hi = (is.w as isize - ix0).clamp(i_lo as isize, cols as isize) as usize;
            t.add(Event::DwSegment, 1);
            t.add(Event::DwZeroSlot, ((cols - (i_hi - i_lo)) * kh) as u64);
            if r0 > 0 || r1 < kh {
                t.add(Event::DwPartialColumn, (i_hi - i_lo) as u64);
                t.add(Event::DwZeroSlot, ((i_hi - i_lo) * (kh - (r1 - r0))) as u64);
            }
            let (inside_cols, rows) = (i_hi - i_lo, r1 - r0);
            for g in 0..groups {
                let cn = (c - 4 * g).min(4);
                // `load_group`: the table, then the input's columns.
                if cn == 4 {
                    t.add(Event::DwGroup, 1);
                    gather_words(t, kw, kh, kh);
                } else {
                    t.add(Event::DwGroupPartial, 1);
                    t.add(Event::DwTableTapPartial, taps as u64);
                    t.add(Event::DwTableBytePartial, (taps * cn) as u64);
                }
                if inside_cols > 0 && rows > 0 {
                    if cn == 4 {
                        gather_words(t, inside_cols, rows, kh);
                    } else {
                        t.add(Event::DwGatherPartial, 1);
                        t.add(Event::DwGatherSlotPartial, (inside_cols * rows) as u64);
                        t.add(Event::DwGatherBytePartial, (inside_cols * rows * cn) as u64);
                    }
                }
                sweep(t, n, taps, requant(g));
                if cn < 4 {
                    t.add(Event::DwTailPixel, n as u64);
                    t.add(Event::DwTailByte, (n * cn) as u64);
                }
            }
            ox0 += n;
        }
    }
}

/// `gather_words` of `n` columns of `rows` words into slots `kh` apart (its `asm!` loops).
fn gather_words(t: &mut impl Ledger, n: usize, rows: usize, kh: usize) {
    t.add(Event::DwGatherCall, 1);
    if kh == 3 && rows == 3 {
        t.add(Event::DwGatherColumn3, n as u64);
    } else {
        t.add(Event::DwGatherColumn, n as u64);
        t.add(Event::DwGatherSlot, (n * rows) as u64);
    }
}

/// `Sweep::run` of `n` pixels over `taps` taps.
fn sweep(t: &mut impl Ledger, n: usize, taps: usize, requant: Requant) {
    let n = n as u64;
    t.add(Event::DwSweep, 1);
    if taps == 9 && requant == Requant::Fast {
        t.add(Event::DwSweep9Entry, 1);
        t.add(Event::DwSweep9Pixel, n);
        return;
    }
    t.add(Event::DwSweepEntry, 1);
    t.add(Event::DwSweepPixel, n);
    t.add(Event::DwSweepTap, n * taps as u64);
    t.add(Event::DwSweepPass, n * taps.div_ceil(UNROLL) as u64);
    let per_pixel = match requant {
        Requant::Fast => Event::DwRequantFast,
        Requant::FastClamped => Event::DwRequantFastClamped,
        Requant::General => Event::DwRequantGeneral,
    };
    t.add(per_pixel, n);
}

/// The input rows (or columns) of output `o`'s window that lie inside the input.
fn inside(o: usize, k: u8, s: u8, pad: u8, n: u16) -> u64 {
    let start = (o * s as usize) as isize - pad as isize;
    ((start + k as isize).min(n as isize) - start.max(0)).max(0) as u64
}

/// The reference kernel's loops, for kernels beyond the optimized path's taps.
fn reference(t: &mut impl Ledger, l: &Depthwise<'_>, is: Shape, os: Shape) {
    let w = l.window;
    let rows: u64 = (0..os.h as usize).map(|o| inside(o, w.kernel_h, w.stride_h, w.pads.top, is.h)).sum();
    let cols: u64 = (0..os.w as usize).map(|o| inside(o, w.kernel_w, w.stride_w, w.pads.left, is.w)).sum();
    t.add(Event::DepthwiseRefCall, 1);
    t.add(Event::DepthwiseRefValue, os.len() as u64);
    t.add(Event::DepthwiseRefTap, rows * cols * is.c as u64);
}
