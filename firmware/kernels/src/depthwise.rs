//! Depthwise convolution (depth multiplier 1): four channels at a time, one `SMLABB` or
//! `SMLATT` per multiply-accumulate, the sums requantized in registers.
//!
//! Depthwise convolution has little reuse: every weight meets `kernel_w` inputs per output row
//! and every input `kernel_h * kernel_w` weights, and each output has only `kernel_h * kernel_w`
//! products (9 for 3x3) to spread its own cost over. So the layout does the work:
//!
//! - HWC activations and `[ky][kx][c]` weights hold four channels of one tap in one word.
//!   `SXTB16` widens it into two words of halfword lanes, `(c0, c2)` and `(c1, c3)`, and
//!   `SMLABB`/`SMLATT` multiply-accumulate the bottom and the top lane of an input word with the
//!   same lane of its weight word: four channels of a tap cost two `LDRD`s (input and weight
//!   pairs) and four multiply-accumulates. (`SMLAD` would need both lanes of a word to belong to
//!   one channel: pairing two taps that way costs a `PKHBT`/`PKHTB` per `SMLAD`, as CMSIS-NN's
//!   `arm_depthwise_conv_s8_opt` does, which saves nothing unless the pairs are reused.)
//! - Channel groups of four are done one at a time (`Group`): its biases, multipliers and
//!   widened weights in a small table, then for each output row its input window columns are
//!   gathered and widened once (`gather`: `LDR`, two `SXTAB16` against `-zp`, `STRD`), in
//!   column-major order, so that the window of every output pixel is one run of
//!   `kernel_w * kernel_h` slots and the kernel walks it and the weight table with
//!   post-incrementing `LDRD`s. Padding slots are 0 (the zero point, widened), so padding costs
//!   nothing and needs no special case: any kernel size, stride and padding take the same path.
//! - The four sums are requantized straight from their registers (`Sweep`), in
//!   [`crate::requant`]'s fast form when the group's multipliers are below 2^15 (every
//!   realistic layer: 6.5 instructions an output with its share of the multiplier loads and
//!   the store), else in its general form.
//!
//! Scratch is fixed and on the stack: the group table (64 bytes + 8 per tap, [`MAX_TAPS`]) and
//! the gathered columns ([`GATHER_SLOTS`] slots of 8 bytes), 2.6 KB in all. A row too wide for
//! the gathered columns is done in segments. A kernel of more than [`MAX_TAPS`] taps runs the
//! reference kernel.
//!
//! On the chip the sweep and the gathers are hand-scheduled `asm!`; elsewhere the same steps
//! run with the instructions emulated ([`crate::dsp`]).

use core::mem::MaybeUninit;

use common::bytes_as_i8;
use common::format::{read_i32, Depthwise};
use common::interp::{Tensor, TensorMut};
use common::quant::lower_clamp;

use crate::dsp::{pack16, sxtab16, sxtab16_ror8, sxtb16, sxtb16_ror8};
#[cfg(not(target_arch = "arm"))]
use crate::dsp::{smlabb, smlatt};

/// Largest kernel (`kernel_h * kernel_w` taps) the optimized path takes.
pub const MAX_TAPS: usize = 64;
/// Gathered input slots: one tap of four channels each, widened to two words.
pub const GATHER_SLOTS: usize = 256;
/// Output pixels per sweep of a channel group of fewer than four channels (its outputs go
/// through a scratch row first).
const TAIL_PIXELS: usize = 32;
/// Taps per pass of the sweep's unrolled loop.
#[cfg(target_arch = "arm")]
const UNROLL: usize = 9;

/// One tap of four channels, widened: `(c0, c2)` and `(c1, c3)` in halfword lanes.
type Slot = [u32; 2];

/// How the sums of a channel group are requantized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Requant {
    /// Every multiplier below 2^15: the table holds `m << 16` (module documentation).
    Fast,
    /// Any multiplier: [`crate::requant`]'s steps.
    General,
}

/// One channel group's table, and on the chip the frame the sweep's assembly reads (the byte
/// offsets there are those of a 32-bit target).
#[repr(C, align(8))]
struct Group {
    /// Bytes from the end of a pixel's window to the start of the next one's (0).
    px_step: isize,
    /// Bytes from one output pixel to the next (4).
    out_step: usize,
    /// Address of the window after the last pixel's (8).
    end: usize,
    /// Taps the first pass of the unrolled loop skips; the assembly replaces it with the
    /// address it enters the loop at (12).
    entry: usize,
    /// Passes through the unrolled loop per pixel (16).
    passes: usize,
    /// Fast: the output zero point; general: `0x7FFF + zp * 2^16` (20).
    k0: i32,
    /// The lower clamp (24).
    lo: i32,
    /// General: the sign word of `k0` (28).
    k1: i32,
    /// The biases (32).
    bias: [i32; 4],
    /// The multipliers, shifted left 16 bits for [`Requant::Fast`] (48).
    mults: [i32; 4],
    /// The weights, widened, in the order of a gathered window (`kx` major, 64).
    weights: [Slot; MAX_TAPS],
}

#[cfg(target_arch = "arm")]
const _: () = {
    assert!(core::mem::offset_of!(Group, k0) == 20 && core::mem::offset_of!(Group, k1) == 28);
    assert!(core::mem::offset_of!(Group, bias) == 32 && core::mem::offset_of!(Group, mults) == 48);
    assert!(core::mem::offset_of!(Group, weights) == 64);
};

/// The input as the gathering reads it.
#[derive(Clone, Copy)]
struct Input<'a> {
    x: &'a [i8],
    h: isize,
    w: isize,
    c: usize,
    zp: i8,
    /// `-zp` in both halfword lanes.
    neg_zp: u32,
}

/// Computes the layer (any valid geometry).
// Never inlined: its stack buffers must exist only while it runs (see `conv::conv2d`).
#[inline(never)]
pub fn depthwise(l: &Depthwise<'_>, input: Tensor<'_>, output: TensorMut<'_>) {
    let win = l.window;
    let (kh, kw) = (win.kernel_h as usize, win.kernel_w as usize);
    let taps = kh * kw;
    if taps > MAX_TAPS {
        return common::kernels::depthwise(l, input, output);
    }
    let (is, os) = (input.info.shape, output.info.shape);
    let zp = input.info.quant.zero_point;
    let src = Input { x: input.data, h: is.h as isize, w: is.w as isize, c: is.c as usize, zp, neg_zp: pack16(-(zp as i16), -(zp as i16)) };
    let (oh, ow, c) = (os.h as usize, os.w as usize, src.c);
    let (sh, sw) = (win.stride_h as usize, win.stride_w as usize);
    let out_zp = l.output.zero_point as i32;
    let lo = lower_clamp(l.relu, l.output.zero_point) as i32;
    // Output pixels per gathered segment (at least one: `taps <= MAX_TAPS <= GATHER_SLOTS`).
    let seg = (GATHER_SLOTS / kh - kw) / sw + 1;
    let y = output.data;

    let mut group =
        Group { px_step: 0, out_step: 0, end: 0, entry: 0, passes: 0, k0: 0, lo: 0, k1: 0, bias: [0; 4], mults: [0; 4], weights: [[0; 2]; MAX_TAPS] };
    // (Not zeroed: a sweep reads only slots that `Columns` wrote, see there.)
    let mut slots = [MaybeUninit::<Slot>::uninit(); GATHER_SLOTS];
    let mut tail = [0i8; 4 * TAIL_PIXELS];
    // Row by row, segment by segment, then channel group by group: the geometry and the
    // padding slots of a segment are the same for every group. (The group's table is then
    // rebuilt for every segment; in the row-band interpreter's calls, one output row each, it
    // is built once per call either way.)
    for oy in 0..oh {
        let iy0 = (oy * sh) as isize - win.pads.top as isize;
        let mut ox0 = 0;
        while ox0 < ow {
            // Partial groups go through `tail`: at most `TAIL_PIXELS` pixels.
            let n = if c % 4 == 0 { seg } else { seg.min(TAIL_PIXELS) }.min(ow - ox0);
            let ix0 = (ox0 * sw) as isize - win.pads.left as isize;
            let mut cols = Columns::new(&mut slots, src, kh, (iy0, ix0), (n - 1) * sw + kw);
            let at = (oy * ow + ox0) * c;
            let mut c0 = 0;
            while c0 < c {
                let cn = (c - c0).min(4);
                let requant = load_group(l, c, c0, (kh, kw), &mut group);
                let cols = cols.gather(src, c0, cn);
                let sweep = Sweep { taps, step: sw * kh, n, requant, zp: out_zp, lo };
                if cn == 4 {
                    sweep.run(&mut group, cols, &mut y[at + c0..], c);
                } else {
                    sweep.run(&mut group, cols, &mut tail, 4);
                    for p in 0..n {
                        y[at + c0 + p * c..][..cn].copy_from_slice(&tail[4 * p..4 * p + cn]);
                    }
                }
                c0 += 4;
            }
            ox0 += n;
        }
    }
}

/// Fills `group` with channels `c0..c0 + 4` (those past `c` get zero weights and biases) and
/// says how to requantize them.
fn load_group(l: &Depthwise<'_>, c: usize, c0: usize, (kh, kw): (usize, usize), group: &mut Group) -> Requant {
    let cn = (c - c0).min(4);
    let (mut bias, mut mults) = ([0i32; 4], [1i32; 4]);
    for j in 0..cn {
        bias[j] = read_i32(l.bias, c0 + j);
        mults[j] = read_i32(l.multipliers, c0 + j);
    }
    group.bias = bias;
    let requant = if mults.iter().all(|&m| m < 1 << 15) { Requant::Fast } else { Requant::General };
    group.mults = if requant == Requant::Fast { mults.map(|m| m << 16) } else { mults };
    // Tap `(ky, kx)` holds the group's weights at `(ky * kw + kx) * c` on; the table is `kx`
    // major like a gathered window, so it is gathered the same way (zero point 0).
    let w = &bytes_as_i8(l.weights)[c0..];
    // SAFETY: `gather_words` and the loop below write only initialized slots into the
    // table (which stays initialized), and `MaybeUninit<Slot>` has the layout of `Slot`.
    let table = unsafe { &mut *(&mut group.weights[..] as *mut [Slot] as *mut [MaybeUninit<Slot>]) };
    if cn == 4 {
        gather_words(w, kw, kh, (c, kw * c), table, kh, 0);
    } else {
        for t in 0..kh * kw {
            let mut b = [0u8; 4];
            for (d, s) in b.iter_mut().zip(&w[t * c..t * c + cn]) {
                *d = *s as u8;
            }
            let word = u32::from_le_bytes(b);
            table[(t % kw) * kh + t / kw].write([sxtb16(word), sxtb16_ror8(word)]);
        }
    }
    requant
}

/// The gathered window columns `ix0..ix0 + ncols` of input rows `iy0..iy0 + kh` for one
/// segment of an output row, one channel group at a time: slot `(i, r)` at `i * kh + r`,
/// widened with the zero point subtracted; slots outside the input are 0.
///
/// [`Columns::new`] writes the padding slots (the same for every group), [`Columns::gather`]
/// every other slot of a group (rows `r0..r1` of columns `i_lo..i_hi`), so after a gather all
/// `ncols * kh` slots are written.
struct Columns<'c> {
    slots: &'c mut [MaybeUninit<Slot>],
    kh: usize,
    /// Kernel rows inside the input.
    r0: usize,
    r1: usize,
    /// Columns inside the input.
    i_lo: usize,
    i_hi: usize,
    /// Where slot `(i_lo, r0)` of channel 0 is in the input.
    at: usize,
}

impl<'c> Columns<'c> {
    fn new(slots: &'c mut [MaybeUninit<Slot>], i: Input<'_>, kh: usize, (iy0, ix0): (isize, isize), ncols: usize) -> Self {
        let (kh_i, n_i) = (kh as isize, ncols as isize);
        let (r0, i_lo) = ((-iy0).clamp(0, kh_i) as usize, (-ix0).clamp(0, n_i) as usize);
        let (r1, i_hi) = ((i.h - iy0).clamp(r0 as isize, kh_i) as usize, (i.w - ix0).clamp(i_lo as isize, n_i) as usize);
        let slots = &mut slots[..ncols * kh];
        let zero = |s: &mut [MaybeUninit<Slot>]| s.iter_mut().for_each(|s| _ = s.write([0; 2]));
        zero(&mut slots[..i_lo * kh]);
        zero(&mut slots[i_hi * kh..]);
        if r0 > 0 || r1 < kh {
            for col in i_lo..i_hi {
                zero(&mut slots[col * kh..col * kh + r0]);
                zero(&mut slots[col * kh + r1..(col + 1) * kh]);
            }
        }
        let at = if r0 < r1 && i_lo < i_hi { ((iy0 + r0 as isize) * i.w + ix0 + i_lo as isize) as usize * i.c } else { 0 };
        Columns { slots, kh, r0, r1, i_lo, i_hi, at }
    }

    /// Gathers channels `c0..c0 + cn` and returns all the slots.
    fn gather(&mut self, i: Input<'_>, c0: usize, cn: usize) -> &[Slot] {
        let (kh, r0) = (self.kh, self.r0);
        let (n, rows) = (self.i_hi - self.i_lo, self.r1 - r0);
        if n > 0 && rows > 0 {
            let row_stride = i.w as usize * i.c;
            let (x, dst) = (&i.x[self.at + c0..], &mut self.slots[self.i_lo * kh + r0..]);
            if cn == 4 {
                gather_words(x, n, rows, (i.c, row_stride), dst, kh, i.neg_zp);
            } else {
                // A partial group: byte by byte, the missing channels at the zero point (they
                // widen to 0), so that no read passes the input's end.
                for col in 0..n {
                    for r in 0..rows {
                        let p = r * row_stride + col * i.c;
                        let mut b = [i.zp as u8; 4];
                        for (d, s) in b.iter_mut().zip(&x[p..p + cn]) {
                            *d = *s as u8;
                        }
                        let word = u32::from_le_bytes(b);
                        dst[col * kh + r].write([sxtab16(i.neg_zp, word), sxtab16_ror8(i.neg_zp, word)]);
                    }
                }
            }
        }
        // SAFETY: every slot is written, the padding ones by `new` and the others just above
        // (see the type's documentation); `MaybeUninit<Slot>` has the layout of `Slot`.
        unsafe { &*(&*self.slots as *const [MaybeUninit<Slot>] as *const [Slot]) }
    }
}

/// Widens `n` columns of `rows` words (column `i`, row `r` at `x[r * rs + i * c..][..4]`) into
/// `dst[i * kh + r]`.
#[cfg(not(target_arch = "arm"))]
fn gather_words(x: &[i8], n: usize, rows: usize, (c, rs): (usize, usize), dst: &mut [MaybeUninit<Slot>], kh: usize, neg_zp: u32) {
    for col in 0..n {
        for r in 0..rows {
            let p = r * rs + col * c;
            let word = u32::from_le_bytes([x[p] as u8, x[p + 1] as u8, x[p + 2] as u8, x[p + 3] as u8]);
            dst[col * kh + r].write([sxtab16(neg_zp, word), sxtab16_ror8(neg_zp, word)]);
        }
    }
}

/// The same on the chip: three rows a column in one `asm!` loop when the kernel has three
/// rows and all are inside the input (15 instructions a column), else a column of any rows
/// at a time (7 instructions a slot, 4 a column).
#[cfg(target_arch = "arm")]
fn gather_words(x: &[i8], n: usize, rows: usize, (c, rs): (usize, usize), dst: &mut [MaybeUninit<Slot>], kh: usize, neg_zp: u32) {
    // Soundness of the accesses below: column i, row r reads x[r * rs + i * c..][..4] and
    // writes dst[i * kh + r]; this check (a panic, never UB) guarantees the last of each
    // exists, and that both loops run at least once.
    assert!(n > 0 && rows > 0 && rows <= kh);
    assert!(x.len() >= (rows - 1) * rs + (n - 1) * c + 4 && dst.len() >= (n - 1) * kh + rows);
    let (s, d) = (x.as_ptr(), dst.as_mut_ptr());
    // SAFETY: the accesses checked above (`dst` an exclusive borrow of word-aligned slots, as
    // STRD needs, which it initializes; LDR may be unaligned on ARMv7-M); only the named registers and the flags
    // change; no stack use.
    unsafe {
        if kh == 3 && rows == 3 {
            core::arch::asm!(
                "1:",
                "ldr {w0}, [{s}]",
                "ldr {w1}, [{s}, {rs}]",
                "ldr {w2}, [{s}, {rs}, lsl #1]",
                "add {s}, {s}, {c}",
                "sxtab16 {e}, {z}, {w0}",
                "sxtab16 {w0}, {z}, {w0}, ror #8",
                "strd {e}, {w0}, [{d}], #8",
                "sxtab16 {e}, {z}, {w1}",
                "sxtab16 {w1}, {z}, {w1}, ror #8",
                "strd {e}, {w1}, [{d}], #8",
                "sxtab16 {e}, {z}, {w2}",
                "sxtab16 {w2}, {z}, {w2}, ror #8",
                "strd {e}, {w2}, [{d}], #8",
                "subs {n}, {n}, #1",
                "bne 1b",
                s = inout(reg) s => _,
                d = inout(reg) d => _,
                n = inout(reg) n => _,
                rs = in(reg) rs,
                c = in(reg) c,
                z = in(reg) neg_zp,
                w0 = out(reg) _,
                w1 = out(reg) _,
                w2 = out(reg) _,
                e = out(reg) _,
                options(nostack),
            );
        } else {
            core::arch::asm!(
                "1:",
                "mov {s2}, {s}",
                "mov {d2}, {d}",
                "mov {r}, {rows}",
                "2:",
                "ldr {w}, [{s2}]",
                "add {s2}, {s2}, {rs}",
                "sxtab16 {e}, {z}, {w}",
                "sxtab16 {w}, {z}, {w}, ror #8",
                "strd {e}, {w}, [{d2}], #8",
                "subs {r}, {r}, #1",
                "bne 2b",
                "add {s}, {s}, {c}",
                "add {d}, {d}, {dstep}",
                "subs {n}, {n}, #1",
                "bne 1b",
                s = inout(reg) s => _,
                d = inout(reg) d => _,
                n = inout(reg) n => _,
                rows = in(reg) rows,
                rs = in(reg) rs,
                c = in(reg) c,
                z = in(reg) neg_zp,
                dstep = in(reg) 8 * kh,
                s2 = out(reg) _,
                d2 = out(reg) _,
                r = out(reg) _,
                w = out(reg) _,
                e = out(reg) _,
                options(nostack),
            );
        }
    }
}

/// One sweep along a segment of an output row: `n` pixels, pixel `p`'s window at
/// `cols[p * step..][..taps]`, its four outputs at `out[p * out_step..][..4]`.
struct Sweep {
    taps: usize,
    step: usize,
    n: usize,
    requant: Requant,
    /// Output zero point and lower clamp.
    zp: i32,
    lo: i32,
}

impl Sweep {
    #[cfg(not(target_arch = "arm"))]
    fn run(&self, g: &mut Group, cols: &[Slot], out: &mut [i8], out_step: usize) {
        for p in 0..self.n {
            let mut a = g.bias;
            for (x, w) in cols[p * self.step..p * self.step + self.taps].iter().zip(&g.weights) {
                a[0] = smlabb(x[0], w[0], a[0]);
                a[2] = smlatt(x[0], w[0], a[2]);
                a[1] = smlabb(x[1], w[1], a[1]);
                a[3] = smlatt(x[1], w[1], a[3]);
            }
            for (ch, (acc, m)) in a.iter().zip(g.mults).enumerate() {
                out[p * out_step + ch] = match self.requant {
                    Requant::Fast => crate::requant::requantize_fast(*acc, m, self.zp, self.lo),
                    Requant::General => crate::requant::requantize(*acc, m, self.zp, self.lo),
                };
            }
        }
    }

    /// The same on the chip: one `asm!` loop over the pixels ([`sweep_fast`] and its kin), 6
    /// instructions a tap (two `LDRD`s, four multiply-accumulates), 6.5 an output with
    /// [`Requant::Fast`] (10 with a lower clamp above -128, 13 general), 16 a pixel besides;
    /// 9 besides for 9 taps (every 3x3 kernel) in the fast form without a clamp
    /// ([`sweep9_fast`]).
    #[cfg(target_arch = "arm")]
    fn run(&self, g: &mut Group, cols: &[Slot], out: &mut [i8], out_step: usize) {
        let (n, taps, step) = (self.n, self.taps, self.step);
        // Soundness of the accesses the assembly makes: pixel p reads cols[p * step..][..taps]
        // and g.weights[..taps] and writes out[p * out_step..][..4]; this check (a panic,
        // never UB) guarantees the last of each exists.
        assert!(n > 0 && taps > 0 && taps <= MAX_TAPS);
        assert!(cols.len() >= (n - 1) * step + taps && out.len() >= (n - 1) * out_step + 4);
        let passes = taps.div_ceil(UNROLL);
        let nine = taps == 9 && self.requant == Requant::Fast && self.lo == -128;
        // (`sweep9_fast` reads the window at fixed offsets: it steps the whole `step`.)
        g.px_step = 8 * (step as isize - if nine { 0 } else { taps as isize });
        g.out_step = out_step;
        g.end = cols.as_ptr() as usize + 8 * n * step;
        g.entry = UNROLL * passes - taps;
        g.passes = passes;
        g.lo = self.lo;
        let kz = 0x7FFF + (self.zp << 16);
        (g.k0, g.k1) = match self.requant {
            Requant::Fast => (self.zp, 0),
            Requant::General => (kz, kz >> 31),
        };
        let (cols, out, frame) = (cols.as_ptr(), out.as_mut_ptr(), g as *mut Group);
        // SAFETY: the frame says what the check above guarantees (and `sweep9_fast` reads the
        // pixel count from `n`, as checked).
        unsafe {
            match self.requant {
                _ if nine => sweep9_fast(cols, out, frame, n),
                Requant::Fast if self.lo == -128 => sweep_fast(cols, out, frame),
                Requant::Fast => sweep_fast_clamp(cols, out, frame),
                Requant::General => sweep_general(cols, out, frame),
            }
        }
    }
}

/// One tap of the sweep: the input and weight slots, then the four channels' products.
#[cfg(target_arch = "arm")]
macro_rules! tap {
    () => {
        concat!(
            "ldrd {x0}, {x1}, [{px}], #8\n",
            "ldrd {w0}, {w1}, [{pw}], #8\n",
            "smlabb {a0}, {x0}, {w0}, {a0}\n",
            "smlatt {a2}, {x0}, {w0}, {a2}\n",
            "smlabb {a1}, {x1}, {w1}, {a1}\n",
            "smlatt {a3}, {x1}, {w1}, {a3}\n",
        )
    };
}

/// [`Requant::Fast`] of the sum in `$a` with the multiplier in `$m` into output byte `$c`,
/// with `x1 = 0x7FFF_FFFF`, the zero point in `w0` (or in `$zp`), `$t` a scratch register and
/// `$clamp` the lower clamp (against `x0`) or nothing.
#[cfg(target_arch = "arm")]
#[rustfmt::skip]
macro_rules! fast {
    ($a:literal, $m:literal, $t:literal, $c:literal, $clamp:expr) => {
        fast!($a, $m, $t, $c, $clamp, "w0")
    };
    ($a:literal, $m:literal, $t:literal, $c:literal, $clamp:expr, $zp:literal) => {
        concat!(
            "smull {", $a, "}, {w1}, {", $a, "}, {", $m, "}\n",
            "lsrs {", $t, "}, {w1}, #1\n",
            "adcs {", $t, "}, {", $a, "}, {x1}\n",
            "adc {w1}, {w1}, {", $zp, "}\n",
            "ssat {w1}, #8, {w1}\n",
            $clamp,
            "strb {w1}, [{po}, #", $c, "]\n",
        )
    };
}

/// [`Requant::General`] (the steps of [`crate::requant`]) of the sum in `$a`, with `x1` and
/// `w0` the two words of `0x7FFF + zp * 2^16` and `x0` the lower clamp.
#[cfg(target_arch = "arm")]
#[rustfmt::skip]
macro_rules! general {
    ($a:literal, $m:literal, $c:literal) => {
        concat!(
            "ldr {n}, [{f}, #", $m, "]\n",
            "smull {", $a, "}, {w1}, {", $a, "}, {n}\n",
            "lsrs {n}, {", $a, "}, #17\n",
            "adcs {", $a, "}, {", $a, "}, {x1}\n",
            "adc {w1}, {w1}, {w0}\n",
            "ssat {w1}, #16, {w1}\n",
            "lsrs {", $a, "}, {", $a, "}, #16\n",
            "orr {", $a, "}, {", $a, "}, {w1}, lsl #16\n",
            "cmp {", $a, "}, {x0}\n",
            "it lt\n",
            "movlt {", $a, "}, {x0}\n",
            "ssat {", $a, "}, #8, {", $a, "}\n",
            "strb {", $a, "}, [{po}, #", $c, "]\n",
        )
    };
}

/// The pixel loop of [`Sweep::run`] with the requantization `$pre` (its constants into
/// registers) + `$req` (the four outputs).
///
/// Per pixel: the four sums start at the biases, the weight pointer at the table, and the
/// tap loop is entered where its first pass starts (`LDR PC`, as in [`crate::conv`]); then
/// requantize and store, step the window, the output and compare with the end.
#[cfg(target_arch = "arm")]
macro_rules! sweep_asm {
    ($name:ident, $pre:expr, $req:expr) => {
        /// # Safety
        /// `frame` is a [`Group`] whose header describes `n >= 1` pixels as [`Sweep::run`]
        /// writes it, `cols` holds every pixel's window and `out` every pixel's four bytes.
        #[inline(never)]
        unsafe fn $name(cols: *const Slot, out: *mut i8, frame: *mut Group) {
            // SAFETY: the caller guarantees every access (see above); the LDRD targets (slots,
            // the frame) are word aligned; the computed entry lies inside this block (a tap
            // label plus whole taps, with the Thumb bit set); only the named registers, flags,
            // the sticky Q bit and the frame's entry word change; no stack use.
            unsafe {
                core::arch::asm!(
                    "adr {x0}, 20f",
                    "adr {x1}, 21f",
                    "sub {x1}, {x1}, {x0}",
                    "ldr {n}, [{f}, #12]",
                    "mla {x0}, {x1}, {n}, {x0}",
                    "orr {x0}, {x0}, #1",
                    "str {x0}, [{f}, #12]",
                    "1:",
                    "ldrd {a0}, {a1}, [{f}, #32]",
                    "ldrd {a2}, {a3}, [{f}, #40]",
                    "add {pw}, {f}, #64",
                    "ldr {n}, [{f}, #16]",
                    "ldr pc, [{f}, #12]",
                    ".p2align 2",
                    "20:",
                    tap!(),
                    "21:",
                    tap!(),
                    tap!(),
                    tap!(),
                    tap!(),
                    tap!(),
                    tap!(),
                    tap!(),
                    tap!(),
                    "subs {n}, {n}, #1",
                    "bne 20b",
                    $pre,
                    $req,
                    "ldr {x0}, [{f}]",
                    "add {px}, {px}, {x0}",
                    "ldr {x0}, [{f}, #4]",
                    "add {po}, {po}, {x0}",
                    "ldr {x0}, [{f}, #8]",
                    "cmp {px}, {x0}",
                    "bne 1b",
                    f = in(reg) frame,
                    px = inout(reg) cols => _,
                    po = inout(reg) out => _,
                    pw = out(reg) _,
                    n = out(reg) _,
                    x0 = out(reg) _,
                    x1 = out(reg) _,
                    w0 = out(reg) _,
                    w1 = out(reg) _,
                    a0 = out(reg) _,
                    a1 = out(reg) _,
                    a2 = out(reg) _,
                    a3 = out(reg) _,
                    options(nostack),
                );
            }
        }
    };
}

/// Tap `$t` of [`sweep9_fast`]: the slots at fixed offsets from the window and the frame.
#[cfg(target_arch = "arm")]
#[rustfmt::skip]
macro_rules! tap9 {
    ($x:literal, $w:literal) => {
        concat!(
            "ldrd {x0}, {x1}, [{px}, #", $x, "]\n",
            "ldrd {w0}, {w1}, [{f}, #", $w, "]\n",
            "smlabb {a0}, {x0}, {w0}, {a0}\n",
            "smlatt {a2}, {x0}, {w0}, {a2}\n",
            "smlabb {a1}, {x1}, {w1}, {a1}\n",
            "smlatt {a3}, {x1}, {w1}, {a3}\n",
        )
    };
}

/// [`Sweep::run`]'s pixel loop for 9 taps in the fast form without a clamp: the nine taps
/// unrolled at fixed offsets (no weight pointer, tap counter or computed entry), so a register
/// is left for the pixel count and one for the zero point.
///
/// # Safety
/// As for the other sweeps, with `n >= 1` the pixel count.
#[cfg(target_arch = "arm")]
#[inline(never)]
unsafe fn sweep9_fast(cols: *const Slot, out: *mut i8, frame: *mut Group, n: usize) {
    // SAFETY: the caller guarantees every access (see above); the LDRD targets (slots, the
    // frame) are word aligned; only the named registers, flags and the sticky Q bit change;
    // no stack use.
    unsafe {
        core::arch::asm!(
            "ldr {zp}, [{f}, #20]",
            "1:",
            "ldrd {a0}, {a1}, [{f}, #32]",
            "ldrd {a2}, {a3}, [{f}, #40]",
            tap9!("0", "64"),
            tap9!("8", "72"),
            tap9!("16", "80"),
            tap9!("24", "88"),
            tap9!("32", "96"),
            tap9!("40", "104"),
            tap9!("48", "112"),
            tap9!("56", "120"),
            tap9!("64", "128"),
            "mvn {x1}, #0x80000000",
            "ldrd {x0}, {w0}, [{f}, #48]",
            fast!("a0", "x0", "x0", "0", "", "zp"),
            fast!("a1", "w0", "w0", "1", "", "zp"),
            "ldrd {x0}, {w0}, [{f}, #56]",
            fast!("a2", "x0", "x0", "2", "", "zp"),
            fast!("a3", "w0", "w0", "3", "", "zp"),
            "ldr {x0}, [{f}]",
            "add {px}, {px}, {x0}",
            "ldr {x0}, [{f}, #4]",
            "add {po}, {po}, {x0}",
            "subs {n}, {n}, #1",
            "bne 1b",
            f = in(reg) frame,
            px = inout(reg) cols => _,
            po = inout(reg) out => _,
            n = inout(reg) n => _,
            zp = out(reg) _,
            x0 = out(reg) _,
            x1 = out(reg) _,
            w0 = out(reg) _,
            w1 = out(reg) _,
            a0 = out(reg) _,
            a1 = out(reg) _,
            a2 = out(reg) _,
            a3 = out(reg) _,
            options(nostack),
        );
    }
}

#[cfg(target_arch = "arm")]
sweep_asm!(
    sweep_fast,
    "mvn {x1}, #0x80000000\nldr {w0}, [{f}, #20]\n",
    concat!(
        "ldrd {n}, {x0}, [{f}, #48]\n",
        fast!("a0", "n", "pw", "0", ""),
        fast!("a1", "x0", "pw", "1", ""),
        "ldrd {n}, {x0}, [{f}, #56]\n",
        fast!("a2", "n", "pw", "2", ""),
        fast!("a3", "x0", "pw", "3", "")
    )
);
#[cfg(target_arch = "arm")]
sweep_asm!(
    sweep_fast_clamp,
    "mvn {x1}, #0x80000000\nldr {w0}, [{f}, #20]\nldr {x0}, [{f}, #24]\n",
    concat!(
        "ldr {n}, [{f}, #48]\n",
        fast!("a0", "n", "n", "0", "cmp {w1}, {x0}\nit lt\nmovlt {w1}, {x0}\n"),
        "ldr {n}, [{f}, #52]\n",
        fast!("a1", "n", "n", "1", "cmp {w1}, {x0}\nit lt\nmovlt {w1}, {x0}\n"),
        "ldr {n}, [{f}, #56]\n",
        fast!("a2", "n", "n", "2", "cmp {w1}, {x0}\nit lt\nmovlt {w1}, {x0}\n"),
        "ldr {n}, [{f}, #60]\n",
        fast!("a3", "n", "n", "3", "cmp {w1}, {x0}\nit lt\nmovlt {w1}, {x0}\n")
    )
);
#[cfg(target_arch = "arm")]
sweep_asm!(
    sweep_general,
    "ldr {x1}, [{f}, #20]\nldr {w0}, [{f}, #28]\nldr {x0}, [{f}, #24]\n",
    concat!(general!("a0", "48", "0"), general!("a1", "52", "1"), general!("a2", "56", "2"), general!("a3", "60", "3"))
);
