//! The trained float network as ONNX (batch-norm folded, dropout removed): `Conv`, `Relu`,
//! `MaxPool`/`AveragePool`, `Transpose` + `Flatten`, `Gemm`. Input `input` is float
//! `[1, C, H, W]` holding `x = q * 2^scale_exp` of the int8 preprocessing output; output
//! `output` is `[1, N]`. Layer outputs are named like the int8 export's (`conv1`, `dense1`, ...).
//! The metadata `pilot.arch` holds the architecture (TOML), so that the file can serve as the
//! backbone of transfer learning ([`super::import`]).

use anyhow::Result;
use common::format::{Pads, Window};
use common::Shape;
use tract_onnx::pb::tensor_proto::DataType;

use super::builder::{Attr, Graph};
use crate::nn::spec::NetSpec;
use crate::quant::graph::{layer_names, to_oihw, FloatLayer, GraphLayer};

/// A depthwise convolution (depth multiplier 1) as a float `Conv` with `group` = channels:
/// `w` holds the `c` filters one after the other (`[c][ky][kx]`, ONNX's `[C, 1, kh, kw]`),
/// `b` the biases; returns the output's name (`name`, after a `Relu` when `relu`).
#[allow(clippy::too_many_arguments)]
pub fn depthwise_conv(g: &mut Graph, name: &str, x: &str, w: &[f32], b: &[f32], c: usize, window: &Window, relu: bool) -> String {
    let (kh, kw) = (window.kernel_h as usize, window.kernel_w as usize);
    let wn = g.f32s(&format!("{name}_weight"), &[c, 1, kh, kw], w);
    let bn = g.f32s(&format!("{name}_bias"), &[c], b);
    let attrs = vec![
        ("kernel_shape", Attr::Ints(vec![kh as i64, kw as i64])),
        ("strides", Attr::Ints(vec![window.stride_h as i64, window.stride_w as i64])),
        ("pads", pads(window.pads)),
        ("group", Attr::Int(c as i64)),
    ];
    let conv_out = if relu { format!("{name}_pre_relu") } else { name.to_string() };
    let y = g.node("Conv", &format!("{name}_conv"), &[x, &wn, &bn], &conv_out, attrs);
    if relu {
        g.node("Relu", &format!("{name}_relu"), &[&y], name, vec![])
    } else {
        y
    }
}

fn pads(p: Pads) -> Attr {
    Attr::Ints(vec![p.top as i64, p.left as i64, p.bottom as i64, p.right as i64])
}

/// The float ONNX bytes of `graph` (extracted from a network of architecture `spec`), with
/// metadata describing the input and the architecture.
pub fn export(spec: &NetSpec, graph: &[GraphLayer]) -> Result<Vec<u8>> {
    let (name, input, scale_exp): (&str, Shape, i8) = (&spec.name, spec.input_shape(), spec.input.scale_exp);
    let mut g = Graph::new(name);
    g.input("input", DataType::Float, &[1, input.c as usize, input.h as usize, input.w as usize]);
    let mut x = "input".to_string();
    for (l, name) in graph.iter().zip(layer_names(graph)) {
        x = match &l.layer {
            FloatLayer::Conv { w, b, out_c, kernel, stride, pads: p, relu } => {
                let (o, ic, k) = (*out_c as usize, l.input.c as usize, *kernel as usize);
                let oihw = to_oihw(w, o, (k, k, ic));
                let wn = g.f32s(&format!("{name}_weight"), &[o, ic, k, k], &oihw);
                let bn = g.f32s(&format!("{name}_bias"), &[o], b);
                let attrs = vec![
                    ("kernel_shape", Attr::Ints(vec![k as i64, k as i64])),
                    ("strides", Attr::Ints(vec![*stride as i64, *stride as i64])),
                    ("pads", pads(*p)),
                ];
                let conv_out = if *relu { format!("{name}_pre_relu") } else { name.clone() };
                let y = g.node("Conv", &format!("{name}_conv"), &[&x, &wn, &bn], &conv_out, attrs);
                if *relu {
                    g.node("Relu", &format!("{name}_relu"), &[&y], &name, vec![])
                } else {
                    y
                }
            }
            FloatLayer::Depthwise { w, b, kernel, stride, pads: p, relu } => {
                depthwise_conv(&mut g, &name, &x, w, b, b.len(), &Window::square(*kernel, *stride, *p), *relu)
            }
            FloatLayer::Dense { w, b, out, relu } => {
                let (n_out, n_in) = (*out as usize, l.input.c as usize);
                let wn = g.f32s(&format!("{name}_weight"), &[n_out, n_in], w);
                let bn = g.f32s(&format!("{name}_bias"), &[n_out], b);
                let gemm_out = if *relu { format!("{name}_pre_relu") } else { name.clone() };
                let y = g.node("Gemm", &format!("{name}_gemm"), &[&x, &wn, &bn], &gemm_out, vec![("transB", Attr::Int(1))]);
                if *relu {
                    g.node("Relu", &format!("{name}_relu"), &[&y], &name, vec![])
                } else {
                    y
                }
            }
            FloatLayer::MaxPool(p) | FloatLayer::AvgPool(p) => {
                let op = if matches!(l.layer, FloatLayer::MaxPool(_)) { "MaxPool" } else { "AveragePool" };
                let attrs = vec![
                    ("kernel_shape", Attr::Ints(vec![p.kernel_h as i64, p.kernel_w as i64])),
                    ("strides", Attr::Ints(vec![p.stride_h as i64, p.stride_w as i64])),
                    ("pads", pads(p.pads)),
                ];
                g.node(op, &name, &[&x], &name, attrs)
            }
            FloatLayer::Flatten => {
                // HWC order, as the dense weights (and the chip) expect.
                let nhwc = g.node("Transpose", &format!("{name}_to_nhwc"), &[&x], &format!("{name}_nhwc"), vec![("perm", Attr::Ints(vec![0, 2, 3, 1]))]);
                g.node("Flatten", &name, &[&nhwc], &name, vec![("axis", Attr::Int(1))])
            }
        };
    }
    let out = graph.last().map(|l| l.output.len()).unwrap_or(0);
    g.node("Identity", "output", &[&x], "output", vec![]);
    g.output("output", DataType::Float, &[1, out]);
    let doc = format!("{name}: float network exported by pilot (batch-norm folded). Input x = (v - 128) * 2^{scale_exp}, NCHW.");
    let meta = vec![
        ("pilot.input_scale_exp".to_string(), scale_exp.to_string()),
        ("pilot.input_layout".to_string(), "float NCHW".to_string()),
        ("pilot.arch".to_string(), spec.to_toml()),
    ];
    Ok(g.into_model(&doc, &meta))
}

/// The best float network of a training run as ONNX.
pub fn export_run(run: &crate::train::checkpoint::RunDir) -> Result<Vec<u8>> {
    let spec = run.spec()?;
    let net = run.load_best(&crate::train::infer_device())?;
    let graph = crate::quant::graph::extract(&net, &spec.resolve()?)?;
    export(&spec, &graph)
}

#[cfg(test)]
mod tests {
    use common::format::{Pads, Window};
    use common::testing::Rng;
    use tract_onnx::pb::tensor_proto::DataType;

    use super::depthwise_conv;
    use crate::onnx::builder::Graph;
    use crate::onnx::run::Tract;

    /// The depthwise `Conv` in tract equals the definition (HWC weights, padding, stride, ReLU).
    #[test]
    fn depthwise_conv_is_the_definition() {
        let mut rng = Rng::new(5);
        for case in 0..20 {
            let (h, w, c) = (rng.range(3, 9) as usize, rng.range(3, 9) as usize, rng.range(1, 7) as usize);
            let (kh, kw) = (rng.range(1, 3) as usize, rng.range(1, 3) as usize);
            let pads =
                Pads { top: rng.range(0, kh as i64 - 1) as u8, left: rng.range(0, kw as i64 - 1) as u8, bottom: 0, right: rng.range(0, kw as i64 - 1) as u8 };
            let window = Window { kernel_h: kh as u8, kernel_w: kw as u8, stride_h: rng.range(1, 2) as u8, stride_w: rng.range(1, 2) as u8, pads };
            let relu = rng.bool();
            let wt: Vec<f32> = (0..kh * kw * c).map(|_| rng.range(-100, 100) as f32 / 64.0).collect();
            let bias: Vec<f32> = (0..c).map(|_| rng.range(-100, 100) as f32 / 64.0).collect();
            let x: Vec<f32> = (0..c * h * w).map(|_| rng.range(-100, 100) as f32 / 32.0).collect(); // NCHW
            let (oh, ow) = window.output(common::Shape::new(h as u16, w as u16, c as u16)).unwrap();
            let (oh, ow) = (oh as usize, ow as usize);

            let mut g = Graph::new("dw");
            g.input("input", DataType::Float, &[1, c, h, w]);
            let chw = crate::onnx::int8::depthwise_to_c1hw(&wt, c, (kh, kw));
            let y = depthwise_conv(&mut g, "depthwise1", "input", &chw, &bias, c, &window, relu);
            g.node("Identity", "output", &[&y], "output", vec![]);
            g.output("output", DataType::Float, &[1, c, oh, ow]);
            let onnx = g.into_model("test", &[]);
            let got = &Tract::run_float(&onnx, &x, [1, c, h, w]).unwrap()[0];

            for ch in 0..c {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = bias[ch] as f64;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * window.stride_h as usize + ky) as isize - pads.top as isize;
                                let ix = (ox * window.stride_w as usize + kx) as isize - pads.left as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    acc += wt[(ky * kw + kx) * c + ch] as f64 * x[(ch * h + iy as usize) * w + ix as usize] as f64;
                                }
                            }
                        }
                        let want = if relu { acc.max(0.0) } else { acc };
                        let v = got[(ch * oh + oy) * ow + ox] as f64;
                        assert!((v - want).abs() < 1e-4, "case {case}: channel {ch} ({oy}, {ox}): {v} vs {want}");
                    }
                }
            }
        }
    }
}
