//! Convolution: im2col of up to four output pixels into 16-bit columns, then every weight row
//! against the columns with `SMLAD`.
//!
//! Blocking. Output pixels (in raster order, across row ends) are taken four at a time; the
//! last block of a call may hold 1 to 3 (the row-band interpreter calls once per output row,
//! and rows of PilotNet and the sign CNN are 98, 47, 22, 30 or 13 pixels wide), and it runs a
//! kernel for exactly that many pixels instead of wasting the missing ones' work. Their input
//! patches (`(ky, kx, ic)` order, the order of an OHWI weight row) are gathered with the padded
//! positions set to the input zero point, and widened to 16 bits with the zero point
//! subtracted (`SXTAB16` against `-zp`), so padding contributes exactly 0 and
//! `acc = bias + sum w * (x - x_zp)` needs no bias correction (and no overflow reasoning beyond
//! the reference's own). Every output channel then streams its weight row once against the
//! columns: per 4 weights one `LDR`, two `SXTB16` and, per pixel, one `LDRD` and two `SMLAD`
//! (15 instructions for 16 MACs with four pixels, 6 for 4 with one), the loop branch every
//! fourth chunk. One `asm!` block runs all channels of a block (`dot_rows`), with about 12
//! instructions of bookkeeping a channel; the sums of each channel are then requantized in one
//! `asm!` loop ([`crate::requant::requantize_block`], in its fast form when every multiplier
//! of the layer is below 2^15).
//!
//! Scratch memory is small and fixed, because it lives on the stack and the firmware's stack
//! is counted against the chip's RAM with the activation arena (`build.rs` guarantees 12 KB):
//! the accumulation depth `K` is processed in blocks of [`K_BLOCK`] (the columns of a block:
//! 4 x 224 x 2 bytes) and the channels in blocks of [`OC_BLOCK`], whose partial sums wait in a
//! 1 KB accumulator table between depth blocks. About 3.5 KB in all.
//!
//! Column layout. `SXTB16` of a weight word `[w0 w1 w2 w3]` gives the lanes `(w0, w2)`,
//! `SXTB16 ROR #8` gives `(w1, w3)`. The columns are widened the same way, so for chunk `j`
//! (inputs `4j..4j+4` of the block) and pixel `p` the words `cols[8j + 2p]` and
//! `cols[8j + 2p + 1]` hold `(x0, x2)` and `(x1, x3)`, minus the zero point: the pixels'
//! words of one chunk lie next to each other and the kernel reads them with post-incrementing
//! `LDRD`s (the last pixel's increment skips the words of absent pixels).
//!
//! Weights stay in flash in their OHWI order (no copy: they do not fit the RAM). A row of `K`
//! weights starts at any byte offset, so the weight `LDR` may be unaligned (allowed for `LDR`
//! on ARMv7-M, one extra bus access on the chip). When a depth block is not a multiple of 4
//! (`K mod 4` weights left over, e.g. 75 in PilotNet's first layer), its partial chunk comes
//! first: the columns hold its values in the high bytes after `lead = 4 - K mod 4` zero-point
//! bytes (which widen to 0), and the weight row is read from `lead` bytes before its start,
//! so the partial chunk is an ordinary chunk whose low weight bytes (the previous row's last
//! ones) meet zeros. Only the first row of the weights (the first three when `K` is 1) has too
//! little before it: the kernel reads it from a copy behind `lead` zero bytes (`head`).
//!
//! A dense layer is the 1x1 convolution of a one-pixel input ([`crate::Dsp`]): one block of one
//! pixel, its depth and channels blocked as above.

use core::mem::MaybeUninit;

use common::format::{Conv2d, Pads};
use common::interp::{Tensor, TensorMut};
use common::quant::lower_clamp;

use crate::dsp::pack16;
#[cfg(not(target_arch = "arm"))]
use crate::dsp::{smlad, sxtab16, sxtab16_ror8, sxtb16, sxtb16_ror8};
use crate::requant::{all_fast, requantize_block};

/// Output pixels per block.
const PIXELS: usize = 4;
/// Accumulation depth per block (a multiple of 4).
pub const K_BLOCK: usize = 224;
/// Output channels per block.
pub const OC_BLOCK: usize = 64;

/// One pixel's gathered window values, after up to 3 padding bytes (word-aligned for the
/// widening loads), with room for the 3 bytes [`copy_runs`] may write past them.
#[repr(C, align(4))]
struct Patch([i8; K_BLOCK + 4]);

/// Where one output pixel's window lies in the input.
#[derive(Clone, Copy, Default)]
struct Window {
    /// Input row of the window's top (may be negative: padding).
    y0: isize,
    /// Offset in the input of the window row's first value at input row 0 (`x0 * ic`; may be
    /// negative).
    x0c: isize,
    /// Within a window row of `kw * ic` values, the ones in `lo..hi` are inside the input; the
    /// rest are padding.
    lo: usize,
    hi: usize,
    /// The whole window lies inside the input (no padding).
    inside: bool,
}

/// The input as the gathering sees it.
#[derive(Clone, Copy)]
struct Input<'a> {
    x: &'a [i8],
    h: isize,
    w: isize,
    c: usize,
    /// Values per input row (`w * c`).
    row_stride: isize,
    /// Values per window row (`kw * c`).
    row_len: usize,
    zp: i8,
}

/// Computes the layer (any valid geometry).
// Never inlined: its stack buffers must exist only while it runs, not add to the frame of
// the caller (with LTO the whole application would otherwise hold them at once).
#[inline(never)]
pub fn conv2d(l: &Conv2d<'_>, input: Tensor<'_>, output: TensorMut<'_>) {
    let (is, os) = (input.info.shape, output.info.shape);
    let (iw, ic) = (is.w as isize, is.c as usize);
    let (kh, kw) = (l.window.kernel_h as usize, l.window.kernel_w as usize);
    let src = Input { x: input.data, h: is.h as isize, w: iw, c: ic, row_stride: iw * ic as isize, row_len: kw * ic, zp: input.info.quant.zero_point };
    let k = kh * src.row_len;
    let (oc_n, ow) = (os.c as usize, os.w as usize);
    let neg_zp = pack16(-(src.zp as i16), -(src.zp as i16));
    let out_zp = l.output.zero_point as i32;
    let lo = lower_clamp(l.relu, l.output.zero_point) as i32;
    let fast = all_fast(l.multipliers);
    let y = output.data;

    let mut patch = Patch([0; K_BLOCK + 4]);
    let mut cols = [0u32; 2 * PIXELS * K_BLOCK / 4];
    // (Not zeroed: every block starts its sums at the bias, see `start_at_bias`.)
    let mut accs = [MaybeUninit::<[i32; PIXELS]>::uninit(); OC_BLOCK];
    let mut head_rows = [0u8; K_BLOCK];
    let mut out = [0i8; PIXELS * OC_BLOCK];
    let w = Weights { w: l.weights, k, head: head(l.weights, k, &mut head_rows) };
    let n_pix = os.h as usize * ow;
    let (mut oy, mut ox) = (0, 0);
    // (Plain counting loops: `step_by` costs over a hundred instructions per output block here.)
    let mut first = 0;
    while first < n_pix {
        let n = PIXELS.min(n_pix - first);
        let mut win = [Window::default(); PIXELS];
        for v in win.iter_mut().take(n) {
            *v = window(l, &src, oy, ox);
            ox += 1;
            if ox == ow {
                (ox, oy) = (0, oy + 1);
            }
        }
        let win = &win[..n];
        let mut oc0 = 0;
        while oc0 < oc_n {
            let ocs = oc0..oc_n.min(oc0 + OC_BLOCK);
            let accs = start_at_bias(&mut accs[..ocs.len()], &l.bias[4 * ocs.start..4 * ocs.end]);
            let mut k0 = 0;
            while k0 < k {
                let kb = K_BLOCK.min(k - k0);
                columns(src, win, k0, kb, &mut patch, &mut cols, neg_zp);
                w.dot_block(n, ocs.clone(), k0, kb, &cols, accs);
                k0 += K_BLOCK;
            }
            let mults = &l.multipliers[4 * ocs.start..4 * ocs.end];
            let (at, c) = (first * oc_n + ocs.start, ocs.len());
            // The requantization writes four pixels: a short block's go to scratch first.
            let (dst, stride) = if n == PIXELS { (&mut y[at..], oc_n) } else { (&mut out[..], c) };
            requantize_block(accs, mults, out_zp, lo, dst, stride, fast);
            if n < PIXELS {
                for p in 0..n {
                    y[at + p * oc_n..at + p * oc_n + c].copy_from_slice(&out[p * c..p * c + c]);
                }
            }
            oc0 += OC_BLOCK;
        }
        first += n;
    }
}

/// Sets every accumulator row to its channel's bias (int32 LE in `bias`) and returns them.
fn start_at_bias<'a>(accs: &'a mut [MaybeUninit<[i32; PIXELS]>], bias: &[u8]) -> &'a mut [[i32; PIXELS]] {
    assert!(bias.len() == 4 * accs.len());
    for (a, b) in accs.iter_mut().zip(bias.chunks_exact(4)) {
        a.write([i32::from_le_bytes([b[0], b[1], b[2], b[3]]); PIXELS]);
    }
    // SAFETY: every element was written just above (one per 4 bias bytes, checked), and
    // `MaybeUninit<T>` has the layout of `T`.
    unsafe { &mut *(accs as *mut [MaybeUninit<[i32; PIXELS]>] as *mut [[i32; PIXELS]]) }
}

/// The window of output pixel `(oy, ox)`.
fn window(l: &Conv2d<'_>, i: &Input<'_>, oy: usize, ox: usize) -> Window {
    let (kh, kw, ic) = (l.window.kernel_h as isize, l.window.kernel_w as isize, i.c as isize);
    let x0 = (ox * l.window.stride_w as usize) as isize - l.window.pads.left as isize;
    let y0 = (oy * l.window.stride_h as usize) as isize - l.window.pads.top as isize;
    if l.window.pads == Pads::default() {
        // Without padding every window of a valid layer lies inside the input (the shipped
        // models' case, and every row band's but the first and last).
        return Window { y0, x0c: x0 * ic, lo: 0, hi: i.row_len, inside: true };
    }
    let lo_kx = (-x0).clamp(0, kw);
    let hi_kx = (i.w - x0).clamp(lo_kx, kw);
    Window { y0, x0c: x0 * ic, lo: (lo_kx * ic) as usize, hi: (hi_kx * ic) as usize, inside: lo_kx == 0 && hi_kx == kw && y0 >= 0 && y0 + kh <= i.h }
}

/// Zero-point bytes before a depth block of `kb` values in its columns (and weight bytes
/// read before each of its rows): its partial chunk is then a whole one.
fn lead(kb: usize) -> usize {
    (4 - kb % 4) % 4
}

/// When the rows have a partial chunk and one depth block (`K < K_BLOCK`, `K mod 4 > 0`), the
/// rows that start less than `lead` bytes into the weights (row 0, or rows 0..3 when `K` is 1)
/// behind `lead` zero bytes in `buf`, so that no read starts before the weights.
fn head<'b>(w: &[u8], k: usize, buf: &'b mut [u8; K_BLOCK]) -> &'b [u8] {
    let lead = lead(k);
    if k >= K_BLOCK || lead == 0 {
        return &[];
    }
    let len = lead.div_ceil(k).min(w.len() / k) * k;
    buf[lead..lead + len].copy_from_slice(&w[..len]);
    &buf[..lead + len]
}

/// Builds the columns of depth block `k0..k0 + kb` for the pixels of `win`.
fn columns(i: Input<'_>, win: &[Window], k0: usize, kb: usize, patch: &mut Patch, cols: &mut [u32], neg_zp: u32) {
    let lead = lead(kb);
    let (ky0, a0) = (k0 / i.row_len, k0 % i.row_len);
    // Every chunk inside one window row (k0 and kb are multiples of 4 here): widen straight
    // from the input rows of windows without padding, no copy.
    let direct = lead == 0 && i.row_len % 4 == 0;
    // Whole window rows (any depth block of a window that fits one): one run each.
    let rows = if a0 == 0 && kb % i.row_len == 0 { kb / i.row_len } else { 0 };
    // The lead bytes (the gathering writes from `lead` on).
    patch.0[..4].fill(i.zp);
    for (p, v) in win.iter().enumerate() {
        let cols = &mut cols[2 * p..];
        if v.inside && direct {
            let (mut ky, mut a, mut d) = (ky0, a0, 0);
            while d < kb {
                let len = (i.row_len - a).min(kb - d);
                let at = ((v.y0 + ky as isize) * i.row_stride + v.x0c) as usize + a;
                widen(&i.x[at..at + len], &mut cols[2 * d..], neg_zp);
                (d, a, ky) = (d + len, 0, ky + 1);
            }
            continue;
        }
        // A window without padding whose depth block is whole window rows: one word copy
        // (unless its over-read would pass the input's end); any other the slow way.
        let copied = v.inside && rows > 0 && {
            let at = ((v.y0 + ky0 as isize) * i.row_stride + v.x0c) as usize;
            copy_runs(&mut patch.0[lead..], &i.x[at..], rows, i.row_len, i.row_stride as usize)
        };
        if !copied {
            gather(i, v, ky0, a0, &mut patch.0[lead..lead + kb]);
        }
        widen(&patch.0[..lead + kb], cols, neg_zp);
    }
}

/// Copies the window values from window row `ky`, offset `a` on into `dst` (`(ky, kx, ic)`
/// order), padding with the zero point: any window and depth block, a row part at a time.
fn gather(i: Input<'_>, v: &Window, ky: usize, a: usize, dst: &mut [i8]) {
    let (mut ky, mut a, mut d) = (ky, a, 0);
    dst.fill(i.zp);
    while d < dst.len() {
        let len = (i.row_len - a).min(dst.len() - d);
        let iy = v.y0 + ky as isize;
        // Offsets a..a + len split into padding (..lo), input (lo..hi) and padding (hi..);
        // offset o of this window row is input value iy * row_stride + x0c + o.
        let s = v.lo.clamp(a, a + len);
        let e = v.hi.clamp(s, a + len);
        if iy >= 0 && iy < i.h && s < e {
            let at = (iy * i.row_stride + v.x0c + s as isize) as usize;
            dst[d + s - a..d + e - a].copy_from_slice(&i.x[at..at + e - s]);
        }
        (d, a, ky) = (d + len, 0, ky + 1);
    }
}

/// Copies `runs` runs of `len > 0` bytes, run `r` from `src[r * stride..]` to `dst[r * len..]`,
/// a word at a time with unaligned `LDR`/`STR` (allowed on ARMv7-M) instead of `memcpy` calls
/// whose set-up costs as much as these short copies: each run moves whole words, so it also
/// writes up to 3 bytes past its end (the next run overwrites them) and reads up to 3 past
/// its end. `dst` must have room for that; returns false (copying nothing) when `src` has not.
fn copy_runs(dst: &mut [i8], src: &[i8], runs: usize, len: usize, stride: usize) -> bool {
    let words = len.div_ceil(4);
    if src.len() < (runs - 1) * stride + 4 * words {
        return false;
    }
    copy_words(dst, src, runs, len, stride);
    true
}

/// The word loop of [`copy_runs`].
#[cfg(not(target_arch = "arm"))]
fn copy_words(dst: &mut [i8], src: &[i8], runs: usize, len: usize, stride: usize) {
    let words = len.div_ceil(4);
    for r in 0..runs {
        for w in 0..words {
            let (d, s) = (r * len + 4 * w, r * stride + 4 * w);
            dst[d..d + 4].copy_from_slice(&src[s..s + 4]);
        }
    }
}

/// The same on the chip: `LDR`, `STR`, `SUBS`, `BNE` per word, 4 instructions per run.
#[cfg(target_arch = "arm")]
fn copy_words(dst: &mut [i8], src: &[i8], runs: usize, len: usize, stride: usize) {
    let words = len.div_ceil(4);
    // Soundness of the accesses below: run r reads src[r * stride..][..4 * words] and writes
    // dst[r * len..][..4 * words]; this check (a panic, never UB) guarantees the last of each
    // exists (and that both loops run at least once).
    assert!(runs > 0 && len > 0);
    assert!(src.len() >= (runs - 1) * stride + 4 * words && dst.len() >= (runs - 1) * len + 4 * words);
    // SAFETY: the accesses checked above (`dst` an exclusive borrow); LDR and STR may be
    // unaligned on ARMv7-M; only the named registers and flags change; no stack.
    unsafe {
        core::arch::asm!(
            "1:",
            "mov {c}, {words}",
            "2:",
            "ldr {t}, [{s}], #4",
            "str {t}, [{d}], #4",
            "subs {c}, {c}, #1",
            "bne 2b",
            "add {s}, {s}, {s_skip}",
            "sub {d}, {d}, {d_back}",
            "subs {runs}, {runs}, #1",
            "bne 1b",
            d = inout(reg) dst.as_mut_ptr() => _,
            s = inout(reg) src.as_ptr() => _,
            runs = inout(reg) runs => _,
            words = in(reg) words,
            // (Wraps when the rows are shorter than the words: an add of a negative.)
            s_skip = in(reg) stride.wrapping_sub(4 * words),
            d_back = in(reg) 4 * words - len,
            c = out(reg) _,
            t = out(reg) _,
            options(nostack),
        );
    }
}

/// Widens one pixel's window values (`4 * chunks` bytes) into its lanes of the column layout:
/// `cols[8j]`, `cols[8j + 1]` = `(x0, x2) - zp`, `(x1, x3) - zp` of chunk `j` (`cols` starts at
/// the pixel's first word; `neg_zp` holds `-zp` in both lanes).
#[cfg(not(target_arch = "arm"))]
fn widen(patch: &[i8], cols: &mut [u32], neg_zp: u32) {
    for (c, out) in patch.chunks_exact(4).zip(cols.chunks_mut(2 * PIXELS)) {
        let word = u32::from_le_bytes([c[0] as u8, c[1] as u8, c[2] as u8, c[3] as u8]);
        out[0] = sxtab16(neg_zp, word);
        out[1] = sxtab16_ror8(neg_zp, word);
    }
}

/// One chunk of [`widen`] on the chip.
#[cfg(target_arch = "arm")]
macro_rules! widen {
    () => {
        concat!("ldr {w}, [{src}], #4\n", "sxtab16 {a}, {zp}, {w}\n", "sxtab16 {w}, {zp}, {w}, ror #8\n", "strd {a}, {w}, [{dst}], #32\n",)
    };
}

/// The same on the chip: `LDR`, 2 x `SXTAB16`, `STRD` per chunk, two chunks per branch.
// Never inlined: one copy for its two call sites.
#[cfg(target_arch = "arm")]
#[inline(never)]
fn widen(patch: &[i8], cols: &mut [u32], neg_zp: u32) {
    let chunks = patch.len() / 4;
    if chunks == 0 {
        return;
    }
    // Soundness of the stores below: chunk j writes cols[8j] and cols[8j + 1], the last at
    // 8 * (chunks - 1) + 1; this check (a panic, never UB) guarantees it exists.
    assert!(cols.len() > 8 * (chunks - 1) + 1);
    // SAFETY: reads 4 * chunks bytes of `patch` (its length; LDR may be unaligned on ARMv7-M)
    // and writes the words checked above through the exclusive borrow `cols` (a &mut [u32],
    // so word aligned as STRD needs); only the named registers and flags change; no stack.
    unsafe {
        core::arch::asm!(
            // An odd first chunk alone, then two per branch.
            "tst {n}, #1",
            "beq 3f",
            widen!(),
            "3:",
            "lsrs {n}, {n}, #1",
            "beq 4f",
            "2:",
            widen!(),
            widen!(),
            "subs {n}, {n}, #1",
            "bne 2b",
            "4:",
            n = inout(reg) chunks => _,
            src = inout(reg) patch.as_ptr() => _,
            dst = inout(reg) cols.as_mut_ptr() => _,
            zp = in(reg) neg_zp,
            w = out(reg) _,
            a = out(reg) _,
            options(nostack),
        );
    }
}

/// The weights of a layer as the kernel reads them.
struct Weights<'a> {
    /// OHWI, `k` per row.
    w: &'a [u8],
    k: usize,
    /// The first rows behind `lead(k)` zero bytes when they need that (see [`head`]), else
    /// empty.
    head: &'a [u8],
}

impl Weights<'_> {
    /// `accs[c] += row ocs.start + c . columns` over depth block `k0..k0 + kb`, for the first
    /// `n` pixels.
    fn dot_block(&self, n: usize, ocs: core::ops::Range<usize>, k0: usize, kb: usize, cols: &[u32], accs: &mut [[i32; PIXELS]]) {
        let lead = lead(kb);
        let chunks = (kb + lead) / 4;
        let (mut oc, mut accs) = (ocs.start, accs);
        // Rows with too few bytes before them for their lead: from the copy.
        let in_head = if k0 == 0 { self.head.len().saturating_sub(lead) / self.k } else { 0 };
        if oc < in_head {
            let (a, rest) = accs.split_at_mut(in_head.min(ocs.end) - oc);
            dot_rows(n, &self.head[oc * self.k..], self.k, chunks, cols, a);
            (oc, accs) = (oc + a.len(), rest);
        }
        if oc < ocs.end {
            let rows = &self.w[oc * self.k + k0 - lead..(ocs.end - 1) * self.k + k0 + kb];
            dot_rows(n, rows, self.k, chunks, cols, accs);
        }
    }
}

/// `accs[c][p] += sum_j word_j(row c) . chunk j of pixel p` for the first `n` pixels (1 to 4),
/// where row `c` is `rows[c * stride..][..4 * chunks]` in `SXTB16` lanes (see the module
/// documentation).
#[cfg(not(target_arch = "arm"))]
fn dot_rows(n: usize, rows: &[u8], stride: usize, chunks: usize, cols: &[u32], accs: &mut [[i32; PIXELS]]) {
    for (c, acc) in accs.iter_mut().enumerate() {
        let row = &rows[c * stride..c * stride + 4 * chunks];
        for (j, b) in row.chunks_exact(4).enumerate() {
            let word = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let (wl, wh) = (sxtb16(word), sxtb16_ror8(word));
            for (p, a) in acc.iter_mut().enumerate().take(n) {
                *a = smlad(wh, cols[8 * j + 2 * p + 1], smlad(wl, cols[8 * j + 2 * p], *a));
            }
        }
    }
}

/// What the assembly of [`dot_rows`] reloads for every channel (its 13 registers are all
/// taken by the chunk loop, the channel's row and accumulators and this frame's address).
#[cfg(target_arch = "arm")]
#[repr(C)]
struct Frame {
    /// The block's columns (offset 0).
    cols: *const u32,
    /// Passes through the four-chunk loop body, the first one entered part way (4).
    passes: usize,
    /// Chunks the first pass skips, 0..=3; the assembly replaces it with the address it
    /// enters the loop body at (8).
    entry: usize,
    /// Bytes from the end of one row's last chunk to the start of the next row (12).
    skip: isize,
    /// One past the last channel's accumulators (16).
    end: *mut [i32; PIXELS],
}

// The chunk of the `asm!` kernels below (see the module documentation): one weight word
// loaded and widened, then per pixel its `LDRD` and two `SMLAD`s; the last pixel's
// post-increment moves the column pointer to the next chunk.
#[cfg(target_arch = "arm")]
macro_rules! weights {
    () => {
        concat!("ldr {w}, [{pw}], #4\n", "sxtb16 {wl}, {w}\n", "sxtb16 {w}, {w}, ror #8\n")
    };
}
#[cfg(target_arch = "arm")]
#[rustfmt::skip]
macro_rules! pixel {
    ($a:literal, $step:literal) => {
        concat!(
            "ldrd {x0}, {x1}, [{px}], #", $step, "\n",
            "smlad {", $a, "}, {wl}, {x0}, {", $a, "}\n",
            "smlad {", $a, "}, {w}, {x1}, {", $a, "}\n",
        )
    };
}

/// The channel loop of [`dot_rows`] for one pixel count: `$chunk` is its chunk, `$load` and
/// `$store` move its accumulators, `$acc` names them.
///
/// Per channel: reload the frame's columns and pass count, load the sums, jump into the
/// four-chunk loop where the first pass starts (`LDR PC`: one instruction, costing a load and
/// a pipeline refill like the taken branches it replaces), store the sums, step the row
/// pointer and compare with the end.
#[cfg(target_arch = "arm")]
macro_rules! dot_rows_asm {
    ($name:ident, $chunk:expr, $load:expr, $store:expr, $($acc:ident),+) => {
        /// # Safety
        /// `frame` holds `passes` and `entry` as [`Frame`] says for `chunks >= 1` chunks, and
        /// `frame.end` is past `accs` by at least one row; for each channel `c` before
        /// `frame.end`, `rows + c * (4 * chunks + skip)` starts `4 * chunks` readable bytes and
        /// `accs + c` is a writable accumulator row; `frame.cols` holds `8 * chunks` words.
        unsafe fn $name(rows: *const u8, accs: *mut [i32; PIXELS], frame: *mut Frame) {
            // SAFETY: the caller guarantees every access (see above); LDR may be unaligned on
            // ARMv7-M, the LDRD/STRD targets (columns, accumulators, frame) are word aligned;
            // the computed entry lies inside this block (a chunk label plus whole chunks, with
            // the Thumb bit set); only the named registers, flags and the frame change; no
            // stack use.
            unsafe {
                core::arch::asm!(
                    // entry = address of chunk 0 + skipped chunks * bytes per chunk, Thumb bit.
                    "adr {x0}, 20f",
                    "adr {x1}, 21f",
                    "sub {x1}, {x1}, {x0}",
                    "ldr {n}, [{f}, #8]",
                    "mla {x0}, {x1}, {n}, {x0}",
                    "orr {x0}, {x0}, #1",
                    "str {x0}, [{f}, #8]",
                    "1:",
                    "ldr {px}, [{f}]",
                    "ldr {n}, [{f}, #4]",
                    $load,
                    "ldr pc, [{f}, #8]",
                    ".p2align 2",
                    "20:",
                    $chunk,
                    "21:",
                    $chunk,
                    $chunk,
                    $chunk,
                    "subs {n}, {n}, #1",
                    "bne 20b",
                    $store,
                    "ldr {x0}, [{f}, #12]",
                    "add {pw}, {pw}, {x0}",
                    "ldr {x0}, [{f}, #16]",
                    "cmp {pa}, {x0}",
                    "bne 1b",
                    f = in(reg) frame,
                    pw = inout(reg) rows => _,
                    pa = inout(reg) accs => _,
                    n = out(reg) _,
                    px = out(reg) _,
                    w = out(reg) _,
                    wl = out(reg) _,
                    x0 = out(reg) _,
                    x1 = out(reg) _,
                    $($acc = out(reg) _,)+
                    options(nostack),
                );
            }
        }
    };
}

#[cfg(target_arch = "arm")]
dot_rows_asm!(
    dot_rows4,
    concat!(weights!(), pixel!("a0", "8"), pixel!("a1", "8"), pixel!("a2", "8"), pixel!("a3", "8")),
    "ldrd {a0}, {a1}, [{pa}]\nldrd {a2}, {a3}, [{pa}, #8]\n",
    "strd {a0}, {a1}, [{pa}], #8\nstrd {a2}, {a3}, [{pa}], #8\n",
    a0,
    a1,
    a2,
    a3
);
#[cfg(target_arch = "arm")]
dot_rows_asm!(
    dot_rows3,
    concat!(weights!(), pixel!("a0", "8"), pixel!("a1", "8"), pixel!("a2", "16")),
    "ldrd {a0}, {a1}, [{pa}]\nldr {a2}, [{pa}, #8]\n",
    "strd {a0}, {a1}, [{pa}], #8\nstr {a2}, [{pa}], #8\n",
    a0,
    a1,
    a2
);
#[cfg(target_arch = "arm")]
dot_rows_asm!(dot_rows2, concat!(weights!(), pixel!("a0", "8"), pixel!("a1", "24")), "ldrd {a0}, {a1}, [{pa}]\n", "strd {a0}, {a1}, [{pa}], #16\n", a0, a1);
#[cfg(target_arch = "arm")]
dot_rows_asm!(dot_rows1, concat!(weights!(), pixel!("a0", "32")), "ldr {a0}, [{pa}]\n", "str {a0}, [{pa}], #16\n", a0);

/// The same on the chip: one `asm!` loop over the channels for each pixel count. (Its `LDRD`s
/// count as one instruction each and take three cycles on a Cortex-M4, as two `LDR`s would.)
// Never inlined: one copy of the four kernels, whatever the number of call sites.
#[cfg(target_arch = "arm")]
#[inline(never)]
fn dot_rows(n: usize, rows: &[u8], stride: usize, chunks: usize, cols: &[u32], accs: &mut [[i32; PIXELS]]) {
    let c = accs.len();
    // Soundness of the accesses `dot_rows*` make: row c at rows[c * stride..][..4 * chunks],
    // the columns at cols[..8 * chunks], the accumulators accs[..c]; this check (a panic,
    // never UB) guarantees they exist.
    assert!(c > 0 && chunks > 0 && rows.len() >= (c - 1) * stride + 4 * chunks && cols.len() >= 8 * chunks);
    let passes = chunks.div_ceil(4);
    let mut frame =
        Frame { cols: cols.as_ptr(), passes, entry: 4 * passes - chunks, skip: stride as isize - 4 * chunks as isize, end: accs.as_mut_ptr_range().end };
    let (rows, accs, frame) = (rows.as_ptr(), accs.as_mut_ptr(), &mut frame as *mut Frame);
    // SAFETY: the frame says what the check above guarantees.
    unsafe {
        match n {
            1 => dot_rows1(rows, accs, frame),
            2 => dot_rows2(rows, accs, frame),
            3 => dot_rows3(rows, accs, frame),
            _ => dot_rows4(rows, accs, frame),
        }
    }
}
