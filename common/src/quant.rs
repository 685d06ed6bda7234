//! The requantization rule shared by every kernel on every platform.
//!
//! An accumulator `acc` (int32, bias included) of output channel `c` becomes an int8 output as
//! `round_half_even(acc * m_c / 2^16) + zero_point`, clamped to `[lo, 127]`, where `m_c >= 1` is
//! the channel's integer multiplier (the effective scale is exactly `m_c / 2^16`) and `lo` is
//! `-128`, or the zero point when ReLU is fused. With power-of-two activation scales and weight
//! scales on this grid, tract and onnxruntime compute the same bytes: their float products of
//! `acc` and `m_c / 2^16` are exact, and both round ties to even (`pilot verify` and
//! `host/scripts/onnxruntime_check.py` check it byte for byte).

/// Bits of the multiplier's fixed-point fraction: effective scale = `m / 2^SHIFT`.
pub const SHIFT: u32 = 16;

/// Largest multiplier the format allows (so `acc * m` always fits in an i64).
pub const MAX_MULTIPLIER: i32 = i32::MAX;

/// Rounds `v / 2^16` to the nearest integer, ties to even.
#[inline(always)]
pub const fn round_shift16(v: i64) -> i64 {
    let q = v >> SHIFT; // floor
    let r = v & 0xFFFF;
    if r > 0x8000 || (r == 0x8000 && (q & 1) == 1) {
        q + 1
    } else {
        q
    }
}

/// `acc` -> int8 with multiplier `m`, output zero point `zp` and lower clamp `lo`.
#[inline(always)]
pub const fn requantize(acc: i32, m: i32, zp: i8, lo: i8) -> i8 {
    let q = round_shift16(acc as i64 * m as i64) + zp as i64;
    let lo = lo as i64;
    if q < lo {
        lo as i8
    } else if q > 127 {
        127
    } else {
        q as i8
    }
}

/// Lower clamp of a layer's output: the zero point when ReLU is fused (real value 0), else -128.
#[inline(always)]
pub const fn lower_clamp(relu: bool, zp: i8) -> i8 {
    if relu {
        zp
    } else {
        -128
    }
}

/// Divides `sum` by `count > 0`, rounding to nearest, ties to even (used by average pooling).
#[inline]
pub const fn div_round_half_even(sum: i32, count: i32) -> i32 {
    let q = sum.div_euclid(count); // floor for count > 0
    let r2 = 2 * sum.rem_euclid(count); // 2 * remainder, in [0, 2*count)
    if r2 > count || (r2 == count && (q & 1) == 1) {
        q + 1
    } else {
        q
    }
}
