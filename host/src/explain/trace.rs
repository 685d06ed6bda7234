//! A network's spatial layers and their channel-averaged feature maps, from one forward pass:
//! of an int8 blob through the `common` reference interpreter (each layer's output
//! dequantized, exactly the bytes the chip computes), or of a training run's float network.

use anyhow::{Context, Result};
use burn::tensor::Tensor;
use common::format::{Layer, Model, TensorInfo, Window};
use common::interp::{input_slot, run_with, Reference};

use super::vbp::Stage;
use crate::nn::net::{Act, Net};
use crate::nn::spec::{Resolved, ResolvedLayer};

/// The stages of one run of `model` on `input`, and the dequantized network output.
pub fn int8(model: &Model<'_>, input: &[i8], arena: &mut [i8]) -> Result<(Vec<Stage>, Vec<f32>)> {
    let slot = input_slot(model, arena)?;
    anyhow::ensure!(slot.len() == input.len(), "the input has {} values, the model takes {}", input.len(), slot.len());
    slot.copy_from_slice(input);
    let mut stages = Vec::new();
    // Spatial layers end at the first flatten or dense layer.
    let mut spatial = true;
    let output = run_with(model, &mut Reference, arena, |i, out| {
        let (inp, outp) = (model.tensor(i), model.tensor(i + 1));
        let size = |t: TensorInfo| (t.shape.h as usize, t.shape.w as usize);
        let stage = |w: &Window, mean| Stage {
            kernel: (w.kernel_h as usize, w.kernel_w as usize),
            stride: (w.stride_h as usize, w.stride_w as usize),
            pad: (w.pads.top as usize, w.pads.left as usize),
            input: size(inp),
            output: size(outp),
            mean,
        };
        let layer = &model.layers()[i].layer;
        match (layer, layer.window()) {
            _ if !spatial => {}
            (Layer::Conv2d(_) | Layer::Depthwise(_), Some(w)) => stages.push(stage(w, Some(channel_mean_int8(out, outp)))),
            (_, Some(w)) => stages.push(stage(w, None)),
            (_, None) => spatial = false,
        }
    })?;
    Ok((stages, dequantize(output, model.output())))
}

fn dequantize(q: &[i8], t: TensorInfo) -> Vec<f32> {
    q.iter().map(|&v| t.quant.dequantize(v)).collect()
}

/// The HWC tensor's real values averaged over channels.
fn channel_mean_int8(q: &[i8], t: TensorInfo) -> Vec<f32> {
    let c = t.shape.c as usize;
    dequantize(q, t).chunks_exact(c.max(1)).map(|px| px.iter().sum::<f32>() / c as f32).collect()
}

/// The stages of one run of the float `net` (blocks `layers`, as resolved from its spec) on a
/// batch of one, and the network output. A convolution's map is taken after the blocks that
/// follow it up to the next spatial layer (its ReLU, batch norm, dropout).
pub fn float(net: &Net, layers: &[ResolvedLayer], input: Tensor<4>) -> Result<(Vec<Stage>, Vec<f32>)> {
    anyhow::ensure!(net.blocks.len() == layers.len(), "the network has {} blocks but its spec {} layers", net.blocks.len(), layers.len());
    let mut stages: Vec<Stage> = Vec::new();
    let mut spatial = true;
    let mut failed = None;
    let output = net.forward_trace(input, |i, act| {
        let l = &layers[i];
        let size = |s: common::Shape| (s.h as usize, s.w as usize);
        let stage = |k: u8, s: u8, pad: (u8, u8), mean| Stage {
            kernel: (k as usize, k as usize),
            stride: (s as usize, s as usize),
            pad: (pad.0 as usize, pad.1 as usize),
            input: size(l.input),
            output: size(l.output),
            mean,
        };
        let mean = || match act {
            Act::Image(t) => channel_mean_float(t),
            Act::Flat(_) => Err(anyhow::anyhow!("layer {} gives a flat output before flatten", i + 1)),
        };
        let result = match &l.layer {
            _ if !spatial => Ok(()),
            Resolved::Conv2d { kernel, stride, pads, .. } | Resolved::Depthwise { kernel, stride, pads } => {
                mean().map(|m| stages.push(stage(*kernel, *stride, (pads.top, pads.left), Some(m))))
            }
            Resolved::MaxPool { size, stride } | Resolved::AvgPool { size, stride } => {
                stages.push(stage(*size, *stride, (0, 0), None));
                Ok(())
            }
            Resolved::Relu | Resolved::BatchNorm | Resolved::Dropout { .. } => match stages.last_mut() {
                Some(Stage { mean: Some(m), .. }) => mean().map(|v| *m = v),
                _ => Ok(()),
            },
            Resolved::Dense { .. } | Resolved::Flatten => {
                spatial = false;
                Ok(())
            }
        };
        if let Err(e) = result {
            failed.get_or_insert(e);
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let output = output.into_data().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}")).context("reading the network output")?;
    Ok((stages, output))
}

/// `[1, C, H, W]` -> the `H * W` channel means.
fn channel_mean_float(t: &Tensor<4>) -> Result<Vec<f32>> {
    let [n, _, _, _] = t.dims();
    anyhow::ensure!(n == 1, "saliency takes one frame at a time, not a batch of {n}");
    t.clone().mean_dim(1).into_data().try_to_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}")).context("reading a feature map")
}
