//! Rewrites of a foreign graph before tract runs it, each computing exactly what the ONNX
//! operator defines, with operators tract runs fast.
//!
//! LRN: tract 0.23 evaluates it one output value at a time through dynamic indexing (about 70 %
//! of an AlexNet's time, measured). The same formula from standard operators:
//! `y = x / exp(beta * ln(bias + alpha * avg))`, where `avg` is the mean of `x^2` over the
//! `size` channels around each one (zeros beyond the edges count, as in LRN's sum divided by
//! `size`): an AveragePool with `count_include_pad` along the channel axis, reached by a
//! Transpose. The power is taken through `exp` and `ln` because tract's `Pow` is a per-value
//! loop as well (100 ms of an AlexNet LRN, against 10 ms for all of this); with `bias > 0` the
//! base is positive, so that is the same number.

use anyhow::{Context, Result};
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{AttributeProto, ModelProto, NodeProto, TensorProto};

/// Replaces every LRN node with a positive bias whose input is 4-dimensional
/// (`is_4d(input tensor name)`) in `model` with standard operators; its output keeps its name.
/// Returns the rewritten nodes' names.
pub fn lrn(model: &mut ModelProto, is_4d: impl Fn(&str) -> bool) -> Result<Vec<String>> {
    let graph = model.graph.as_mut().context("the model has no graph")?;
    let mut nodes = Vec::with_capacity(graph.node.len());
    let mut done = Vec::new();
    for node in std::mem::take(&mut graph.node) {
        let (Some(x), Some(y)) = (node.input.first(), node.output.first()) else {
            nodes.push(node);
            continue;
        };
        if node.op_type != "LRN" || !is_4d(x) {
            nodes.push(node);
            continue;
        }
        let float = |name: &str, default: f32| node.attribute.iter().find(|a| a.name == name).map_or(default, |a| a.f);
        let (alpha, beta, bias) = (float("alpha", 1e-4), float("beta", 0.75), float("bias", 1.0));
        let size = node.attribute.iter().find(|a| a.name == "size").map(|a| a.i).with_context(|| format!("LRN node {:?} has no size", node.name))?;
        anyhow::ensure!(size >= 1, "LRN node {:?}: size {size}", node.name);
        if bias <= 0.0 {
            nodes.push(node);
            continue;
        }
        let below = (size - 1) / 2;
        let above = size - 1 - below;
        // Names derived from the output's, which is unique in the graph.
        let t = |s: &str| format!("{y}/lrn.{s}");
        for (name, v) in [("alpha", alpha), ("bias", bias), ("beta", beta)] {
            graph.initializer.push(TensorProto {
                name: t(name),
                data_type: DataType::Float as i32,
                raw_data: v.to_le_bytes().to_vec(),
                ..TensorProto::default()
            });
        }
        let swap = || vec![ints("perm", &[0, 2, 1, 3])];
        let pool = vec![ints("kernel_shape", &[size, 1]), ints("pads", &[below, 0, above, 0]), ints("strides", &[1, 1]), int("count_include_pad", 1)];
        let step = |op: &str, inputs: &[String], out: String, attribute: Vec<AttributeProto>| NodeProto {
            input: inputs.to_vec(),
            output: vec![out.clone()],
            name: out,
            op_type: op.into(),
            attribute,
            ..NodeProto::default()
        };
        nodes.push(step("Mul", &[x.clone(), x.clone()], t("square"), vec![]));
        nodes.push(step("Transpose", &[t("square")], t("channels_third"), swap()));
        nodes.push(step("AveragePool", &[t("channels_third")], t("window_mean"), pool));
        nodes.push(step("Transpose", &[t("window_mean")], t("mean"), swap()));
        nodes.push(step("Mul", &[t("mean"), t("alpha")], t("scaled"), vec![]));
        nodes.push(step("Add", &[t("scaled"), t("bias")], t("base"), vec![]));
        nodes.push(step("Log", &[t("base")], t("ln_base"), vec![]));
        nodes.push(step("Mul", &[t("ln_base"), t("beta")], t("beta_ln_base"), vec![]));
        nodes.push(step("Exp", &[t("beta_ln_base")], t("denominator"), vec![]));
        nodes.push(NodeProto {
            input: vec![x.clone(), t("denominator")],
            output: vec![y.clone()],
            name: node.name.clone(),
            op_type: "Div".into(),
            ..NodeProto::default()
        });
        done.push(if node.name.is_empty() { y.clone() } else { node.name.clone() });
    }
    graph.node = nodes;
    Ok(done)
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Ints as i32, ints: v.to_vec(), ..AttributeProto::default() }
}

fn int(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Int as i32, i, ..AttributeProto::default() }
}
