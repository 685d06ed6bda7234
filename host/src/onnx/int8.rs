//! The int8 model as ONNX in the QOperator form, which tract and onnxruntime run in integer
//! arithmetic: `QLinearConv` for conv and dense (a dense layer is a 1x1 `QLinearConv` on a
//! `[1, K, 1, 1]` reshape, since `QLinearMatMul` has no bias), a `QLinearConv` with `group` =
//! channels for depthwise convolution, int8 `MaxPool`, and `Transpose` + `Reshape` for flatten
//! (the chip flattens HWC, ONNX tensors are NCHW).
//!
//! The graph takes and gives exactly the chip's bytes: input `input` is int8 `[1, H, W, C]`
//! (HWC, as preprocessing writes it), output `output` is int8 `[1, N]`. Every layer's output
//! tensor is named after the layer (`conv1`, `pool1`, `dense1`, ...), so Netron shows the
//! network as the chip runs it and `pilot verify` compares layer by layer.

use anyhow::{bail, Result};
use common::format::{read_i32, Layer, QParams, Task, Window};
use common::{bytes_as_i8, Model, Shape};
use tract_onnx::pb::tensor_proto::DataType;

use super::builder::{Attr, Graph};
use crate::quant::graph::to_oihw;

/// How an exported layer output is laid out, for comparing it with the reference (HWC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `[1, C, H, W]`.
    Nchw(Shape),
    /// `[1, N, 1, 1]` or `[1, N]`: the reference order.
    Flat,
}

/// Name and layout of the ONNX tensor holding each layer's output.
#[derive(Clone, Debug)]
pub struct LayerOutput {
    pub tensor: String,
    pub layout: Layout,
}

/// Scale `2^e` as f32 (exact).
fn scale(e: i8) -> f32 {
    (e as f32).exp2()
}

/// The exported ONNX bytes and where each layer's output is.
pub fn export(model: &Model<'_>) -> Result<(Vec<u8>, Vec<LayerOutput>)> {
    let mut g = Graph::new(model.name());
    let input = model.input();
    let s = input.shape;
    g.input("input", DataType::Int8, &[1, s.h as usize, s.w as usize, s.c as usize]);
    let mut x = g.node("Transpose", "input_to_nchw", &["input"], "input_nchw", vec![("perm", Attr::Ints(vec![0, 3, 1, 2]))]);
    let mut x_q = input.quant;
    let mut flat = false; // x is [1, K, 1, 1]
    let mut outputs = Vec::new();
    let zp_tensor = |g: &mut Graph, name: &str, q: QParams| {
        (g.f32s(&format!("{name}_scale"), &[], &[scale(q.scale_exp)]), g.i8s(&format!("{name}_zero_point"), &[], &[q.zero_point]))
    };

    for (i, node) in model.layers().iter().enumerate() {
        let name = node.name;
        let out_info = model.tensor(i + 1);
        match node.layer {
            Layer::Conv2d(c) => {
                let (xs, xz) = zp_tensor(&mut g, &format!("{name}_x"), x_q);
                let (o, ic) = (c.out_channels as usize, model.tensor(i).shape.c as usize);
                let (kh, kw) = (c.window.kernel_h as usize, c.window.kernel_w as usize);
                let oihw = to_oihw(bytes_as_i8(c.weights), o, (kh, kw, ic));
                let attrs = window_attrs(&c.window);
                x = qlinear_conv(&mut g, name, &x, (&xs, &xz), x_q, &oihw, &[o, ic, kh, kw], c.bias, c.multipliers, c.output, c.relu, attrs)?;
                x_q = c.output;
                outputs.push(LayerOutput { tensor: x.clone(), layout: Layout::Nchw(out_info.shape) });
            }
            Layer::Dense(d) => {
                if !flat {
                    bail!("layer {name}: a dense layer must follow a flatten");
                }
                let (xs, xz) = zp_tensor(&mut g, &format!("{name}_x"), x_q);
                let (n, k) = (d.out_features as usize, model.tensor(i).shape.c as usize);
                x = qlinear_conv(&mut g, name, &x, (&xs, &xz), x_q, bytes_as_i8(d.weights), &[n, k, 1, 1], d.bias, d.multipliers, d.output, d.relu, vec![])?;
                x_q = d.output;
                outputs.push(LayerOutput { tensor: x.clone(), layout: Layout::Flat });
            }
            Layer::MaxPool(p) => {
                x = g.node("MaxPool", name, &[&x], name, window_attrs(&p));
                outputs.push(LayerOutput { tensor: x.clone(), layout: Layout::Nchw(out_info.shape) });
            }
            Layer::Depthwise(d) => {
                // A grouped `QLinearConv`, one group per channel: weights `[C, 1, kh, kw]`.
                let (xs, xz) = zp_tensor(&mut g, &format!("{name}_x"), x_q);
                let c = model.tensor(i).shape.c as usize;
                let (kh, kw) = (d.window.kernel_h as usize, d.window.kernel_w as usize);
                let chw = depthwise_to_c1hw(bytes_as_i8(d.weights), c, (kh, kw));
                let mut attrs = window_attrs(&d.window);
                attrs.push(("group", Attr::Int(c as i64)));
                x = qlinear_conv(&mut g, name, &x, (&xs, &xz), x_q, &chw, &[c, 1, kh, kw], d.bias, d.multipliers, d.output, d.relu, attrs)?;
                x_q = d.output;
                outputs.push(LayerOutput { tensor: x.clone(), layout: Layout::Nchw(out_info.shape) });
            }
            Layer::AvgPool(_) => bail!("layer {name}: average pooling has no integer ONNX form that tract runs; use max pooling"),
            Layer::Flatten => {
                let nhwc = g.node("Transpose", &format!("{name}_to_nhwc"), &[&x], &format!("{name}_nhwc"), vec![("perm", Attr::Ints(vec![0, 2, 3, 1]))]);
                let shape = g.i64s(&format!("{name}_shape"), &[4], &[1, out_info.shape.c as i64, 1, 1]);
                x = g.node("Reshape", name, &[&nhwc, &shape], name, vec![]);
                flat = true;
                outputs.push(LayerOutput { tensor: x.clone(), layout: Layout::Flat });
            }
        }
        if !matches!(node.layer, Layer::Flatten | Layer::Dense(_)) {
            flat = false;
        }
    }
    // The output in the reference order: [1, N].
    let out = model.output().shape;
    if !flat {
        x = g.node("Transpose", "output_to_nhwc", &[&x], "output_nhwc", vec![("perm", Attr::Ints(vec![0, 2, 3, 1]))]);
    }
    let shape = g.i64s("output_shape", &[2], &[1, out.len() as i64]);
    g.node("Reshape", "output", &[&x, &shape], "output", vec![]);
    g.output("output", DataType::Int8, &[1, out.len()]);
    let bytes = g.into_model(&doc(model), &metadata(model));
    Ok((bytes, outputs))
}

/// Depthwise weights `[ky][kx][c]` (the blob's HWC) as ONNX's `[c][1][ky][kx]`.
pub fn depthwise_to_c1hw<T: Copy>(w: &[T], c: usize, (kh, kw): (usize, usize)) -> Vec<T> {
    (0..c * kh * kw).map(|i| w[(i % (kh * kw)) * c + i / (kh * kw)]).collect()
}

/// The ONNX attributes of a conv or pool window (ONNX pads: top, left, bottom, right).
fn window_attrs(w: &Window) -> Vec<(&'static str, Attr)> {
    let p = w.pads;
    vec![
        ("kernel_shape", Attr::Ints(vec![w.kernel_h as i64, w.kernel_w as i64])),
        ("strides", Attr::Ints(vec![w.stride_h as i64, w.stride_w as i64])),
        ("pads", Attr::Ints(vec![p.top as i64, p.left as i64, p.bottom as i64, p.right as i64])),
    ]
}

/// `QLinearConv` (+ `Max` at the zero point when ReLU does not coincide with the clamp).
#[allow(clippy::too_many_arguments)]
fn qlinear_conv(
    g: &mut Graph,
    name: &str,
    x: &str,
    (xs, xz): (&str, &str),
    x_q: QParams,
    w: &[i8],
    w_dims: &[usize],
    bias: &[u8],
    mults: &[u8],
    y_q: QParams,
    relu: bool,
    attrs: Vec<(&str, Attr)>,
) -> Result<String> {
    let o = w_dims[0];
    let mut w_scale = Vec::with_capacity(o);
    for c in 0..o {
        let m = read_i32(mults, c);
        if m >= 1 << 24 {
            bail!("layer {name}: multiplier {m} of channel {c} is not exact as an f32 scale (over 2^24)");
        }
        // w_s = m * 2^-16 * y_s / x_s: exact in f32, so tract's requantization is exact too.
        let e = y_q.scale_exp as i32 - x_q.scale_exp as i32 - 16;
        w_scale.push(m as f32 * (e as f32).exp2());
    }
    let bias: Vec<i32> = (0..o).map(|c| read_i32(bias, c)).collect();
    let w_name = g.i8s(&format!("{name}_weight"), w_dims, w);
    let ws = g.f32s(&format!("{name}_weight_scale"), &[o], &w_scale);
    let wz = g.i8s(&format!("{name}_weight_zero_point"), &[o], &vec![0; o]);
    let ys = g.f32s(&format!("{name}_y_scale"), &[], &[scale(y_q.scale_exp)]);
    let yz = g.i8s(&format!("{name}_y_zero_point"), &[], &[y_q.zero_point]);
    let b = g.i32s(&format!("{name}_bias"), &[o], &bias);
    let inputs = [x, xs, xz, &w_name, &ws, &wz, &ys, &yz, &b];
    if relu && y_q.zero_point != -128 {
        let pre = g.node("QLinearConv", &format!("{name}_conv"), &inputs, &format!("{name}_pre_relu"), attrs);
        let zp = g.i8s(&format!("{name}_relu_floor"), &[], &[y_q.zero_point]);
        Ok(g.node("Max", &format!("{name}_relu"), &[&pre, &zp], name, vec![]))
    } else {
        Ok(g.node("QLinearConv", name, &inputs, name, attrs))
    }
}

fn doc(model: &Model<'_>) -> String {
    format!(
        "{}: int8 network exported by pilot. Input int8 [1, H, W, C] made by pilot's preprocessing; output int8 [1, N]; real value = (q - zero_point) * 2^scale_exp.",
        model.name()
    )
}

fn metadata(model: &Model<'_>) -> Vec<(String, String)> {
    let (i, o) = (model.input(), model.output());
    let mut m = vec![
        ("pilot.format_version".into(), common::format::header::FORMAT_VERSION.to_string()),
        (
            "pilot.task".into(),
            match model.def().task {
                Task::Regression => "regression",
                Task::Classification => "classification",
            }
            .into(),
        ),
        ("pilot.input_layout".into(), "int8 NHWC".into()),
        ("pilot.input_scale_exp".into(), i.quant.scale_exp.to_string()),
        ("pilot.input_zero_point".into(), i.quant.zero_point.to_string()),
        ("pilot.output_scale_exp".into(), o.quant.scale_exp.to_string()),
        ("pilot.output_zero_point".into(), o.quant.zero_point.to_string()),
        (crate::workflow::score::INPUT_SPEC_KEY.into(), serde_json::to_string(&model.def().input).expect("an input spec is plain data")),
    ];
    if let Some(pp) = model.def().input.preprocess {
        m.push((
            "pilot.preprocess".into(),
            format!(
                "frame {}x{} {:?}; crop x={} y={} w={} h={}; bilinear resize to {}x{}; colour {:?}; q = v - 128",
                pp.frame_w, pp.frame_h, pp.format, pp.crop.x, pp.crop.y, pp.crop.w, pp.crop.h, i.shape.w, i.shape.h, pp.color
            ),
        ));
    }
    m
}
