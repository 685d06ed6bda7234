//! Requantization in the form the chip computes fast, bit-exact with
//! [`common::quant::requantize`].
//!
//! `round_half_even(acc * m / 2^16) + zp`, clamped to `[lo, 127]`:
//! 1. `v = acc * m` as a 64-bit product (one `SMULL`).
//! 2. Round half to even by adding `0x7FFF + bit16(v)` before the floor shift: the remainder
//!    `r = v mod 2^16` then carries into bit 16 exactly when `r > 0x8000`, or `r == 0x8000` and
//!    the quotient is odd (`ADDS`/`ADC`).
//! 3. The quotient `q = v >> 16` can need up to 47 bits; saturating the high word to 16 bits
//!    (`SSAT`) before joining the two halves keeps `q` exact whenever it fits in 32 bits and
//!    otherwise leaves a value of the right sign far outside the int8 range.
//! 4. `SSAT #9` brings `q` into [-256, 255] without changing the clamped result (`|zp| <= 128`),
//!    so adding the zero point cannot overflow; then the ReLU/lower clamp and `SSAT #8`.

#[cfg(not(target_arch = "arm"))]
use crate::dsp::ssat;

/// `common::quant::requantize(acc, m, zp, lo)` for `m >= 1` (the format's multipliers),
/// with `zp` the output zero point and `lo` the lower clamp (-128, or `zp` with ReLU).
#[cfg(not(target_arch = "arm"))]
#[inline(always)]
pub fn requantize(acc: i32, m: i32, zp: i32, lo: i32) -> i8 {
    let v = acc as i64 * m as i64;
    let v = v + 0x7FFF + ((v >> 16) & 1);
    let hi = ssat::<16>((v >> 32) as i32);
    let q = (hi << 16) | ((v as u32) >> 16) as i32;
    let q = ssat::<9>(q) + zp;
    ssat::<8>(q.max(lo)) as i8
}

/// The same steps on the chip, 14 instructions (LLVM's version of the above spends ~20 and a
/// second multiply).
#[cfg(target_arch = "arm")]
#[inline(always)]
pub fn requantize(acc: i32, m: i32, zp: i32, lo: i32) -> i8 {
    let q: i32;
    // SAFETY: register-to-register only (no memory, no stack); writes the flags (not claimed
    // preserved) and the sticky Q bit, which no Rust code reads.
    unsafe {
        core::arch::asm!(
            "smull {l}, {h}, {acc}, {m}",
            "ubfx {t}, {l}, #16, #1",
            "add {t}, {t}, #0x7F00",
            "add {t}, {t}, #0xFF",
            "adds {l}, {l}, {t}",
            "adc {h}, {h}, #0",
            "ssat {h}, #16, {h}",
            "lsrs {l}, {l}, #16",
            "orr {l}, {l}, {h}, lsl #16",
            "ssat {l}, #9, {l}",
            "add {l}, {l}, {zp}",
            "cmp {l}, {lo}",
            "it lt",
            "movlt {l}, {lo}",
            "ssat {l}, #8, {l}",
            acc = in(reg) acc,
            m = in(reg) m,
            zp = in(reg) zp,
            lo = in(reg) lo,
            l = out(reg) q,
            h = out(reg) _,
            t = out(reg) _,
            options(pure, nomem, nostack),
        );
    }
    q as i8
}

/// Requantizes the sums of consecutive output channels `c` (multipliers `mults`, int32 LE) for
/// four pixels `p` into `out[c + p * stride]`: one block of an HWC output, `stride` being its
/// channel count.
#[cfg(not(target_arch = "arm"))]
pub fn requantize_block(accs: &[[i32; 4]], mults: &[u8], zp: i32, lo: i32, out: &mut [i8], stride: usize) {
    for (c, (acc, m)) in accs.iter().zip(mults.chunks_exact(4)).enumerate() {
        let m = i32::from_le_bytes([m[0], m[1], m[2], m[3]]);
        for (p, a) in acc.iter().enumerate() {
            out[c + p * stride] = requantize(*a, m, zp, lo);
        }
    }
}

/// The same on the chip in one `asm!` loop: about 17.5 instructions per output with the store, where
/// a Rust loop around [`requantize`] spends about 25 on reloads, bounds checks and addressing.
#[cfg(target_arch = "arm")]
pub fn requantize_block(accs: &[[i32; 4]], mults: &[u8], zp: i32, lo: i32, out: &mut [i8], stride: usize) {
    let n = accs.len();
    if n == 0 {
        return;
    }
    // Soundness of the accesses below: channel c reads mults[4c..4c + 4] and accs[c] and
    // writes out[c + p * stride] for p < 4; this check (a panic, never UB) guarantees the
    // last of each exists.
    assert!(mults.len() >= 4 * n && out.len() > (n - 1) + 3 * stride);
    // One sum into {l}; the caller's `strb` puts it in place.
    macro_rules! one {
        () => {
            concat!(
                "ldr {a}, [{pa}], #4\n",
                "smull {l}, {h}, {a}, {m}\n",
                "ubfx {a}, {l}, #16, #1\n",
                "add {a}, {a}, #0x7F00\n",
                "add {a}, {a}, #0xFF\n",
                "adds {l}, {l}, {a}\n",
                "adc {h}, {h}, #0\n",
                "ssat {h}, #16, {h}\n",
                "lsrs {l}, {l}, #16\n",
                "orr {l}, {l}, {h}, lsl #16\n",
                "ssat {l}, #9, {l}\n",
                "add {l}, {l}, {zp}\n",
                "cmp {l}, {lo}\n",
                "it lt\n",
                "movlt {l}, {lo}\n",
                "ssat {l}, #8, {l}\n",
            )
        };
    }
    // SAFETY: reads the multipliers and sums checked above (LDR may be unaligned on ARMv7-M)
    // and writes the output bytes checked above through the exclusive borrow `out`; otherwise
    // only the named registers, the flags (not claimed preserved) and the sticky Q bit change;
    // no stack use.
    unsafe {
        core::arch::asm!(
            "7:",
            "ldr {m}, [{pm}], #4",
            one!(),
            "strb {l}, [{po}]",
            one!(),
            "strb {l}, [{po}, {stride}]",
            one!(),
            "strb {l}, [{po}, {stride}, lsl #1]",
            one!(),
            "add {q}, {po}, {stride}, lsl #1",
            "strb {l}, [{q}, {stride}]",
            "add {po}, {po}, #1",
            "subs {cnt}, {cnt}, #1",
            "bne 7b",
            cnt = inout(reg) n => _,
            pm = inout(reg) mults.as_ptr() => _,
            pa = inout(reg) accs.as_ptr() => _,
            po = inout(reg) out.as_mut_ptr() => _,
            stride = in(reg) stride,
            zp = in(reg) zp,
            lo = in(reg) lo,
            q = out(reg) _,
            m = out(reg) _,
            a = out(reg) _,
            l = out(reg) _,
            h = out(reg) _,
            options(nostack),
        );
    }
}
