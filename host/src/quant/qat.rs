//! Quantization-aware training: the float network fine-tuned with our int8 scheme simulated in
//! its forward pass, so that it learns weights that survive rounding.
//!
//! What is simulated is exactly what [`super::build`] and the chip do (see [`super::scheme`]):
//! - each conv, depthwise and dense layer's weights are rounded per output channel to
//!   `round(w / w_s)` clamped to +-127, with `w_s = m * 2^(y_e - x_e - 16)` the smallest grid
//!   step covering `max|w| / 127`; the bias to `round(b / (x_s * w_s))`;
//! - each int8 layer's output (after its fused ReLU) is rounded to its power-of-two scale and
//!   clamped to the int8 range around its zero point, so ReLU layers clamp at 0 as the chip's
//!   zero point -128 does; burn rounds ties to even, as `common::quant` does;
//! - the activation scales are those of a post-training calibration, fixed for the whole
//!   fine-tuning, and the finished network is quantized with the same ones.
//!
//! Rounding has no gradient; the straight-through estimator passes the gradient of each
//! rounded value to its float original (`x + (q(x) - x).detach()`).

use anyhow::{bail, ensure, Result};
use burn::tensor::Tensor;
use common::format::owned::{OwnedLayer, OwnedModel};
use common::format::QParams;

use super::graph::{FloatLayer, GraphLayer};
use crate::nn::fast::{self, Kernels};
use crate::nn::net::{image, Act, Block};

/// The int8 scheme of one quantized network, per burn block.
#[derive(Clone, Debug, PartialEq)]
pub struct FakeQuant {
    /// A conv or dense block's input and output scale exponents (its weights' grid).
    weights: Vec<Option<(i8, i8)>>,
    /// The int8 parameters of the activation a block ends: an int8 layer's output.
    outputs: Vec<Option<QParams>>,
}

impl FakeQuant {
    /// The scheme of `model`, the int8 network [`super::build`] made from `graph`, which
    /// [`super::graph::extract`] took from `blocks`.
    pub fn new(blocks: &[Block], graph: &[GraphLayer], model: &OwnedModel) -> Result<FakeQuant> {
        ensure!(graph.len() == model.layers.len(), "the int8 model has {} layers, the graph {}", model.layers.len(), graph.len());
        if blocks.iter().any(|b| matches!(b, Block::BatchNorm(_))) {
            bail!("quantization-aware training runs on the batch-norm-folded network (fold it first)");
        }
        let mut fq = FakeQuant { weights: vec![None; blocks.len()], outputs: vec![None; blocks.len()] };
        let weight_blocks: Vec<usize> = (0..blocks.len()).filter(|&i| matches!(blocks[i], Block::Conv(_) | Block::Dense(_))).collect();
        let mut next_weights = weight_blocks.into_iter();
        let mut in_q = model.input.quant;
        for (g, node) in graph.iter().zip(&model.layers) {
            ensure!(!g.relu_moved_in, "quantization-aware training needs each ReLU right after its conv or dense layer");
            let out_q = match &node.layer {
                OwnedLayer::Conv2d(c) => Some(c.output),
                OwnedLayer::Depthwise(d) => Some(d.output),
                OwnedLayer::Dense(d) => Some(d.output),
                OwnedLayer::AvgPool(_) => {
                    fq.outputs[g.block] = Some(in_q);
                    None
                }
                _ => None,
            };
            if let Some(out_q) = out_q {
                ensure!(matches!(g.layer, FloatLayer::Conv { .. } | FloatLayer::Depthwise { .. } | FloatLayer::Dense { .. }), "layer kinds differ");
                let Some(wb) = next_weights.next() else { bail!("more weight layers than conv and dense blocks") };
                fq.weights[wb] = Some((in_q.scale_exp, out_q.scale_exp));
                fq.outputs[g.block] = Some(out_q);
                in_q = out_q;
            }
        }
        Ok(fq)
    }

    /// Block `i` on `act` with the scheme simulated; `float` runs a block as it is.
    pub fn apply(&self, i: usize, block: &Block, act: Act, kernels: Kernels, float: impl Fn(&Block, Act) -> Act) -> Act {
        let act = match (block, self.weights[i]) {
            (Block::Conv(c), Some((in_e, out_e))) => {
                let w = c.weight.val();
                let [o, ci, kh, kw] = w.dims();
                let w_s = weight_step(w.clone().reshape([o, ci * kh * kw]), 1, in_e, out_e); // [o, 1]
                let w_s4 = w_s.clone().reshape([o, 1, 1, 1]);
                let wq = ste(w.clone(), (w / w_s4.clone()).round().clamp(-127.0, 127.0) * w_s4);
                let b = c.bias.as_ref().map(|b| b.val()).unwrap_or_else(|| Tensor::zeros([o], &wq.device()));
                let b_s = w_s.reshape([o]).mul_scalar((in_e as f32).exp2());
                let bq = ste(b.clone(), (b / b_s.clone()).round() * b_s);
                Act::Image(fast::conv2d_with(c, image(act), wq, bq, kernels))
            }
            (Block::Dense(d), Some((in_e, out_e))) => {
                let w = d.weight.val(); // [in, out]
                let [n_in, n_out] = w.dims();
                let w_s = weight_step(w.clone(), 0, in_e, out_e); // [1, out]
                let wq = ste(w.clone(), (w / w_s.clone()).round().clamp(-127.0, 127.0) * w_s.clone());
                let b = d.bias.as_ref().map(|b| b.val()).unwrap_or_else(|| Tensor::zeros([n_out], &wq.device()));
                let b_s = w_s.reshape([n_out]).mul_scalar((in_e as f32).exp2());
                let bq = ste(b.clone(), (b / b_s.clone()).round() * b_s);
                let x = act.flat();
                debug_assert_eq!(x.dims()[1], n_in);
                Act::Flat(x.matmul(wq) + bq.unsqueeze_dim(0))
            }
            _ => float(block, act),
        };
        match self.outputs[i] {
            Some(q) => match act {
                Act::Image(t) => Act::Image(fake_quantize(t, q)),
                Act::Flat(t) => Act::Flat(fake_quantize(t, q)),
            },
            None => act,
        }
    }
}

/// Each output channel's weight step `w_s` (no gradient): the smallest `m * 2^(y_e - x_e - 16)`
/// covering `max|w| / 127`, the maximum taken along `dim` of `w`.
fn weight_step(w: Tensor<2>, dim: usize, in_e: i8, out_e: i8) -> Tensor<2> {
    let step = ((out_e as i32 - in_e as i32 - common::quant::SHIFT as i32) as f32).exp2();
    w.detach().abs().max_dim(dim).div_scalar(127.0 * step).ceil().clamp_min(1.0).mul_scalar(step)
}

/// `x` rounded to the int8 grid of `q`: `(clamp(round(x / s) + zp, -128, 127) - zp) * s`.
pub fn fake_quantize<const D: usize>(x: Tensor<D>, q: QParams) -> Tensor<D> {
    let (s, zp) = (q.scale(), q.zero_point as f32);
    let grid = x.clone().div_scalar(s).round().add_scalar(zp).clamp(-128.0, 127.0).sub_scalar(zp).mul_scalar(s);
    ste(x, grid)
}

/// `rounded` in the forward pass, the gradient of `x` in the backward pass.
fn ste<const D: usize>(x: Tensor<D>, rounded: Tensor<D>) -> Tensor<D> {
    x.clone() + (rounded - x).detach()
}
