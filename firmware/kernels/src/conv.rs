//! Convolution: im2col of four output pixels into 16-bit columns, then one weight row against
//! the four columns with `SMLAD`.
//!
//! Blocking. Output pixels (in raster order, across row ends) are taken four at a time. Their
//! input patches (`(ky, kx, ic)` order, the order of an OHWI weight row) are gathered with the
//! padded positions set to the input zero point, and widened to 16 bits with the zero point
//! subtracted, so padding contributes exactly 0 and `acc = bias + sum w * (x - x_zp)` needs no
//! bias correction (and no overflow reasoning beyond the reference's own). Every output
//! channel then streams its weight row once against the four columns: per 4 weights one
//! `LDR`, two `SXTB16` and, per pixel, one `LDRD` and two `SMLAD` (15 instructions for 16
//! MACs, plus the loop branch every second chunk). One `asm!` block runs all channels of a
//! block (`dot4_rows`), so the per-channel bookkeeping (start from the bias or the partial
//! sums, store them, next row) is about 25 instructions; the four sums of each channel are
//! then requantized in one `asm!` loop ([`crate::requant::requantize_block`]).
//!
//! Scratch memory is small and fixed, because it lives on the stack and the firmware's stack
//! is what the 128 KB chip has left after the activation arena (its `main` frame alone holds
//! 12 KB, and `build.rs` only guarantees 16 KB): the accumulation depth `K` is processed in
//! blocks of [`K_BLOCK`] (the columns of a block: 4 x 224 x 2 bytes) and the channels in blocks
//! of [`OC_BLOCK`], whose partial sums wait in a 1 KB accumulator table between depth blocks.
//! About 3 KB in all (PilotNet's stack high-water mark: 15.9 KB).
//!
//! Column layout. `SXTB16` of a weight word `[w0 w1 w2 w3]` gives the lanes `(w0, w2)`,
//! `SXTB16 ROR #8` gives `(w1, w3)`. The columns are widened the same way, so for chunk `j`
//! (inputs `4j..4j+4` of the block) and pixel `p` the words `cols[8j + 2p]` and
//! `cols[8j + 2p + 1]` hold `(x0, x2)` and `(x1, x3)`, minus the zero point: the four pixels'
//! words of one chunk lie next to each other and the kernel reads them with post-incrementing
//! `LDRD`s.
//!
//! Weights stay in flash in their OHWI order (no copy: they do not fit the RAM). A row of `K`
//! weights starts at any byte offset, so the weight `LDR` may be unaligned (allowed for `LDR`
//! on ARMv7-M, one extra bus access on the chip). When a depth block is not a multiple of 4
//! (`K mod 4` weights left over, e.g. 75 in PilotNet's first layer), its partial chunk comes
//! first: the first word of the row shifted left keeps exactly those weights, and the columns
//! hold the matching values in the same high bytes after zero-point padding, so nothing past
//! the row is read and the partial chunk costs one chunk plus two instructions.

use common::format::{read_i32, Conv2d};
use common::interp::{Tensor, TensorMut};
use common::quant::lower_clamp;

#[cfg(not(target_arch = "arm"))]
use crate::dsp::ssub16;
use crate::dsp::{pack16, smlad, sxtb16, sxtb16_ror8};
use crate::requant::{requantize, requantize_block};

/// Output pixels per block.
const PIXELS: usize = 4;
/// Accumulation depth per block (a multiple of 4).
pub const K_BLOCK: usize = 224;
/// Output channels per block.
pub const OC_BLOCK: usize = 64;

/// One pixel's gathered window values, after up to 3 padding bytes (word-aligned for the
/// widening loads).
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

/// Computes the layer (any valid geometry).
// Never inlined: its stack buffers must exist only while it runs, not add to the frame of
// the caller (with LTO the whole application would otherwise hold them at once).
#[inline(never)]
pub fn conv2d(l: &Conv2d<'_>, input: Tensor<'_>, output: TensorMut<'_>) {
    let (is, os) = (input.info.shape, output.info.shape);
    let (ih, iw, ic) = (is.h as isize, is.w as isize, is.c as usize);
    let (kh, kw) = (l.kernel_h as usize, l.kernel_w as usize);
    let row_len = kw * ic;
    let k = kh * row_len;
    let (oc_n, ow) = (os.c as usize, os.w as usize);
    let in_zp = input.info.quant.zero_point;
    let zp2 = pack16(in_zp as i16, in_zp as i16);
    let out_zp = l.output.zero_point as i32;
    let lo = lower_clamp(l.relu, l.output.zero_point) as i32;
    let (w, y) = (l.weights, output.data);
    let src = Input { x: input.data, h: ih, row_stride: iw * ic as isize, zp: in_zp };

    let mut patch = Patch([0; K_BLOCK + 4]);
    let mut cols = [0u32; 2 * PIXELS * K_BLOCK / 4];
    let mut accs = [[0i32; PIXELS]; OC_BLOCK];
    let n_pix = os.h as usize * ow;
    // (Plain counting loops: `step_by` costs over a hundred instructions per output block here.)
    let mut first = 0;
    while first < n_pix {
        // Pixels past the end of the output (last block only) keep stale columns: their sums
        // are computed and dropped.
        let n = PIXELS.min(n_pix - first);
        let mut win = [Window::default(); PIXELS];
        for (p, v) in win.iter_mut().enumerate().take(n) {
            let (oy, ox) = ((first + p) / ow, (first + p) % ow);
            let x0 = (ox * l.stride_w as usize) as isize - l.pads.left as isize;
            let lo_kx = (-x0).clamp(0, kw as isize) as usize;
            let hi_kx = (iw - x0).clamp(lo_kx as isize, kw as isize) as usize;
            let y0 = (oy * l.stride_h as usize) as isize - l.pads.top as isize;
            *v = Window {
                y0,
                x0c: x0 * ic as isize,
                lo: lo_kx * ic,
                hi: hi_kx * ic,
                inside: lo_kx == 0 && hi_kx == kw && y0 >= 0 && y0 + kh as isize <= ih,
            };
        }
        let mut oc0 = 0;
        while oc0 < oc_n {
            let ocs = oc0..oc_n.min(oc0 + OC_BLOCK);
            let mut k0 = 0;
            while k0 < k {
                let kb = K_BLOCK.min(k - k0);
                // im2col of this depth block, its partial chunk (if any) first: the values go
                // to patch offset `pad`, after zero-point padding that makes them whole chunks.
                let pad = (4 - kb % 4) % 4;
                for (p, v) in win.iter().enumerate().take(n) {
                    if v.inside && pad == 0 && row_len % 4 == 0 {
                        // No padding and every chunk inside one window row (k0 and kb are
                        // multiples of 4 here): widen straight from the input rows, no copy.
                        let (mut a, mut d) = (k0 % row_len, 0);
                        let mut row0 = (v.y0 + (k0 / row_len) as isize) * src.row_stride + v.x0c;
                        while d < kb {
                            let len = (row_len - a).min(kb - d);
                            let at = (row0 + a as isize) as usize;
                            widen(&src.x[at..at + len], &mut cols[2 * p + 2 * d..], zp2);
                            (d, a, row0) = (d + len, 0, row0 + src.row_stride);
                        }
                        continue;
                    }
                    patch.0[..pad].fill(in_zp);
                    gather(src, row_len, v, k0, &mut patch.0[pad..pad + kb]);
                    widen(&patch.0[..pad + kb], &mut cols[2 * p..], zp2);
                }
                let cols = &cols[..2 * PIXELS * (pad + kb) / 4];
                let accs = &mut accs[..ocs.len()];
                // The first depth block starts every sum at the channel's bias.
                let bias = (k0 == 0).then(|| &l.bias[4 * ocs.start..4 * ocs.end]);
                if kb >= 4 {
                    // Every channel of the block, row `oc` starting at w[oc * k + k0].
                    dot4_rows(&w[ocs.start * k + k0..(ocs.end - 1) * k + k0 + kb], k, kb, cols, bias, accs);
                } else {
                    // A block shallower than one word (only when the whole depth is 1..3): its
                    // weights zero-padded above, so the word load stays in bounds.
                    for (a, oc) in accs.iter_mut().zip(ocs.clone()) {
                        let mut b = [0u8; 4];
                        b[..kb].copy_from_slice(&w[oc * k + k0..oc * k + k0 + kb]);
                        let init = if bias.is_some() { [read_i32(l.bias, oc); PIXELS] } else { *a };
                        *a = dot4_short(&b, kb, cols, init);
                    }
                }
                k0 += K_BLOCK;
            }
            if n == PIXELS {
                let (accs, mults) = (&accs[..ocs.len()], &l.multipliers[4 * ocs.start..4 * ocs.end]);
                requantize_block(accs, mults, out_zp, lo, &mut y[first * oc_n + ocs.start..], oc_n);
            } else {
                for (a, oc) in accs.iter().zip(ocs) {
                    let m = read_i32(l.multipliers, oc);
                    for (p, acc) in a.iter().enumerate().take(n) {
                        y[(first + p) * oc_n + oc] = requantize(*acc, m, out_zp, lo);
                    }
                }
            }
            oc0 += OC_BLOCK;
        }
        first += PIXELS;
    }
}

/// The input geometry `gather` needs.
#[derive(Clone, Copy)]
struct Input<'a> {
    x: &'a [i8],
    h: isize,
    /// Values per input row (`w * c`).
    row_stride: isize,
    zp: i8,
}

/// Copies the values `k0..k0 + dst.len()` of a window (`(ky, kx, ic)` order, window rows of
/// `row_len` values) into `dst`, padding with the zero point.
#[inline(always)]
fn gather(i: Input<'_>, row_len: usize, v: &Window, k0: usize, dst: &mut [i8]) {
    if v.inside {
        // No padding anywhere in the window (most windows): straight row runs.
        let (mut a, mut d) = (k0 % row_len, 0);
        let mut row0 = (v.y0 + (k0 / row_len) as isize) * i.row_stride + v.x0c;
        while d < dst.len() {
            let len = (row_len - a).min(dst.len() - d);
            let src = (row0 + a as isize) as usize;
            copy(&mut dst[d..d + len], &i.x[src..src + len]);
            d += len;
            a = 0;
            row0 += i.row_stride;
        }
        return;
    }
    let mut k = k0;
    let mut d = 0;
    while d < dst.len() {
        let (ky, a) = (k / row_len, k % row_len);
        let b = row_len.min(a + dst.len() - d); // this window row's part: offsets a..b
        let out = &mut dst[d..d + b - a];
        let iy = v.y0 + ky as isize;
        if iy < 0 || iy >= i.h {
            fill(out, i.zp);
        } else {
            // Offsets a..b split into padding (..lo), input (lo..hi) and padding (hi..).
            // (lo and hi moved into a..b: padding a..s, input s..e, padding e..b.)
            let s = v.lo.clamp(a, b);
            let e = v.hi.clamp(s, b);
            fill(&mut out[..s - a], i.zp);
            // Offset o of this window row is input value iy * row_stride + x0c + o, which is
            // inside the input row for lo <= o < hi.
            if s < e {
                let row0 = iy * i.row_stride + v.x0c;
                copy(&mut out[s - a..e - a], &i.x[(row0 + s as isize) as usize..(row0 + e as isize) as usize]);
            }
            fill(&mut out[e - a..], i.zp);
        }
        d += b - a;
        k += b - a;
    }
}

/// `dst.copy_from_slice(src)` for the short runs of a window row (tens of bytes): a word at a
/// time with unaligned `LDR`/`STR` (allowed on ARMv7-M), the last word overlapping, instead
/// of a `memcpy` call whose set-up costs as much as the copy.
#[inline(always)]
fn copy(dst: &mut [i8], src: &[i8]) {
    let n = dst.len();
    assert_eq!(n, src.len());
    if n < 4 {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
        return;
    }
    let (d, s) = (dst.as_mut_ptr(), src.as_ptr());
    let mut i = 0;
    // SAFETY: every access covers the 4 bytes i..i + 4 with i + 4 <= n, inside both slices
    // (both have length n >= 4); `dst` is an exclusive borrow, so the writes alias nothing else;
    // the unaligned forms have no alignment requirement, and every bit pattern is a valid i8.
    unsafe {
        while i + 4 < n {
            d.add(i).cast::<u32>().write_unaligned(s.add(i).cast::<u32>().read_unaligned());
            i += 4;
        }
        d.add(n - 4).cast::<u32>().write_unaligned(s.add(n - 4).cast::<u32>().read_unaligned());
    }
}

/// `dst.fill(v)` for short runs, like [`copy`].
#[inline(always)]
fn fill(dst: &mut [i8], v: i8) {
    let n = dst.len();
    if n < 4 {
        for d in dst.iter_mut() {
            *d = v;
        }
        return;
    }
    let w = u32::from_ne_bytes([v as u8; 4]);
    let d = dst.as_mut_ptr();
    let mut i = 0;
    // SAFETY: as in `copy`: 4-byte unaligned writes at i..i + 4 <= n inside the exclusive
    // borrow `dst`.
    unsafe {
        while i + 4 < n {
            d.add(i).cast::<u32>().write_unaligned(w);
            i += 4;
        }
        d.add(n - 4).cast::<u32>().write_unaligned(w);
    }
}

/// Widens one pixel's window values (`4 * chunks` bytes) into its lanes of the column layout:
/// `cols[8j]`, `cols[8j + 1]` = `(x0, x2) - zp`, `(x1, x3) - zp` of chunk `j` (`cols` starts at
/// the pixel's first word).
#[cfg(not(target_arch = "arm"))]
fn widen(patch: &[i8], cols: &mut [u32], zp2: u32) {
    for (c, out) in patch.chunks_exact(4).zip(cols.chunks_mut(2 * PIXELS)) {
        let word = u32::from_le_bytes([c[0] as u8, c[1] as u8, c[2] as u8, c[3] as u8]);
        out[0] = ssub16(sxtb16(word), zp2);
        out[1] = ssub16(sxtb16_ror8(word), zp2);
    }
}

/// One chunk of [`widen`] on the chip.
#[cfg(target_arch = "arm")]
macro_rules! widen {
    () => {
        concat!(
            "ldr {w}, [{src}], #4\n",
            "sxtb16 {a}, {w}\n",
            "sxtb16 {w}, {w}, ror #8\n",
            "ssub16 {a}, {a}, {zp}\n",
            "ssub16 {w}, {w}, {zp}\n",
            "strd {a}, {w}, [{dst}], #32\n",
        )
    };
}

/// The same on the chip: `LDR`, 2 x `SXTB16`, 2 x `SSUB16`, `STRD` per chunk, two chunks per
/// branch.
#[cfg(target_arch = "arm")]
fn widen(patch: &[i8], cols: &mut [u32], zp2: u32) {
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
            zp = in(reg) zp2,
            w = out(reg) _,
            a = out(reg) _,
            options(nostack),
        );
    }
}

/// [`dot4`] for a block of `kb < 4` values, whose weights `b[..kb]` are zero-padded to a word.
fn dot4_short(b: &[u8; 4], kb: usize, cols: &[u32], acc: [i32; PIXELS]) -> [i32; PIXELS] {
    // The layout puts the kb values in the high bytes of the single chunk.
    let word = u32::from_le_bytes(*b) << (8 * (4 - kb));
    let (w02, w13) = (sxtb16(word), sxtb16_ror8(word));
    let mut acc = acc;
    for (p, a) in acc.iter_mut().enumerate() {
        *a = smlad(w13, cols[2 * p + 1], smlad(w02, cols[2 * p], *a));
    }
    acc
}

// The chunk of the `asm!` kernels below (see the module documentation): `macs!` multiplies
// the weight lanes {wl} = (w0, w2) and {w} = (w1, w3) into the four pixels' sums; `chunk!`
// first loads and widens the next weight word.
#[cfg(target_arch = "arm")]
macro_rules! macs {
    () => {
        concat!(
            "ldrd {x0}, {x1}, [{pc}], #8\n",
            "smlad {a0}, {wl}, {x0}, {a0}\n",
            "smlad {a0}, {w}, {x1}, {a0}\n",
            "ldrd {x0}, {x1}, [{pc}], #8\n",
            "smlad {a1}, {wl}, {x0}, {a1}\n",
            "smlad {a1}, {w}, {x1}, {a1}\n",
            "ldrd {x0}, {x1}, [{pc}], #8\n",
            "smlad {a2}, {wl}, {x0}, {a2}\n",
            "smlad {a2}, {w}, {x1}, {a2}\n",
            "ldrd {x0}, {x1}, [{pc}], #8\n",
            "smlad {a3}, {wl}, {x0}, {a3}\n",
            "smlad {a3}, {w}, {x1}, {a3}\n",
        )
    };
}
#[cfg(target_arch = "arm")]
macro_rules! chunk {
    () => {
        concat!("ldr {w}, [{pw}], #4\n", "sxtb16 {wl}, {w}\n", "sxtb16 {w}, {w}, ror #8\n", macs!(),)
    };
}
/// [`dot4`] for consecutive channels: `accs[c]` takes the row `rows[c * stride..][..kb]`
/// (`kb >= 4`), starting from `accs[c]`, or from the bias (int32 LE) `bias[4c..4c + 4]` when
/// given. (On the chip this is one `asm!` block; its chunk is the one of `dot4`.)
#[cfg(not(target_arch = "arm"))]
fn dot4_rows(rows: &[u8], stride: usize, kb: usize, cols: &[u32], bias: Option<&[u8]>, accs: &mut [[i32; PIXELS]]) {
    for (c, a) in accs.iter_mut().enumerate() {
        let init = match bias {
            Some(b) => [i32::from_le_bytes([b[4 * c], b[4 * c + 1], b[4 * c + 2], b[4 * c + 3]]); PIXELS],
            None => *a,
        };
        *a = dot4(&rows[c * stride..c * stride + kb], cols, init);
    }
}

/// What [`dot4_rows`]' assembly loop over channels keeps in memory: with the 11 registers of
/// the chunk loop there is one left, which points here.
#[cfg(target_arch = "arm")]
#[repr(C)]
struct RowsFrame {
    /// The next channel's accumulators (offset 0).
    acc: *mut [i32; PIXELS],
    /// The next channel's row (4).
    row: *const u8,
    /// The block's columns (8).
    cols: *const u32,
    /// Full chunks per row (12).
    full: usize,
    /// Values in the partial chunk, 0..=3 (16), and the shift that isolates them (20).
    rem: usize,
    shift: usize,
    /// Bytes from one row to the next (24).
    stride: usize,
    /// Channels left (28).
    left: usize,
    /// The next channel's bias, or null to continue from the accumulators (32).
    bias: *const u8,
}

/// The same on the chip: the chunk loop of [`dot4`] inside a loop over the channels, whose
/// bookkeeping (about 20 instructions a channel) stays in a [`RowsFrame`] instead of the
/// ~50 instructions of a Rust loop around separate `asm!` blocks.
#[cfg(target_arch = "arm")]
fn dot4_rows(rows: &[u8], stride: usize, kb: usize, cols: &[u32], bias: Option<&[u8]>, accs: &mut [[i32; PIXELS]]) {
    let n = accs.len();
    if n == 0 {
        return;
    }
    // Soundness of the accesses below: row c is read at rows[c * stride..c * stride + kb]
    // (bytes 0..4 of it for the partial chunk, so kb >= 4), the columns at
    // cols[..8 * ceil(kb / 4)], the accumulators accs[0..n]; this check (a panic, never UB)
    // guarantees they all exist.
    assert!(kb >= 4 && rows.len() >= (n - 1) * stride + kb && cols.len() >= 2 * PIXELS * kb.div_ceil(4));
    assert!(bias.is_none_or(|b| b.len() >= 4 * n));
    let (full, rem) = (kb / 4, kb % 4);
    let mut frame = RowsFrame {
        acc: accs.as_mut_ptr(),
        row: rows.as_ptr(),
        cols: cols.as_ptr(),
        full,
        rem,
        shift: 8 * (4 - rem),
        stride,
        left: n,
        bias: bias.map_or(core::ptr::null(), |b| b.as_ptr()),
    };
    // SAFETY: reads the rows, columns, biases and accumulators checked above and the frame; writes
    // only the n accumulators (through the exclusive borrow `accs`) and the frame (an
    // exclusive local); LDR may be unaligned on ARMv7-M, the LDRD/STRD targets (`cols`, `accs`,
    // the frame) are word aligned; only the named registers and flags change; no stack use.
    unsafe {
        core::arch::asm!(
            "6:",
            "ldr {pw}, [{f}, #4]",
            "ldr {pc}, [{f}, #8]",
            "ldr {n}, [{f}, #12]",
            "ldr {w}, [{f}, #16]",
            "ldr {wl}, [{f}, #20]",
            // The sums start at the bias (first depth block) or where the last block left them.
            "ldr {x0}, [{f}, #32]",
            "cmp {x0}, #0",
            "beq 8f",
            "ldr {a0}, [{x0}], #4",
            "str {x0}, [{f}, #32]",
            "mov {a1}, {a0}",
            "mov {a2}, {a0}",
            "mov {a3}, {a0}",
            "b 9f",
            "8:",
            "ldr {x0}, [{f}]",
            "ldrd {a0}, {a1}, [{x0}]",
            "ldrd {a2}, {a3}, [{x0}, #8]",
            "9:",
            // The partial chunk: the row's first word shifted left keeps its first `rem` weights.
            "cmp {w}, #0",
            "beq 5f",
            "ldr {x0}, [{pw}]",
            "lsl {x0}, {x0}, {wl}",
            "add {pw}, {pw}, {w}",
            "sxtb16 {wl}, {x0}",
            "sxtb16 {w}, {x0}, ror #8",
            macs!(),
            "5:",
            "tst {n}, #1",
            "beq 3f",
            chunk!(),
            "3:",
            "lsrs {n}, {n}, #1",
            "beq 4f",
            "2:",
            chunk!(),
            chunk!(),
            "subs {n}, {n}, #1",
            "bne 2b",
            "4:",
            // Store the sums, step to the next channel.
            "ldr {x0}, [{f}]",
            "strd {a0}, {a1}, [{x0}], #8",
            "strd {a2}, {a3}, [{x0}], #8",
            "str {x0}, [{f}]",
            "ldr {x0}, [{f}, #4]",
            "ldr {x1}, [{f}, #24]",
            "add {x0}, {x0}, {x1}",
            "str {x0}, [{f}, #4]",
            "ldr {x0}, [{f}, #28]",
            "subs {x0}, {x0}, #1",
            "str {x0}, [{f}, #28]",
            "bne 6b",
            f = in(reg) &mut frame as *mut RowsFrame,
            n = out(reg) _,
            pw = out(reg) _,
            pc = out(reg) _,
            a0 = out(reg) _,
            a1 = out(reg) _,
            a2 = out(reg) _,
            a3 = out(reg) _,
            w = out(reg) _,
            wl = out(reg) _,
            x0 = out(reg) _,
            x1 = out(reg) _,
            options(nostack),
        );
    }
}

/// `acc[p] += sum_k row[k] * col_p[k]` over one depth block in the column layout above, whose
/// partial chunk (when `row.len() % 4 = r > 0`) comes first: chunk 0 holds the block's first `r`
/// values in its high bytes (the low `4 - r` bytes are padding), chunk `j + 1` the values
/// `r + 4j..r + 4j + 4`. `row.len() >= 4`, so the partial weight word is one load of the row's
/// first 4 bytes shifted left by `8 * (4 - r)`, nothing outside the row is read, and the
/// padding lanes meet zero weights.
#[cfg(not(target_arch = "arm"))]
fn dot4(row: &[u8], cols: &[u32], mut acc: [i32; PIXELS]) -> [i32; PIXELS] {
    let rem = row.len() % 4;
    let chunk = |word: u32, cw: &[u32], acc: &mut [i32; PIXELS]| {
        let (w02, w13) = (sxtb16(word), sxtb16_ror8(word));
        for (p, a) in acc.iter_mut().enumerate() {
            *a = smlad(w13, cw[2 * p + 1], smlad(w02, cw[2 * p], *a));
        }
    };
    let mut cols = cols.chunks_exact(2 * PIXELS);
    if rem > 0 {
        let word = u32::from_le_bytes([row[0], row[1], row[2], row[3]]) << (8 * (4 - rem));
        chunk(word, cols.next().unwrap(), &mut acc);
    }
    for (c, cw) in row[rem..].chunks_exact(4).zip(cols) {
        chunk(u32::from_le_bytes([c[0], c[1], c[2], c[3]]), cw, &mut acc);
    }
    acc
}
