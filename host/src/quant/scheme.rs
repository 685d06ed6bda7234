//! The int8 scheme (the rule that makes tract and onnxruntime agree is in `common::quant`): power-of-two
//! activation scales, per-channel weight scales on the `m / 2^16` grid, int32 biases.

use anyhow::{bail, Result};
use common::format::QParams;
use common::format::MAX_ABS_BIAS;
use common::quant::{MAX_MULTIPLIER, SHIFT};

/// The activation quantization covering `[lo, hi]` (which contains 0): the smallest
/// power-of-two scale with `(hi - lo) / scale <= 255`, and the zero point that puts `lo` at -128.
pub fn activation(lo: f32, hi: f32) -> QParams {
    let span = (hi - lo).max(1e-8) as f64;
    let scale_exp = (span / 255.0).log2().ceil().clamp(-100.0, 100.0) as i32;
    let scale = (scale_exp as f64).exp2();
    let zp = (-128.0 - lo as f64 / scale).round().clamp(-128.0, 127.0) as i8;
    QParams { scale_exp: scale_exp as i8, zero_point: zp }
}

/// One output channel's integer weights, bias and multiplier.
#[derive(Clone, Debug, PartialEq)]
pub struct Channel {
    pub weights: Vec<i8>,
    pub bias: i32,
    pub multiplier: i32,
}

/// Quantizes one output channel: `w_s = m * 2^-16 * y_s / x_s` with the smallest integer `m`
/// whose `w_s` covers `max|w| / 127`, weights `round(w / w_s)`, bias `round(b / (x_s * w_s))`.
pub fn channel(w: &[f32], b: f32, in_exp: i8, out_exp: i8) -> Result<Channel> {
    let max_abs = w.iter().fold(0f32, |m, v| m.max(v.abs())) as f64;
    let ratio = ((out_exp as i32 - in_exp as i32) as f64).exp2(); // y_s / x_s
    let step = ratio / (1u64 << SHIFT) as f64; // weight-scale grid step
    let m = ((max_abs / 127.0) / step).ceil().max(1.0);
    if m > MAX_MULTIPLIER as f64 {
        bail!("weights too large for the output scale (multiplier {m} over 2^31)");
    }
    let w_s = m * step;
    let x_s = (in_exp as f64).exp2();
    let bias = (b as f64 / (x_s * w_s)).round();
    if bias.abs() > MAX_ABS_BIAS as f64 {
        bail!("bias {b} too large for its scale ({bias} over 2^30)");
    }
    Ok(Channel { weights: w.iter().map(|&v| (v as f64 / w_s).round().clamp(-127.0, 127.0) as i8).collect(), bias: bias as i32, multiplier: m as i32 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activation_scales_cover_the_range() {
        let q = activation(0.0, 6.0);
        assert_eq!(q, QParams { scale_exp: -5, zero_point: -128 }); // 6/255 = 0.0235 -> 2^-5
                                                                    // [-1, 1] needs 256 steps of 2^-7: one too many, so the scale is 2^-6.
        let q = activation(-1.0, 1.0);
        assert_eq!(q.scale_exp, -6);
        let (lo, hi) = ((-128 - q.zero_point as i32) as f32 / 64.0, (127 - q.zero_point as i32) as f32 / 64.0);
        assert!(lo <= -1.0 && hi >= 1.0, "{lo} {hi}");
        let q = activation(-0.9, 0.9);
        assert_eq!(q.scale_exp, -7);
    }

    #[test]
    fn channel_uses_the_grid_and_full_range() {
        let w = [0.5f32, -0.25, 0.1];
        let c = channel(&w, 0.3, -7, -5).unwrap();
        let step = 4.0 / 65536.0;
        let w_s = c.multiplier as f64 * step;
        assert!(w_s >= 0.5 / 127.0 && w_s - step < 0.5 / 127.0, "smallest covering multiplier");
        // The largest weight uses (nearly) the full range: w_s is at most one grid step too big.
        assert!(c.weights[0] >= 126, "{}", c.weights[0]);
        assert_eq!(c.weights[1], (-0.25 / w_s).round() as i8);
        assert_eq!(c.bias, (0.3 / (w_s / 128.0)).round() as i32);
    }
}
