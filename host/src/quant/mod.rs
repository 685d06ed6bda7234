//! Post-training quantization: a trained float network and calibration inputs in, an int8
//! model blob (`common` format) out.
//!
//! 1. [`graph::extract`]: fold batch-norm, fuse ReLU, drop dropout, reorder weights.
//! 2. [`calibrate`]: run the float network on real inputs, record every layer's output range.
//! 3. [`scheme`]: power-of-two activation scales, per-channel weight scales on the `m / 2^16`
//!    grid, int32 biases; ReLU layers get zero point -128 so the clamp is the ReLU.

pub mod calibrate;
pub mod graph;
pub mod ptq;
pub mod qat;
pub mod scheme;

use anyhow::{Context, Result};
use common::format::owned::{OwnedConv, OwnedDense, OwnedDepthwise, OwnedLayer, OwnedModel, OwnedNode};
use common::format::{InputSpec, QParams, Task, Window};

use calibrate::{Observer, RangeMethod};
use graph::{FloatLayer, GraphLayer};

/// Builds the int8 model from the folded graph and the observed ranges.
pub fn build(name: &str, task: Task, input: InputSpec, graph: &[GraphLayer], observer: &Observer, method: RangeMethod) -> Result<OwnedModel> {
    build_with(name, task, input, graph, &output_params(graph, observer, method))
}

/// Each layer's output quantization from the observed ranges (used by the layers with
/// weights; pools keep their input's).
pub fn output_params(graph: &[GraphLayer], observer: &Observer, method: RangeMethod) -> Vec<QParams> {
    graph
        .iter()
        .enumerate()
        .map(|(l, g)| {
            let (lo, hi) = observer.range(l, method);
            let relu = match &g.layer {
                FloatLayer::Conv { relu, .. } | FloatLayer::Depthwise { relu, .. } | FloatLayer::Dense { relu, .. } => *relu,
                _ => false,
            };
            output_q(lo, hi, relu)
        })
        .collect()
}

/// The output quantization `model` gives each layer of its graph (quantization-aware
/// training keeps a calibration's scales).
pub fn model_output_params(model: &OwnedModel) -> Vec<QParams> {
    let mut q = model.input.quant;
    model
        .layers
        .iter()
        .map(|n| {
            match &n.layer {
                OwnedLayer::Conv2d(c) => q = c.output,
                OwnedLayer::Depthwise(d) => q = d.output,
                OwnedLayer::Dense(d) => q = d.output,
                _ => {}
            }
            q
        })
        .collect()
}

/// Builds the int8 model from the folded graph with output quantization `outputs[l]` for
/// layer `l` (read by the layers with weights).
pub fn build_with(name: &str, task: Task, input: InputSpec, graph: &[GraphLayer], outputs: &[QParams]) -> Result<OwnedModel> {
    anyhow::ensure!(outputs.len() == graph.len(), "{} output quantizations for {} layers", outputs.len(), graph.len());
    let mut layers = Vec::new();
    let mut in_q = input.quant;
    for (l, (g, name)) in graph.iter().zip(graph::layer_names(graph)).enumerate() {
        let out_q = outputs[l];
        let layer = match &g.layer {
            FloatLayer::Conv { w, b, out_c, kernel, stride, pads, relu } => {
                let (weights, bias, multipliers) = channels(w, b, in_q, out_q).with_context(|| format!("layer {name}"))?;
                in_q = out_q;
                OwnedLayer::Conv2d(OwnedConv {
                    out_channels: *out_c,
                    window: Window::square(*kernel, *stride, *pads),
                    relu: *relu,
                    output: out_q,
                    weights,
                    bias,
                    multipliers,
                })
            }
            FloatLayer::Depthwise { w, b, kernel, stride, pads, relu } => {
                let (per_channel, bias, multipliers) = channels(w, b, in_q, out_q).with_context(|| format!("layer {name}"))?;
                in_q = out_q;
                // The chip's layout: `[ky][kx][c]`, four channels of one tap in one word.
                let (taps, c) = (per_channel.len() / b.len(), b.len());
                let weights = (0..taps * c).map(|i| per_channel[(i % c) * taps + i / c]).collect();
                let window = Window::square(*kernel, *stride, *pads);
                OwnedLayer::Depthwise(OwnedDepthwise { window, relu: *relu, output: out_q, weights, bias, multipliers })
            }
            FloatLayer::Dense { w, b, out, relu } => {
                let (weights, bias, multipliers) = channels(w, b, in_q, out_q).with_context(|| format!("layer {name}"))?;
                in_q = out_q;
                OwnedLayer::Dense(OwnedDense { out_features: *out, relu: *relu, output: out_q, weights, bias, multipliers })
            }
            FloatLayer::MaxPool(p) => OwnedLayer::MaxPool(*p),
            FloatLayer::AvgPool(p) => OwnedLayer::AvgPool(*p),
            FloatLayer::Flatten => OwnedLayer::Flatten,
        };
        layers.push(OwnedNode { name, layer });
    }
    let model = OwnedModel { name: name.into(), task, input, layers };
    model.check().context("the quantized model does not validate")?;
    Ok(model)
}

/// ReLU outputs start at 0: zero point -128 makes the int8 clamp the ReLU and uses all 256 codes.
fn output_q(lo: f32, hi: f32, relu: bool) -> QParams {
    if relu {
        scheme::activation(0.0, hi.max(1e-6))
    } else {
        scheme::activation(lo, hi)
    }
}

type Tables = (Vec<i8>, Vec<i32>, Vec<i32>);

fn channels(w: &[f32], b: &[f32], in_q: QParams, out_q: QParams) -> Result<Tables> {
    let per = w.len() / b.len();
    let (mut weights, mut bias, mut mults) = (Vec::with_capacity(w.len()), Vec::new(), Vec::new());
    for (c, &bc) in b.iter().enumerate() {
        let ch = scheme::channel(&w[c * per..(c + 1) * per], bc, in_q.scale_exp, out_q.scale_exp).with_context(|| format!("output channel {c}"))?;
        weights.extend(ch.weights);
        bias.push(ch.bias);
        mults.push(ch.multiplier);
    }
    Ok((weights, bias, mults))
}
