//! The trained float network as ONNX (batch-norm folded, dropout removed): `Conv`, `Relu`,
//! `MaxPool`/`AveragePool`, `Transpose` + `Flatten`, `Gemm`. Input `input` is float
//! `[1, C, H, W]` holding `x = q * 2^scale_exp` of the int8 preprocessing output; output
//! `output` is `[1, N]`. Layer outputs are named like the int8 export's (`conv1`, `dense1`, ...).
//! The metadata `pilot.arch` holds the architecture (TOML), so that the file can serve as the
//! backbone of transfer learning ([`super::import`]).

use anyhow::Result;
use common::format::Pads;
use common::Shape;
use tract_onnx::pb::tensor_proto::DataType;

use super::builder::{Attr, Graph};
use crate::nn::spec::NetSpec;
use crate::quant::graph::{layer_names, to_oihw, FloatLayer, GraphLayer};

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
                if *relu { g.node("Relu", &format!("{name}_relu"), &[&y], &name, vec![]) } else { y }
            }
            FloatLayer::Dense { w, b, out, relu } => {
                let (n_out, n_in) = (*out as usize, l.input.c as usize);
                let wn = g.f32s(&format!("{name}_weight"), &[n_out, n_in], w);
                let bn = g.f32s(&format!("{name}_bias"), &[n_out], b);
                let gemm_out = if *relu { format!("{name}_pre_relu") } else { name.clone() };
                let y = g.node("Gemm", &format!("{name}_gemm"), &[&x, &wn, &bn], &gemm_out, vec![("transB", Attr::Int(1))]);
                if *relu { g.node("Relu", &format!("{name}_relu"), &[&y], &name, vec![]) } else { y }
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
