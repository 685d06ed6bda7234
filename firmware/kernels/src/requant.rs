//! Requantization in the form the chip computes fast, bit-exact with
//! [`common::quant::requantize`].
//!
//! `round_half_even(acc * m / 2^16) + zp`, clamped to `[lo, 127]`, in 64-bit arithmetic:
//! 1. `v = acc * m` (one `SMULL`).
//! 2. Round half to even and add the zero point before the floor shift: `v + kz + bit16(v)`
//!    with `kz = 0x7FFF + zp * 2^16`. The remainder `r = v mod 2^16` carries into bit 16 exactly
//!    when `r > 0x8000`, or `r == 0x8000` and the quotient is odd; `zp * 2^16` adds `zp` to the
//!    quotient. `LSRS #17` puts `bit16(v)` in the carry flag, so `ADCS` + `ADC` (with the sign
//!    word of `kz`) do the whole 64-bit sum in two instructions.
//! 3. The quotient `q = v >> 16` can need up to 47 bits; saturating the high word to 16 bits
//!    (`SSAT`) before joining the two halves keeps `q` exact whenever it fits in 32 bits and
//!    otherwise leaves a value of the right sign far outside the int8 range.
//! 4. The lower clamp (only when it is above -128: ReLU with a zero point above -128), then
//!    `SSAT #8`.
//!
//! The fast form, for multipliers below 2^15 (every realistic layer: the effective scale
//! `m / 2^16` is then below 1/2): `m << 16` still fits a register, so `SMULL` by it leaves the
//! quotient `q = (acc * m) >> 16` whole in the high word and the remainder `r` in the top half
//! of the low word (its bottom half 0). Rounding half to even adds 1 exactly when
//! `r * 2^16 + 0x7FFF_FFFF + (q & 1)` carries out of 32 bits: `LSRS` puts `q & 1` in the
//! carry, `ADCS` adds the low word and `0x7FFF_FFFF`, `ADC` adds that carry and the zero point
//! to `q`. `|q| < 2^30`, so `SSAT #8` needs no saturation step before it: 6 instructions
//! instead of 9.

#[cfg(not(target_arch = "arm"))]
use crate::dsp::ssat;

/// True when every multiplier (int32 LE) is below 2^15, so the fast form applies.
pub fn all_fast(mults: &[u8]) -> bool {
    mults.chunks_exact(4).all(|m| i32::from_le_bytes([m[0], m[1], m[2], m[3]]) < 1 << 15)
}

/// `common::quant::requantize(acc, m, zp, lo)` in the fast form, for `1 <= m < 2^15` given as
/// `m16 = m << 16` (see the module documentation), emulated.
#[cfg(not(target_arch = "arm"))]
#[inline(always)]
pub fn requantize_fast(acc: i32, m16: i32, zp: i32, lo: i32) -> i8 {
    let v = acc as i64 * m16 as i64; // SMULL
    let (low, high) = (v as u32, (v >> 32) as i32);
    let carry = ((low as u64 + 0x7FFF_FFFF + (high & 1) as u64) >> 32) as i32; // LSRS, ADCS
    let q = high.wrapping_add(zp).wrapping_add(carry); // ADC
    ssat::<8>(q).max(lo) as i8
}

/// `kz` of step 2 for the output zero point `zp`.
#[inline(always)]
fn round_and_zero_point(zp: i32) -> i32 {
    0x7FFF + (zp << 16)
}

/// `common::quant::requantize(acc, m, zp, lo)` for `m >= 1` (the format's multipliers),
/// with `zp` the output zero point and `lo` the lower clamp (-128, or `zp` with ReLU): the
/// steps of [`requantize_block`]'s assembly, emulated.
#[cfg(not(target_arch = "arm"))]
#[inline(always)]
pub fn requantize(acc: i32, m: i32, zp: i32, lo: i32) -> i8 {
    let v = acc as i64 * m as i64;
    let v = v + round_and_zero_point(zp) as i64 + ((v >> 16) & 1);
    let hi = ssat::<16>((v >> 32) as i32);
    let q = (hi << 16) | ((v as u32) >> 16) as i32;
    ssat::<8>(q.max(lo)) as i8
}

/// Requantizes the sums of consecutive output channels `c` (multipliers `mults`, int32 LE) for
/// four pixels `p` into `out[c + p * stride]`: one block of an HWC output, `stride` being its
/// channel count. `fast` takes the fast form ([`all_fast`] must hold for `mults`).
#[cfg(not(target_arch = "arm"))]
pub fn requantize_block(accs: &[[i32; 4]], mults: &[u8], zp: i32, lo: i32, out: &mut [i8], stride: usize, fast: bool) {
    for (c, (acc, m)) in accs.iter().zip(mults.chunks_exact(4)).enumerate() {
        let m = i32::from_le_bytes([m[0], m[1], m[2], m[3]]);
        for (p, a) in acc.iter().enumerate() {
            out[c + p * stride] = if fast { requantize_fast(*a, m << 16, zp, lo) } else { requantize(*a, m, zp, lo) };
        }
    }
}

/// One sum into `{l}` (steps 1 to 3; the caller clamps and stores).
#[cfg(target_arch = "arm")]
macro_rules! scaled {
    () => {
        concat!(
            "ldr {a}, [{pa}], #4\n",
            "smull {l}, {h}, {a}, {m}\n",
            "lsrs {a}, {l}, #17\n",
            "adcs {l}, {l}, {kz}\n",
            "adc {h}, {h}, {ks}\n",
            "ssat {h}, #16, {h}\n",
            "lsrs {l}, {l}, #16\n",
            "orr {l}, {l}, {h}, lsl #16\n",
        )
    };
}

/// The channel loop of [`requantize_block`] on the chip, `$clamp` being the lower clamp
/// instructions (empty when `lo` is -128, which `SSAT #8` already is) and `$lo` their operand.
#[cfg(target_arch = "arm")]
macro_rules! requant_loop {
    ($n:expr, $pm:expr, $pa:expr, $po:expr, $stride:expr, $kz:expr, $clamp:expr, $($lo:tt)*) => {
        core::arch::asm!(
            "7:",
            "ldr {m}, [{pm}], #4",
            scaled!(), $clamp, "ssat {l}, #8, {l}",
            "strb {l}, [{po}]",
            scaled!(), $clamp, "ssat {l}, #8, {l}",
            "strb {l}, [{po}, {stride}]",
            scaled!(), $clamp, "ssat {l}, #8, {l}",
            "strb {l}, [{po}, {stride}, lsl #1]",
            scaled!(), $clamp, "ssat {l}, #8, {l}",
            "add {q}, {po}, {stride}, lsl #1",
            "strb {l}, [{q}, {stride}]",
            "add {po}, {po}, #1",
            "subs {cnt}, {cnt}, #1",
            "bne 7b",
            cnt = inout(reg) $n => _,
            pm = inout(reg) $pm => _,
            pa = inout(reg) $pa => _,
            po = inout(reg) $po => _,
            stride = in(reg) $stride,
            kz = in(reg) $kz,
            ks = in(reg) $kz >> 31,
            q = out(reg) _,
            m = out(reg) _,
            a = out(reg) _,
            l = out(reg) _,
            h = out(reg) _,
            $($lo)*
            options(nostack),
        )
    };
}

/// One sum into `{h}` in the fast form (`{m}` holding `m << 16`, `{kz}` 0x7FFF_FFFF, `{ks}`
/// the zero point; the caller clamps and stores).
#[cfg(target_arch = "arm")]
macro_rules! scaled_fast {
    () => {
        concat!(
            "ldr {a}, [{pa}], #4\n",
            "smull {a}, {h}, {a}, {m}\n",
            "lsrs {l}, {h}, #1\n",
            "adcs {l}, {a}, {kz}\n",
            "adc {h}, {h}, {ks}\n",
            "ssat {h}, #8, {h}\n",
        )
    };
}

/// The channel loop of [`requantize_block`]'s fast form, `$clamp` as in `requant_loop!`.
#[cfg(target_arch = "arm")]
macro_rules! requant_loop_fast {
    ($n:expr, $pm:expr, $pa:expr, $po:expr, $stride:expr, $zp:expr, $clamp:expr, $($lo:tt)*) => {
        core::arch::asm!(
            "7:",
            "ldr {m}, [{pm}], #4",
            "lsl {m}, {m}, #16",
            scaled_fast!(), $clamp,
            "strb {h}, [{po}]",
            scaled_fast!(), $clamp,
            "strb {h}, [{po}, {stride}]",
            scaled_fast!(), $clamp,
            "strb {h}, [{po}, {stride}, lsl #1]",
            scaled_fast!(), $clamp,
            "add {q}, {po}, {stride}, lsl #1",
            "strb {h}, [{q}, {stride}]",
            "add {po}, {po}, #1",
            "subs {cnt}, {cnt}, #1",
            "bne 7b",
            cnt = inout(reg) $n => _,
            pm = inout(reg) $pm => _,
            pa = inout(reg) $pa => _,
            po = inout(reg) $po => _,
            stride = in(reg) $stride,
            kz = in(reg) 0x7FFF_FFFF,
            ks = in(reg) $zp,
            q = out(reg) _,
            m = out(reg) _,
            a = out(reg) _,
            l = out(reg) _,
            h = out(reg) _,
            $($lo)*
            options(nostack),
        )
    };
}

/// The same on the chip in one `asm!` loop: 10 instructions per output with its load and store
/// (13 with a lower clamp above -128), plus 5 per channel; in the fast form 7 (10), plus 6.
#[cfg(target_arch = "arm")]
pub fn requantize_block(accs: &[[i32; 4]], mults: &[u8], zp: i32, lo: i32, out: &mut [i8], stride: usize, fast: bool) {
    let n = accs.len();
    if n == 0 {
        return;
    }
    // Soundness of the accesses below: channel c reads mults[4c..4c + 4] and accs[c] and
    // writes out[c + p * stride] for p < 4; this check (a panic, never UB) guarantees the
    // last of each exists.
    assert!(mults.len() >= 4 * n && out.len() > (n - 1) + 3 * stride);
    let (pm, pa, po, kz) = (mults.as_ptr(), accs.as_ptr(), out.as_mut_ptr(), round_and_zero_point(zp));
    // SAFETY: reads the multipliers and sums checked above (LDR may be unaligned on ARMv7-M)
    // and writes the output bytes checked above through the exclusive borrow `out`; otherwise
    // only the named registers, the flags (not claimed preserved) and the sticky Q bit change;
    // no stack use.
    unsafe {
        match (fast, lo == -128) {
            (true, true) => requant_loop_fast!(n, pm, pa, po, stride, zp, "",),
            (true, false) => requant_loop_fast!(n, pm, pa, po, stride, zp, "cmp {h}, {lo}\nit lt\nmovlt {h}, {lo}\n", lo = in(reg) lo,),
            (false, true) => requant_loop!(n, pm, pa, po, stride, kz, "",),
            (false, false) => requant_loop!(n, pm, pa, po, stride, kz, "cmp {l}, {lo}\nit lt\nmovlt {l}, {lo}\n", lo = in(reg) lo,),
        }
    }
}
