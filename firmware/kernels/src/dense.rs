//! Fully connected: the input widened to 16 bits (zero point subtracted), then two weight rows
//! at a time against it with `SMLAD`.
//!
//! Dense layers read every weight once, so the cost is the weight stream: per 4 weights one
//! `LDR`, two `SXTB16` (unavoidable for int8 weights with `SMLAD`) and two `SMLAD`; taking two
//! rows per pass shares the input `LDRD` between them. The input uses the column layout of
//! [`crate::conv`] for a single pixel: chunk `j` is `(x0, x2), (x1, x3)`. As in the
//! convolution, the input is processed in blocks of [`IN_BLOCK`] values and the outputs in
//! blocks of [`OUT_BLOCK`], so the stack scratch stays at about 2.6 KB for any layer size.

use common::format::{read_i32, Dense};
use common::interp::{Tensor, TensorMut};
use common::quant::lower_clamp;

use crate::dsp::{pack16, smlad, ssub16, sxtb16, sxtb16_ror8};
use crate::requant::requantize;

/// Input values per block (a multiple of 4).
pub const IN_BLOCK: usize = 1024;
/// Outputs per block.
pub const OUT_BLOCK: usize = 128;

/// Computes the layer (any size).
// Never inlined: its stack buffers must exist only while it runs, not add to the frame of
// the caller (with LTO the whole application would otherwise hold them at once).
#[inline(never)]
pub fn dense(l: &Dense<'_>, input: Tensor<'_>, output: TensorMut<'_>) {
    let x = input.data;
    let n_in = x.len();
    let in_zp = input.info.quant.zero_point;
    let zp2 = pack16(in_zp as i16, in_zp as i16);
    let out_zp = l.output.zero_point as i32;
    let lo = lower_clamp(l.relu, l.output.zero_point) as i32;
    let (w, y) = (l.weights, output.data);
    let n_out = y.len();

    let mut xs = [0u32; IN_BLOCK / 2];
    let mut accs = [0i32; OUT_BLOCK];
    for o0 in (0..n_out).step_by(OUT_BLOCK) {
        let outs = o0..n_out.min(o0 + OUT_BLOCK);
        let accs = &mut accs[..outs.len()];
        for (a, o) in accs.iter_mut().zip(outs.clone()) {
            *a = read_i32(l.bias, o);
        }
        for k0 in (0..n_in).step_by(IN_BLOCK) {
            let kb = IN_BLOCK.min(n_in - k0);
            let (full, chunks) = (kb / 4, kb.div_ceil(4));
            // Widen the block; the padded lanes of its last chunk meet zero weights.
            for (j, c) in x[k0..k0 + kb].chunks(4).enumerate() {
                let mut b = [in_zp as u8; 4];
                for (d, s) in b.iter_mut().zip(c) {
                    *d = *s as u8;
                }
                let word = u32::from_le_bytes(b);
                xs[2 * j] = ssub16(sxtb16(word), zp2);
                xs[2 * j + 1] = ssub16(sxtb16_ror8(word), zp2);
            }
            let xs = &xs[..2 * chunks];
            let row = |o: usize| &w[o * n_in + k0..o * n_in + k0 + kb];
            // The block's last 1..3 weights of a row, zero-padded to a word.
            let tail = |r: &[u8], acc: i32| -> i32 {
                if full == chunks {
                    return acc;
                }
                let word = tail_word(r, full);
                smlad(sxtb16_ror8(word), xs[2 * full + 1], smlad(sxtb16(word), xs[2 * full], acc))
            };
            let mut pairs = accs.chunks_exact_mut(2);
            let mut o = outs.start;
            for pair in &mut pairs {
                let (ra, rb) = (row(o), row(o + 1));
                let [a, b] = dot2(&ra[..4 * full], &rb[..4 * full], &xs[..2 * full], [pair[0], pair[1]]);
                pair[0] = tail(ra, a);
                pair[1] = tail(rb, b);
                o += 2;
            }
            if let [a] = pairs.into_remainder() {
                // An odd last row: the same kernel with the row twice, one result kept.
                let r = row(o);
                let [s, _] = dot2(&r[..4 * full], &r[..4 * full], &xs[..2 * full], [*a, 0]);
                *a = tail(r, s);
            }
        }
        for (a, o) in accs.iter().zip(outs) {
            y[o] = requantize(*a, read_i32(l.multipliers, o), out_zp, lo);
        }
    }
}

/// The weights `row[4 * full..]` (1 to 3 of them) as a word, zero-padded above. For a row of
/// at least 4 weights this is one unaligned load of the row's last 4 bytes and a shift that
/// drops the bytes already used, so nothing past the row is read.
#[inline(always)]
fn tail_word(row: &[u8], full: usize) -> u32 {
    let n = row.len();
    let rem = n - 4 * full;
    debug_assert!((1..4).contains(&rem));
    if n >= 4 {
        let w = u32::from_le_bytes([row[n - 4], row[n - 3], row[n - 2], row[n - 1]]);
        w >> (8 * (4 - rem))
    } else {
        row.iter().rev().fold(0, |w, b| (w << 8) | *b as u32)
    }
}

/// `acc[r] += row_r . x` over `wa.len() / 4` chunks (`wb` as long as `wa`).
#[cfg(not(target_arch = "arm"))]
fn dot2(wa: &[u8], wb: &[u8], xs: &[u32], mut acc: [i32; 2]) -> [i32; 2] {
    for ((ca, cb), x) in wa.chunks_exact(4).zip(wb.chunks_exact(4)).zip(xs.chunks_exact(2)) {
        for (a, c) in acc.iter_mut().zip([ca, cb]) {
            let word = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            *a = smlad(sxtb16_ror8(word), x[1], smlad(sxtb16(word), x[0], *a));
        }
    }
    acc
}

/// The same on the chip: per chunk `LDRD` (input), and per row `LDR`, 2 x `SXTB16`, 2 x `SMLAD`.
#[cfg(target_arch = "arm")]
fn dot2(wa: &[u8], wb: &[u8], xs: &[u32], acc: [i32; 2]) -> [i32; 2] {
    let chunks = wa.len() / 4;
    // Soundness of the loads below: the asm reads 4 * chunks bytes from each row and
    // 2 * chunks words from xs; this check (a panic, never UB) guarantees they exist.
    assert!(wb.len() >= 4 * chunks && xs.len() >= 2 * chunks);
    let [mut a0, mut a1] = acc;
    if chunks == 0 {
        return acc;
    }
    // SAFETY: reads only the bytes and words checked above (LDR may be unaligned on
    // ARMv7-M; xs is a &[u32], so word aligned as LDRD needs); writes only the named
    // registers and flags (not claimed preserved); no stack use.
    unsafe {
        core::arch::asm!(
            "2:",
            "ldrd {x0}, {x1}, [{px}], #8",
            "ldr {w}, [{pa}], #4",
            "sxtb16 {wl}, {w}",
            "sxtb16 {w}, {w}, ror #8",
            "smlad {a0}, {wl}, {x0}, {a0}",
            "smlad {a0}, {w}, {x1}, {a0}",
            "ldr {w}, [{pb}], #4",
            "sxtb16 {wl}, {w}",
            "sxtb16 {w}, {w}, ror #8",
            "smlad {a1}, {wl}, {x0}, {a1}",
            "smlad {a1}, {w}, {x1}, {a1}",
            "subs {n}, {n}, #1",
            "bne 2b",
            n = inout(reg) chunks => _,
            pa = inout(reg) wa.as_ptr() => _,
            pb = inout(reg) wb.as_ptr() => _,
            px = inout(reg) xs.as_ptr() => _,
            a0 = inout(reg) a0,
            a1 = inout(reg) a1,
            w = out(reg) _,
            wl = out(reg) _,
            x0 = out(reg) _,
            x1 = out(reg) _,
            options(nostack, readonly),
        );
    }
    [a0, a1]
}
