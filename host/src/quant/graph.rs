//! The trained float network as the int8 path will run it: batch-norm folded into the conv or
//! dense layer before it, ReLU fused into the layer that produces its input, dropout gone,
//! weights in the int8 layouts (conv OHWI, dense `[out][in]` over the HWC-flattened input).

use anyhow::{bail, Result};
use burn::tensor::Tensor;
use common::format::{Pads, Pool};
use common::Shape;

use crate::nn::net::{Block, Net};
use crate::nn::spec::{Resolved, ResolvedLayer};

#[derive(Clone, Debug)]
pub enum FloatLayer {
    Conv {
        w: Vec<f32>,
        b: Vec<f32>,
        out_c: u16,
        kernel: u8,
        stride: u8,
        pads: Pads,
        relu: bool,
    },
    /// `w` holds each channel's filter in turn, `[c][ky][kx]` (ONNX's `[C, 1, kh, kw]`).
    Depthwise {
        w: Vec<f32>,
        b: Vec<f32>,
        kernel: u8,
        stride: u8,
        pads: Pads,
        relu: bool,
    },
    Dense {
        w: Vec<f32>,
        b: Vec<f32>,
        out: u16,
        relu: bool,
    },
    MaxPool(Pool),
    AvgPool(Pool),
    Flatten,
}

/// One int8 layer and where its output is in the burn network.
#[derive(Clone, Debug)]
pub struct GraphLayer {
    pub layer: FloatLayer,
    pub input: Shape,
    pub output: Shape,
    /// The burn block whose output is this layer's output (for calibration).
    pub block: usize,
    /// A ReLU after a later max-pool was moved into this layer, so the burn block's output is
    /// this layer's output before the ReLU: clamp its range at 0.
    pub relu_moved_in: bool,
}

impl GraphLayer {
    /// Short kind used in layer names: conv, dense, pool, flatten.
    pub fn kind(&self) -> &'static str {
        match self.layer {
            FloatLayer::Conv { .. } => "conv",
            FloatLayer::Depthwise { .. } => "depthwise",
            FloatLayer::Dense { .. } => "dense",
            FloatLayer::MaxPool(_) | FloatLayer::AvgPool(_) => "pool",
            FloatLayer::Flatten => "flatten",
        }
    }
}

/// Names of the layers, numbered per kind (`conv1`, `conv2`, `pool1`, `dense1`, ...): the names
/// the blob, both ONNX exports and every report use.
pub fn layer_names(graph: &[GraphLayer]) -> Vec<String> {
    let mut counts = std::collections::HashMap::<&str, usize>::new();
    graph
        .iter()
        .map(|g| {
            let n = counts.entry(g.kind()).or_insert(0);
            *n += 1;
            format!("{}{n}", g.kind())
        })
        .collect()
}

/// Conv weights OHWI (the chip) -> OIHW (burn, ONNX); `(kh, kw, ic)` are the kernel size and
/// input channels. [`from_oihw`] is the inverse.
pub fn to_oihw<T: Copy + Default>(w: &[T], o: usize, (kh, kw, ic): (usize, usize, usize)) -> Vec<T> {
    let mut out = vec![T::default(); w.len()];
    for oc in 0..o {
        for y in 0..kh {
            for x in 0..kw {
                for c in 0..ic {
                    out[((oc * ic + c) * kh + y) * kw + x] = w[((oc * kh + y) * kw + x) * ic + c];
                }
            }
        }
    }
    out
}

/// Conv weights OIHW (burn, ONNX) -> OHWI (the chip).
pub fn from_oihw<T: Copy + Default>(w: &[T], o: usize, (kh, kw, ic): (usize, usize, usize)) -> Vec<T> {
    let mut out = vec![T::default(); w.len()];
    for oc in 0..o {
        for y in 0..kh {
            for x in 0..kw {
                for c in 0..ic {
                    out[((oc * kh + y) * kw + x) * ic + c] = w[((oc * ic + c) * kh + y) * kw + x];
                }
            }
        }
    }
    out
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("float parameters")
}

/// Extracts the foldable graph from a trained network.
pub fn extract(net: &Net, layers: &[ResolvedLayer]) -> Result<Vec<GraphLayer>> {
    let mut out: Vec<GraphLayer> = Vec::new();
    // The flattened input order differs: burn flattens NCHW (c, y, x), the chip HWC (y, x, c).
    let mut flattened_from: Option<Shape> = None;
    for (i, (block, spec)) in net.blocks.iter().zip(layers).enumerate() {
        let here = |what: &str| format!("layer {} ({what})", i + 1);
        match (block, &spec.layer) {
            (Block::Conv(c), Resolved::Conv2d { filters, kernel, stride, pads }) => {
                let w = values(c.weight.val()); // [O, I, kh, kw]
                let (o, ic, k) = (*filters as usize, spec.input.c as usize, *kernel as usize);
                let ohwi = from_oihw(&w, o, (k, k, ic));
                let b = c.bias.as_ref().map(|b| values(b.val())).unwrap_or_else(|| vec![0.0; o]);
                let layer = FloatLayer::Conv { w: ohwi, b, out_c: *filters, kernel: *kernel, stride: *stride, pads: *pads, relu: false };
                out.push(GraphLayer { layer, input: spec.input, output: spec.output, block: i, relu_moved_in: false });
            }
            (Block::Conv(c), Resolved::Depthwise { kernel, stride, pads }) => {
                let w = values(c.weight.val()); // [C, 1, kh, kw]: each channel's filter in turn
                let channels = spec.input.c as usize;
                let b = c.bias.as_ref().map(|b| values(b.val())).unwrap_or_else(|| vec![0.0; channels]);
                let layer = FloatLayer::Depthwise { w, b, kernel: *kernel, stride: *stride, pads: *pads, relu: false };
                out.push(GraphLayer { layer, input: spec.input, output: spec.output, block: i, relu_moved_in: false });
            }
            (Block::Dense(d), Resolved::Dense { units }) => {
                let w = values(d.weight.val()); // [in, out]
                let (n_in, n_out) = (spec.input.c as usize, *units as usize);
                let mut rows = vec![0f32; w.len()];
                for o in 0..n_out {
                    for j in 0..n_in {
                        // Input j in the chip's HWC order reads burn's CHW index.
                        let src = match flattened_from {
                            Some(s) => {
                                let (c, x, y) = (j % s.c as usize, (j / s.c as usize) % s.w as usize, j / (s.c as usize * s.w as usize));
                                (c * s.h as usize + y) * s.w as usize + x
                            }
                            None => j,
                        };
                        rows[o * n_in + j] = w[src * n_out + o];
                    }
                }
                flattened_from = None;
                let b = d.bias.as_ref().map(|b| values(b.val())).unwrap_or_else(|| vec![0.0; n_out]);
                let layer = FloatLayer::Dense { w: rows, b, out: *units, relu: false };
                out.push(GraphLayer { layer, input: spec.input, output: spec.output, block: i, relu_moved_in: false });
            }
            (Block::BatchNorm(bn), _) => {
                let (gamma, beta) = (values(bn.gamma.val()), values(bn.beta.val()));
                let (mean, var) = (values(bn.running_mean.value()), values(bn.running_var.value()));
                let Some(prev) = out.last_mut().filter(|p| p.block + 1 == i) else {
                    bail!("{}: batch-norm must directly follow a conv2d or dense layer to fold into it", here("batchnorm"));
                };
                let (w, b) = match &mut prev.layer {
                    FloatLayer::Conv { w, b, relu: false, .. }
                    | FloatLayer::Dense { w, b, relu: false, .. }
                    | FloatLayer::Depthwise { w, b, relu: false, .. } => (w, b),
                    _ => bail!("{}: batch-norm must follow a conv2d, depthwise or dense layer without a ReLU", here("batchnorm")),
                };
                // Each output channel's weights are contiguous in every layout here.
                let per = w.len() / b.len();
                for c in 0..b.len() {
                    let g = gamma[c] / (var[c] + bn.epsilon as f32).sqrt();
                    w[c * per..(c + 1) * per].iter_mut().for_each(|v| *v *= g);
                    b[c] = (b[c] - mean[c]) * g + beta[c];
                }
                prev.block = i;
            }
            (Block::Relu(_), _) => fuse_relu(&mut out, i).map_err(|e| e.context(here("relu")))?,
            (Block::Dropout(_), _) => {
                // Identity at inference: the previous layer's output is also this block's.
                if let Some(prev) = out.last_mut().filter(|p| p.block + 1 == i) {
                    prev.block = i;
                }
            }
            (Block::MaxPool(_), Resolved::MaxPool { size, stride }) | (Block::AvgPool(_), Resolved::AvgPool { size, stride }) => {
                let pool = Pool { kernel_h: *size, kernel_w: *size, stride_h: *stride, stride_w: *stride, pads: Pads::default() };
                let layer = if matches!(block, Block::MaxPool(_)) { FloatLayer::MaxPool(pool) } else { FloatLayer::AvgPool(pool) };
                out.push(GraphLayer { layer, input: spec.input, output: spec.output, block: i, relu_moved_in: false });
            }
            (Block::Flatten(_), Resolved::Flatten) => {
                flattened_from = Some(spec.input);
                out.push(GraphLayer { layer: FloatLayer::Flatten, input: spec.input, output: spec.output, block: i, relu_moved_in: false });
            }
            _ => bail!("{}: the network does not match its architecture", here("?")),
        }
    }
    Ok(out)
}

/// Fuses a ReLU (burn block `i`) into the conv/dense layer that produced its input, moving it
/// back over max-pools and flattens (ReLU commutes with both).
fn fuse_relu(out: &mut [GraphLayer], i: usize) -> Result<()> {
    let Some(last) = out.len().checked_sub(1) else { bail!("a ReLU on the input is not supported") };
    if out[last].block + 1 != i && !matches!(out[last].layer, FloatLayer::MaxPool(_) | FloatLayer::Flatten) {
        bail!("ReLU must follow a layer");
    }
    let mut j = last;
    while matches!(out[j].layer, FloatLayer::MaxPool(_) | FloatLayer::Flatten) {
        j = j.checked_sub(1).ok_or_else(|| anyhow::anyhow!("a ReLU needs a conv2d or dense layer before it"))?;
    }
    let moved = j != last;
    match &mut out[j].layer {
        FloatLayer::Conv { relu, .. } | FloatLayer::Depthwise { relu, .. } | FloatLayer::Dense { relu, .. } => *relu = true,
        _ => bail!("ReLU after an average pool cannot be fused; put it before the pool"),
    }
    if moved {
        out[j].relu_moved_in = true;
    }
    // Every layer from j on now ends at or after this ReLU: the last one's output is block i's.
    out[last].block = i;
    Ok(())
}
