//! Reads a float ONNX network back into a trainable burn [`Net`]: the backbone of transfer
//! learning given as an ONNX file.
//!
//! The graph must be a chain of the operators pilot's float export writes: `Conv`, `Relu`,
//! `MaxPool`, `AveragePool`, `Flatten` (after `Transpose` to NHWC, as pilot writes it, or
//! alone), `Gemm`, plus `Identity` and `Dropout`, which are skipped. The layers and weights come
//! from the graph; what the graph cannot say (the input's colour mode, scale and camera frame,
//! the task) comes from the `pilot.arch` metadata that `pilot export --float-onnx` writes.

use std::collections::HashMap;

use anyhow::{bail, ensure, Context, Result};
use burn::module::Param;
use burn::tensor::{Device, Tensor, TensorData};
use common::format::{Padding, Window};
use common::Shape;
use prost::Message;
use tract_onnx::pb::{AttributeProto, ModelProto, NodeProto, TensorProto};

use crate::nn::net::{Block, Net};
use crate::nn::spec::{resolve_layer, Activation, LayerSpec, NetSpec, PaddingKind, Units};

/// A network read from ONNX.
pub struct Imported {
    /// The architecture: layers from the graph, input and task from `pilot.arch`.
    pub spec: NetSpec,
    /// The weights, in burn's layouts.
    pub net: Net,
    /// For each burn block of `net`, the ONNX tensor that holds the same values.
    pub block_tensors: Vec<String>,
    /// The graph's input tensor.
    pub input_tensor: String,
}

/// Weights of one conv or dense layer as the graph has them.
enum Weights {
    /// OIHW and bias.
    Conv(Vec<f32>, Vec<f32>),
    /// `[out][in]` over the input in `order`, and bias.
    Dense(Vec<f32>, Vec<f32>, FlatOrder),
}

/// The order of a flattened input: what the dense weights index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FlatOrder {
    /// Not flattened from an image (a dense layer after a dense layer).
    Flat,
    /// Flattened from NHWC (pilot's export: `Transpose` then `Flatten`), from this shape.
    Hwc(Shape),
    /// Flattened from NCHW (burn's own order).
    Chw,
}

/// Reads ONNX bytes (`what` names the file in errors).
pub fn import(bytes: &[u8], what: &str, device: &Device) -> Result<Imported> {
    let model = ModelProto::decode(bytes).with_context(|| format!("{what} is not an ONNX model"))?;
    let arch = model
        .metadata_props
        .iter()
        .find(|p| p.key == "pilot.arch")
        .with_context(|| format!("{what} has no pilot.arch metadata (input colour, scale and task): export it with `pilot export --float-onnx`, or give the training run folder instead"))?;
    let described = NetSpec::parse(&arch.value).with_context(|| format!("{what}: its pilot.arch metadata is not a valid architecture"))?;
    let graph = model.graph.as_ref().with_context(|| format!("{what} has no graph"))?;

    let init: HashMap<&str, &TensorProto> = graph.initializer.iter().map(|t| (t.name.as_str(), t)).collect();
    let input = graph.input.iter().find(|i| !init.contains_key(i.name.as_str())).with_context(|| format!("{what}: the graph has no input"))?;

    let mut chain = Chain {
        init: &init,
        layers: Vec::new(),
        weights: Vec::new(),
        block_tensors: Vec::new(),
        pending_tensor: false,
        shape: described.input_shape(),
        cur: input.name.clone(),
        order: None,
    };
    let mut nodes = graph.node.iter();
    while let Some(node) = nodes.next() {
        let here = || format!("{what}: node {:?} ({})", node.name, node.op_type);
        ensure!(
            node.input.first() == Some(&chain.cur),
            "{}: the graph is not a chain (its input is {:?}, the previous output {:?})",
            here(),
            node.input.first(),
            chain.cur
        );
        let mut output = node.output.first().with_context(|| format!("{}: no output", here()))?.clone();
        match node.op_type.as_str() {
            "Conv" => chain.conv(node).with_context(here)?,
            "Gemm" => chain.gemm(node).with_context(here)?,
            "Relu" => chain.relu(),
            "MaxPool" | "AveragePool" => chain.pool(node).with_context(here)?,
            "Transpose" => {
                ensure!(ints(node, "perm")? == Some(vec![0, 2, 3, 1]), "{}: only the NCHW -> NHWC transpose before a Flatten is supported", here());
                let next = nodes.next().filter(|n| n.op_type == "Flatten" && n.input.first() == Some(&output));
                let flatten = next.with_context(|| format!("{}: must be followed by a Flatten", here()))?;
                chain.flatten(flatten, true).with_context(|| format!("{what}: node {:?} (Flatten)", flatten.name))?;
                output = flatten.output.first().with_context(|| format!("{what}: node {:?} (Flatten): no output", flatten.name))?.clone();
            }
            "Flatten" => chain.flatten(node, false).with_context(here)?,
            "Identity" | "Dropout" => {}
            op => bail!("{}: operator {op} is not supported in a backbone (Conv, Relu, MaxPool, AveragePool, Flatten, Gemm)", here()),
        }
        chain.cur = output;
        if let Some(last) = chain.block_tensors.last_mut().filter(|_| chain.pending_tensor) {
            *last = chain.cur.clone();
            chain.pending_tensor = false;
        }
    }
    ensure!(!chain.layers.is_empty(), "{what}: the graph has no layers");

    let spec = NetSpec { name: described.name.clone(), task: described.task, input: described.input.clone(), layers: chain.layers };
    let resolved = spec.resolve().with_context(|| format!("{what}: the graph's layers do not chain"))?;
    let mut net = Net::new(&resolved, device);
    load_weights(&mut net, chain.weights, device).with_context(|| format!("{what}: weights"))?;
    ensure!(chain.block_tensors.len() == net.blocks.len(), "{what}: internal error: {} tensors for {} blocks", chain.block_tensors.len(), net.blocks.len());
    Ok(Imported { spec, net, block_tensors: chain.block_tensors, input_tensor: input.name.clone() })
}

/// The network read so far.
struct Chain<'a> {
    init: &'a HashMap<&'a str, &'a TensorProto>,
    layers: Vec<LayerSpec>,
    weights: Vec<Weights>,
    block_tensors: Vec<String>,
    /// The newest block's tensor is the output of the node being read.
    pending_tensor: bool,
    /// The current tensor's shape (HWC) and name.
    shape: Shape,
    cur: String,
    order: Option<FlatOrder>,
}

impl Chain<'_> {
    fn new_block(&mut self, layer: LayerSpec, shape: Shape) {
        self.layers.push(layer);
        self.block_tensors.push(String::new());
        self.pending_tensor = true;
        self.shape = shape;
    }

    fn conv(&mut self, node: &NodeProto) -> Result<()> {
        let (w, dims) = self.tensor(node, 1)?;
        let [o, i, kh, kw] = dims[..] else { bail!("weights must be OIHW, got dims {dims:?}") };
        let group = int(node, "group")?.unwrap_or(1);
        // A depthwise convolution: one group, and one filter, per input channel.
        let depthwise = group > 1 && group == self.shape.c as i64 && i == 1 && o == group as usize;
        ensure!(group == 1 || depthwise, "grouped convolution is supported only depthwise (group = channels = filters), got group {group}");
        ensure!(depthwise || i == self.shape.c as usize, "weights take {i} input channels, the input has {}", self.shape.c);
        ensure!(kh == kw && kh > 0 && kh < 256, "only square kernels are supported, got {kh}x{kw}");
        let b = self.bias(node, o)?;
        ensure!(ints(node, "dilations")?.is_none_or(|d| d.iter().all(|&x| x == 1)), "dilated convolution is not supported");
        let stride = square(ints(node, "strides")?, "strides")?;
        let pads = ints(node, "pads")?.unwrap_or(vec![0; 4]);
        let k = kh as u8;
        let same = Window::padded(Padding::Same, self.shape.h, self.shape.w, (k, k), (stride, stride)).pads;
        let padding = if pads.iter().all(|&p| p == 0) {
            PaddingKind::Valid
        } else if pads == [same.top, same.left, same.bottom, same.right].map(i64::from) {
            PaddingKind::Same
        } else {
            bail!("pads {pads:?} are neither valid (0) nor same {:?}", [same.top, same.left, same.bottom, same.right]);
        };
        let layer = if depthwise {
            LayerSpec::Depthwise { kernel: k, stride, padding, activation: None }
        } else {
            LayerSpec::Conv2d { filters: o as u16, kernel: k, stride, padding, activation: None }
        };
        let (_, out) = resolve_layer(&layer, self.shape)?;
        self.weights.push(Weights::Conv(w, b));
        self.new_block(layer, out);
        Ok(())
    }

    fn gemm(&mut self, node: &NodeProto) -> Result<()> {
        ensure!(self.shape.is_flat(), "Gemm needs a flat input (a Flatten before it)");
        for (name, want) in [("alpha", 1.0), ("beta", 1.0)] {
            let v = node.attribute.iter().find(|a| a.name == name).map(|a| a.f).unwrap_or(want);
            ensure!(v == want, "{name} = {v} is not supported (only 1)");
        }
        ensure!(int(node, "transA")?.unwrap_or(0) == 0, "transA is not supported");
        let (w, dims) = self.tensor(node, 1)?;
        let [a, b] = dims[..] else { bail!("weights must be 2-D, got dims {dims:?}") };
        let n_in = self.shape.c as usize;
        // Gemm computes x W^T (transB = 1, pilot's export) or x W; keep `[out][in]`.
        let (out, rows) = match int(node, "transB")?.unwrap_or(0) {
            1 => (a, w),
            _ => (b, (0..b * a).map(|k| w[(k % a) * b + k / a]).collect()),
        };
        ensure!(rows.len() == out * n_in, "weights {dims:?} do not take the {n_in} inputs");
        let bias = self.bias(node, out)?;
        let order = self.order.take().unwrap_or(FlatOrder::Flat);
        self.weights.push(Weights::Dense(rows, bias, order));
        self.new_block(LayerSpec::Dense { units: Units::Count(out as u16), activation: None }, Shape::flat(out as u16));
        Ok(())
    }

    /// A ReLU right after a conv or dense layer is its activation (as in the TOML); else a layer.
    /// Either way it is a block of its own in burn.
    fn relu(&mut self) {
        match self.layers.last_mut() {
            Some(
                LayerSpec::Conv2d { activation: a @ None, .. }
                | LayerSpec::Depthwise { activation: a @ None, .. }
                | LayerSpec::Dense { activation: a @ None, .. },
            ) => *a = Some(Activation::Relu),
            _ => self.layers.push(LayerSpec::Relu),
        }
        self.block_tensors.push(String::new());
        self.pending_tensor = true;
    }

    fn pool(&mut self, node: &NodeProto) -> Result<()> {
        let size = square(ints(node, "kernel_shape")?, "kernel_shape")?;
        let stride = square(ints(node, "strides")?, "strides")?;
        ensure!(ints(node, "pads")?.is_none_or(|p| p.iter().all(|&x| x == 0)), "padded pooling is not supported");
        ensure!(int(node, "ceil_mode")?.unwrap_or(0) == 0, "ceil_mode is not supported");
        let layer = match node.op_type.as_str() {
            "MaxPool" => LayerSpec::Maxpool { size, stride: Some(stride) },
            _ => LayerSpec::Avgpool { size, stride: Some(stride) },
        };
        let (_, out) = resolve_layer(&layer, self.shape)?;
        self.new_block(layer, out);
        Ok(())
    }

    fn flatten(&mut self, node: &NodeProto, hwc: bool) -> Result<()> {
        ensure!(int(node, "axis")?.unwrap_or(1) == 1, "only Flatten with axis 1 is supported");
        let from = self.shape;
        self.order = Some(if hwc { FlatOrder::Hwc(from) } else { FlatOrder::Chw });
        self.new_block(LayerSpec::Flatten, Shape::flat(u16::try_from(from.len()).context("flattened size over 65535")?));
        Ok(())
    }

    /// Initializer `node.input[k]` as f32 values and its dims.
    fn tensor(&self, node: &NodeProto, k: usize) -> Result<(Vec<f32>, Vec<usize>)> {
        let name = node.input.get(k).with_context(|| format!("input {k} missing"))?;
        let t = self.init.get(name.as_str()).with_context(|| format!("{name} is not an initializer (weights must be constants)"))?;
        floats(t)
    }

    fn bias(&self, node: &NodeProto, n: usize) -> Result<Vec<f32>> {
        if node.input.get(2).is_none_or(|s| s.is_empty()) {
            return Ok(vec![0.0; n]);
        }
        let (b, dims) = self.tensor(node, 2)?;
        ensure!(b.len() == n, "bias has dims {dims:?}, expected {n} values");
        Ok(b)
    }
}

fn floats(t: &TensorProto) -> Result<(Vec<f32>, Vec<usize>)> {
    const FLOAT: i32 = tract_onnx::pb::tensor_proto::DataType::Float as i32;
    ensure!(t.data_type == FLOAT, "{} is not float32", t.name);
    let dims: Vec<usize> = t.dims.iter().map(|&d| usize::try_from(d)).collect::<Result<_, _>>().with_context(|| format!("{}: negative dims", t.name))?;
    let n: usize = dims.iter().product();
    let v: Vec<f32> =
        if !t.raw_data.is_empty() { t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect() } else { t.float_data.clone() };
    ensure!(v.len() == n, "{}: {} values for dims {dims:?}", t.name, v.len());
    ensure!(v.iter().all(|x| x.is_finite()), "{}: not finite values", t.name);
    Ok((v, dims))
}

fn attr<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name == name)
}

fn ints(node: &NodeProto, name: &str) -> Result<Option<Vec<i64>>> {
    Ok(attr(node, name).map(|a| a.ints.clone()))
}

fn int(node: &NodeProto, name: &str) -> Result<Option<i64>> {
    Ok(attr(node, name).map(|a| a.i))
}

/// A square 2-D attribute (`[k, k]`) as one value; absent means 1.
fn square(v: Option<Vec<i64>>, name: &str) -> Result<u8> {
    match v.as_deref() {
        None => Ok(1),
        Some([a, b]) if a == b && (1..256).contains(a) => Ok(*a as u8),
        Some(other) => bail!("{name} {other:?}: only square values 1..255 are supported"),
    }
}

/// Puts the graph's weights into the conv and dense blocks, in order.
fn load_weights(net: &mut Net, weights: Vec<Weights>, device: &Device) -> Result<()> {
    let mut weights = weights.into_iter();
    for block in &mut net.blocks {
        match block {
            Block::Conv(c) => {
                let Some(Weights::Conv(w, b)) = weights.next() else { bail!("weights out of order") };
                let dims: [usize; 4] = c.weight.val().dims();
                c.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, dims), device));
                c.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(b.clone(), [b.len()]), device)));
            }
            Block::Dense(d) => {
                let Some(Weights::Dense(rows, b, order)) = weights.next() else { bail!("weights out of order") };
                let [n_in, n_out]: [usize; 2] = d.weight.val().dims();
                // burn keeps `[in][out]` over its own NCHW flattening.
                let mut w = vec![0f32; n_in * n_out];
                for o in 0..n_out {
                    for j in 0..n_in {
                        let src = match order {
                            FlatOrder::Hwc(s) => {
                                let (c, x, y) = (j % s.c as usize, (j / s.c as usize) % s.w as usize, j / (s.c as usize * s.w as usize));
                                (c * s.h as usize + y) * s.w as usize + x
                            }
                            FlatOrder::Flat | FlatOrder::Chw => j,
                        };
                        w[src * n_out + o] = rows[o * n_in + j];
                    }
                }
                d.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [n_in, n_out]), device));
                d.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(b.clone(), [b.len()]), device)));
            }
            _ => {}
        }
    }
    ensure!(weights.next().is_none(), "more weights than layers");
    Ok(())
}
