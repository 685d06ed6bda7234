//! The events of one call of the firmware's convolution (`firmware/kernels/src/conv.rs`,
//! which dense layers run as a 1x1 convolution of one pixel): its pixel blocks of 4, depth
//! blocks of 224 and channel blocks of 64, the columns of each pixel (widened straight from the
//! input, copied by whole window rows, or gathered with padding), the multiply-accumulate
//! loops and the requantization. The walk follows the kernel's own loops and tests.

use super::memory::{memcpy, memset};
use super::{Event, Ledger};
use crate::format::{read_i32, Conv2d, Pads};
use crate::quant::lower_clamp;
use crate::shape::Shape;

/// The kernel's blocking (`kernels::conv`).
const PIXELS: usize = 4;
const K_BLOCK: usize = 224;
const OC_BLOCK: usize = 64;

/// Zero-point bytes before a depth block of `kb` values (`kernels::conv::lead`).
fn lead(kb: usize) -> usize {
    (4 - kb % 4) % 4
}

/// Where one output pixel's window lies (`kernels::conv::Window`).
#[derive(Clone, Copy, Default)]
struct Window {
    y0: isize,
    x0c: isize,
    lo: usize,
    hi: usize,
    inside: bool,
}

/// The input as the kernel sees it, and where it lies in the arena (for the copies'
/// alignment).
#[derive(Clone, Copy)]
pub struct Input {
    pub shape: Shape,
    /// Values of the input tensor (the window's rows).
    pub len: usize,
    /// Arena offset of its first value.
    pub at: usize,
}

/// One call of `kernels::conv::conv2d` on `input` (a band row's window or a whole tensor),
/// writing `out` (its output shape) at arena offset `out_at`.
pub fn conv2d(t: &mut impl Ledger, l: &Conv2d<'_>, input: Input, out: Shape, out_at: usize) {
    let is = input.shape;
    let (iw, ic) = (is.w as isize, is.c as usize);
    let (kh, kw) = (l.window.kernel_h as usize, l.window.kernel_w as usize);
    let row_len = kw * ic;
    let row_stride = iw * ic as isize;
    let k = kh * row_len;
    let (oc_n, ow) = (out.c as usize, out.w as usize);
    let clamped = lower_clamp(l.relu, l.output.zero_point) != -128;
    // `requant::all_fast`: every multiplier of the layer below 2^15.
    let fast = (0..l.multipliers.len() / 4).all(|c| read_i32(l.multipliers, c) < 1 << 15);
    let requant = match (fast, clamped) {
        (false, false) => Event::RequantChannel,
        (false, true) => Event::RequantChannelClamped,
        (true, false) => Event::RequantChannelFast,
        (true, true) => Event::RequantChannelFastClamped,
    };

    t.add(Event::ConvCall, 1);
    // `head`: the first rows behind `lead` zero bytes, for a partial chunk in one depth block.
    let mut head_rows = 0;
    if k < K_BLOCK {
        t.add(Event::ConvSmallDepth, 1);
        let lead = lead(k);
        if lead != 0 {
            t.add(Event::ConvHead, 1);
            let rows = lead.div_ceil(k).min(l.weights.len() / k);
            memcpy(t, rows * k, lead, 0);
            head_rows = rows;
        }
    }

    let n_pix = out.h as usize * ow;
    let (mut oy, mut ox, mut first) = (0, 0, 0);
    while first < n_pix {
        let n = PIXELS.min(n_pix - first);
        t.add([Event::ConvBlock1, Event::ConvBlock2, Event::ConvBlock3, Event::ConvBlock4][n - 1], 1);
        let mut win = [Window::default(); PIXELS];
        for v in win.iter_mut().take(n) {
            *v = window(t, l, is, oy, ox);
            ox += 1;
            if ox == ow {
                (ox, oy) = (0, oy + 1);
            }
        }
        let win = &win[..n];
        let mut oc0 = 0;
        while oc0 < oc_n {
            let ocs = OC_BLOCK.min(oc_n - oc0);
            t.add(Event::ConvChannelBlock, 1);
            t.add(Event::ConvBiasChannel, ocs as u64);
            let mut k0 = 0;
            while k0 < k {
                let kb = K_BLOCK.min(k - k0);
                t.add(Event::ConvDepthBlock, 1);
                columns(t, input, row_len, row_stride, win, k0, kb);
                dot_block(t, n, oc0, oc0 + ocs, k0, kb, head_rows);
                k0 += K_BLOCK;
            }
            t.add(requant, ocs as u64);
            if n < PIXELS {
                // Each pixel's channels from the scratch rows (`c` apart) to the output.
                for p in 0..n {
                    t.add(Event::ConvShortPixel, 1);
                    memcpy(t, ocs, out_at + (first + p) * oc_n + oc0, p * ocs);
                }
            }
            oc0 += OC_BLOCK;
        }
        first += n;
    }
}

/// `kernels::conv::window`, and whether it took the padded path.
fn window(t: &mut impl Ledger, l: &Conv2d<'_>, is: Shape, oy: usize, ox: usize) -> Window {
    let (kh, kw, ic) = (l.window.kernel_h as isize, l.window.kernel_w as isize, is.c as isize);
    let x0 = (ox * l.window.stride_w as usize) as isize - l.window.pads.left as isize;
    let y0 = (oy * l.window.stride_h as usize) as isize - l.window.pads.top as isize;
    let row_len = (kw * ic) as usize;
    if l.window.pads == Pads::default() {
        return Window { y0, x0c: x0 * ic, lo: 0, hi: row_len, inside: true };
    }
    t.add(Event::ConvPaddedWindow, 1);
    let lo_kx = (-x0).clamp(0, kw);
    let hi_kx = (is.w as isize - x0).clamp(lo_kx, kw);
    Window { y0, x0c: x0 * ic, lo: (lo_kx * ic) as usize, hi: (hi_kx * ic) as usize, inside: lo_kx == 0 && hi_kx == kw && y0 >= 0 && y0 + kh <= is.h as isize }
}

/// `kernels::conv::columns` for depth block `k0..k0 + kb`.
fn columns(t: &mut impl Ledger, i: Input, row_len: usize, row_stride: isize, win: &[Window], k0: usize, kb: usize) {
    let lead = lead(kb);
    let (ky0, a0) = (k0 / row_len, k0 % row_len);
    let direct = lead == 0 && row_len.is_multiple_of(4);
    let rows = if a0 == 0 && kb.is_multiple_of(row_len) { kb / row_len } else { 0 };
    for v in win {
        if v.inside && direct {
            t.add(Event::ColumnsDirect, 1);
            let (mut a, mut d) = (a0, 0);
            while d < kb {
                let len = (row_len - a).min(kb - d);
                t.add(Event::ColumnsDirectRun, 1);
                widen(t, len);
                (d, a) = (d + len, 0);
            }
            continue;
        }
        let mut copied = false;
        if v.inside && rows > 0 {
            t.add(Event::ColumnsCopyCheck, 1);
            let at = ((v.y0 + ky0 as isize) * row_stride + v.x0c) as usize;
            let words = row_len.div_ceil(4);
            if i.len - at >= (rows - 1) * row_stride as usize + 4 * words {
                copied = true;
                t.add(Event::ColumnsCopied, 1);
                t.add(Event::CopyRun, rows as u64);
                t.add(Event::CopyWord, (rows * words) as u64);
            }
        }
        if !copied {
            t.add(Event::ColumnsGathered, 1);
            gather(t, i, row_len, row_stride, v, ky0, a0, lead, kb);
        }
        widen(t, lead + kb);
    }
}

/// `kernels::conv::gather` of `len` values into the patch at byte `lead`.
#[allow(clippy::too_many_arguments)]
fn gather(t: &mut impl Ledger, i: Input, row_len: usize, row_stride: isize, v: &Window, ky: usize, a: usize, lead: usize, len: usize) {
    memset(t, len, lead);
    let (mut ky, mut a, mut d) = (ky, a, 0);
    while d < len {
        let part = (row_len - a).min(len - d);
        t.add(Event::GatherPart, 1);
        let iy = v.y0 + ky as isize;
        let s = v.lo.clamp(a, a + part);
        let e = v.hi.clamp(s, a + part);
        if iy >= 0 && iy < i.shape.h as isize && s < e {
            t.add(Event::GatherCopy, 1);
            let src = (iy * row_stride + v.x0c + s as isize) as usize;
            // The patch lies word-aligned on the stack, its values from byte `lead` on.
            memcpy(t, e - s, lead + d + s - a, i.at + src);
        }
        (d, a, ky) = (d + part, 0, ky + 1);
    }
}

/// `kernels::conv::widen` of `bytes` bytes.
fn widen(t: &mut impl Ledger, bytes: usize) {
    let chunks = bytes / 4;
    if chunks == 0 {
        t.add(Event::WidenEmpty, 1);
        return;
    }
    t.add(Event::WidenCall, 1);
    t.add(Event::WidenOdd, (chunks % 2) as u64);
    t.add(Event::WidenPair, (chunks / 2) as u64);
}

/// `Weights::dot_block` for channels `oc..end`: the rows kept behind zero bytes first (the
/// first `head_rows` of the layer, depth block 0 only), then the rest.
fn dot_block(t: &mut impl Ledger, n: usize, oc: usize, end: usize, k0: usize, kb: usize, head_rows: usize) {
    let chunks = (kb + lead(kb)) / 4;
    let in_head = if k0 == 0 { head_rows } else { 0 };
    let mut oc = oc;
    if oc < in_head {
        t.add(Event::ConvHeadRows, 1);
        let rows = in_head.min(end) - oc;
        dot_rows(t, n, rows, chunks);
        oc += rows;
    }
    if oc < end {
        dot_rows(t, n, end - oc, chunks);
    }
}

/// One call of the `dot_rows` kernels for `n` pixels over `channels` rows of `chunks` chunks.
fn dot_rows(t: &mut impl Ledger, n: usize, channels: usize, chunks: usize) {
    let (call, channel, chunk) = match n {
        1 => (Event::DotRowsCall1, Event::DotRowsChannel1, Event::DotRowsChunk1),
        2 => (Event::DotRowsCall2, Event::DotRowsChannel2, Event::DotRowsChunk2),
        3 => (Event::DotRowsCall3, Event::DotRowsChannel34, Event::DotRowsChunk3),
        _ => (Event::DotRowsCall4, Event::DotRowsChannel34, Event::DotRowsChunk4),
    };
    let channels = channels as u64;
    t.add(call, 1);
    t.add(channel, channels);
    t.add(chunk, channels * chunks as u64);
    t.add(Event::DotRowsPass, channels * chunks.div_ceil(4) as u64);
}
