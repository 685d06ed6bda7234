//! The requantization rule against exact rational arithmetic in i128.

use common::quant::{div_round_half_even, requantize};
use proptest::prelude::*;

/// round(acc * m / 2^16), ties to even, computed on exact rationals.
fn exact(acc: i32, m: i32, zp: i8, lo: i8) -> i8 {
    let num = acc as i128 * m as i128;
    let den = 1i128 << 16;
    let q = num.div_euclid(den);
    let twice_rem = 2 * num.rem_euclid(den);
    let rounded = if twice_rem > den || (twice_rem == den && q % 2 != 0) { q + 1 } else { q };
    (rounded + zp as i128).clamp(lo as i128, 127) as i8
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    #[test]
    fn requantize_is_exact_rounding(acc in any::<i32>(), m in 1..=i32::MAX, zp in any::<i8>(), relu in any::<bool>()) {
        let lo = if relu { zp } else { -128 };
        prop_assert_eq!(requantize(acc, m, zp, lo), exact(acc, m, zp, lo));
    }

    /// Small accumulators and multipliers hit exact ties often.
    #[test]
    fn requantize_ties(acc in -70_000i32..70_000, m in prop::sample::select(vec![1, 2, 3, 0x4000, 0x8000, 0xC000, 0x10000, 0x18000]), zp in any::<i8>()) {
        prop_assert_eq!(requantize(acc, m, zp, -128), exact(acc, m, zp, -128));
    }

    #[test]
    fn average_rounds_half_to_even(sum in -1_000_000i32..1_000_000, count in 1i32..500) {
        let (q, r2) = (sum.div_euclid(count) as i64, 2 * sum.rem_euclid(count) as i64);
        let expected = if r2 > count as i64 || (r2 == count as i64 && q % 2 != 0) { q + 1 } else { q };
        prop_assert_eq!(div_round_half_even(sum, count) as i64, expected);
    }
}

#[test]
fn known_values() {
    // 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -1.5 -> -2 (m = 2^15 halves acc).
    for (acc, want) in [(1, 0), (3, 2), (5, 2), (-1, 0), (-3, -2), (7, 4)] {
        assert_eq!(requantize(acc, 0x8000, 0, -128), want, "acc {acc}");
    }
    assert_eq!(requantize(1000, 0x10000, 5, -128), 127);
    assert_eq!(requantize(-1000, 0x10000, 5, -128), -128);
    assert_eq!(requantize(-10, 0x10000, 5, 5), 5, "ReLU clamps at the zero point");
    assert_eq!(div_round_half_even(5, 2), 2);
    assert_eq!(div_round_half_even(7, 2), 4);
    assert_eq!(div_round_half_even(-5, 2), -2);
    assert_eq!(div_round_half_even(-7, 2), -4);
}

#[test]
fn dequantize_is_exact_for_every_scale() {
    use common::format::QParams;
    for e in i8::MIN..=i8::MAX {
        let q = QParams { scale_exp: e, zero_point: -3 };
        assert_eq!(q.scale() as f64, (e as f64).exp2(), "2^{e}");
        if e < 120 {
            assert_eq!(q.dequantize(7) as f64, 10.0 * (e as f64).exp2(), "2^{e}");
        }
    }
}
