//! Feature extraction from foreign ONNX image networks: graphs of standard operators (Conv,
//! BatchNormalization, Relu, LRN, MaxPool, Add, Concat, GlobalAveragePool, Flatten, Gemm,
//! Softmax; and an NHWC graph with Transposes) built here with tract's protobuf types, run by
//! tract up to a named node on prepared images, and checked against the same network computed
//! by plain loops in this file. Then the head trains on their cached features.

use std::path::Path;

use host::data::{ClassificationData, ClassificationOptions, Examples, ImageAugment, SplitOptions};
use host::nn::spec::TaskKind;
use host::onnx::builder::{Attr, Graph};
use host::onnx::foreign::{ForeignGraph, InputHints, Layout};
use host::train::checkpoint::RunDir;
use host::train::{infer_device, FitOptions, RegressionLoss, TrainConfig};
use host::transfer::features::{self, Job};
use host::transfer::head_train::FeatureBatches;
use host::transfer::{self, Backbone, Cache, Extractor, ForeignExtractor, ForeignHead, ForeignOptions, Lookup, Mode, PrepareOptions, Preset, TransferOptions};
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::{dimension, Dimension};
use tract_onnx::pb::{type_proto, AttributeProto, TensorShapeProto, TypeProto, ValueInfoProto};

mod fixtures;

// ---------------------------------------------------------------------------------------------
// The reference: plain loops over NCHW tensors of one image.

/// One image's activation: `c` channels of `h x w`, NCHW.
#[derive(Clone, Debug)]
struct T {
    c: usize,
    h: usize,
    w: usize,
    v: Vec<f32>,
}

impl T {
    fn at(&self, c: usize, y: usize, x: usize) -> f32 {
        self.v[(c * self.h + y) * self.w + x]
    }
}

/// Convolution, weights OIHW, zero padding `pad` on every side.
fn conv(x: &T, w: &[f32], b: &[f32], out_c: usize, k: usize, stride: usize, pad: usize) -> T {
    let oh = (x.h + 2 * pad - k) / stride + 1;
    let ow = (x.w + 2 * pad - k) / stride + 1;
    let mut v = vec![0f32; out_c * oh * ow];
    for o in 0..out_c {
        for y in 0..oh {
            for xx in 0..ow {
                let mut acc = b[o];
                for i in 0..x.c {
                    for ky in 0..k {
                        for kx in 0..k {
                            let (sy, sx) = ((y * stride + ky) as isize - pad as isize, (xx * stride + kx) as isize - pad as isize);
                            if sy >= 0 && sx >= 0 && (sy as usize) < x.h && (sx as usize) < x.w {
                                acc += w[((o * x.c + i) * k + ky) * k + kx] * x.at(i, sy as usize, sx as usize);
                            }
                        }
                    }
                }
                v[(o * oh + y) * ow + xx] = acc;
            }
        }
    }
    T { c: out_c, h: oh, w: ow, v }
}

/// Batch normalization in inference: `(x - mean) / sqrt(var + eps) * scale + bias` per channel.
fn batchnorm(x: &T, scale: &[f32], bias: &[f32], mean: &[f32], var: &[f32], eps: f32) -> T {
    let mut out = x.clone();
    for c in 0..x.c {
        for p in 0..x.h * x.w {
            let i = c * x.h * x.w + p;
            out.v[i] = (x.v[i] - mean[c]) / (var[c] + eps).sqrt() * scale[c] + bias[c];
        }
    }
    out
}

fn relu(x: &T) -> T {
    T { v: x.v.iter().map(|&v| v.max(0.0)).collect(), ..x.clone() }
}

/// Local response normalization across channels, as the ONNX operator defines it.
fn lrn(x: &T, size: usize, alpha: f32, beta: f32, bias: f32) -> T {
    let mut out = x.clone();
    let (below, above) = ((size - 1) / 2, (size - 1).div_ceil(2));
    for c in 0..x.c {
        for y in 0..x.h {
            for xx in 0..x.w {
                let lo = c.saturating_sub(below);
                let hi = (c + above).min(x.c - 1);
                let sum: f32 = (lo..=hi).map(|i| x.at(i, y, xx).powi(2)).sum();
                out.v[(c * x.h + y) * x.w + xx] = x.at(c, y, xx) / (bias + alpha / size as f32 * sum).powf(beta);
            }
        }
    }
    out
}

fn maxpool(x: &T, k: usize) -> T {
    let (oh, ow) = (x.h / k, x.w / k);
    let mut v = Vec::with_capacity(x.c * oh * ow);
    for c in 0..x.c {
        for y in 0..oh {
            for xx in 0..ow {
                let mut m = f32::NEG_INFINITY;
                for dy in 0..k {
                    for dx in 0..k {
                        m = m.max(x.at(c, y * k + dy, xx * k + dx));
                    }
                }
                v.push(m);
            }
        }
    }
    T { c: x.c, h: oh, w: ow, v }
}

fn add(a: &T, b: &T) -> T {
    T { v: a.v.iter().zip(&b.v).map(|(x, y)| x + y).collect(), ..a.clone() }
}

/// Channels of `a`, then of `b`.
fn concat(a: &T, b: &T) -> T {
    T { c: a.c + b.c, h: a.h, w: a.w, v: a.v.iter().chain(&b.v).copied().collect() }
}

fn global_average(x: &T) -> Vec<f32> {
    (0..x.c).map(|c| x.v[c * x.h * x.w..(c + 1) * x.h * x.w].iter().sum::<f32>() / (x.h * x.w) as f32).collect()
}

/// `y = W x + b` with W `[out][in]` (Gemm with transB = 1).
fn dense(x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
    b.iter().enumerate().map(|(o, &bo)| bo + x.iter().enumerate().map(|(i, &xi)| w[o * x.len() + i] * xi).sum::<f32>()).collect()
}

fn softmax(x: &[f32]) -> Vec<f32> {
    let m = x.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    let e: Vec<f32> = x.iter().map(|v| (v - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// The network input from an RGB888 image (HWC): `(v * scale - mean[c]) / std[c]`, the
/// network's channel `c` being pixel channel `2 - c` when `bgr`; NCHW.
fn prepare(rgb: &[u8], h: usize, w: usize, scale: f32, mean: [f32; 3], std: [f32; 3], bgr: bool) -> T {
    let mut v = vec![0f32; 3 * h * w];
    for c in 0..3 {
        let src = if bgr { 2 - c } else { c };
        for p in 0..h * w {
            v[c * h * w + p] = (rgb[p * 3 + src] as f32 * scale - mean[c]) / std[c];
        }
    }
    T { c: 3, h, w, v }
}

// ---------------------------------------------------------------------------------------------
// The graphs.

/// Deterministic values in [-amp, amp).
fn values(n: usize, seed: u32, amp: f32) -> Vec<f32> {
    (0..n as u32)
        .map(|i| ((i.wrapping_mul(2_654_435_761).wrapping_add(seed.wrapping_mul(40_503)) >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0) * amp)
        .collect()
}

fn float_attr(name: &str, f: f32) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Float as i32, f, ..AttributeProto::default() }
}

fn int_attr(name: &str, i: i64) -> AttributeProto {
    AttributeProto { name: name.into(), r#type: AttributeType::Int as i32, i, ..AttributeProto::default() }
}

/// A node with attributes of any type (the builder's `node` takes ints only).
fn node(g: &mut Graph, op: &str, name: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> String {
    g.node_with(op, name, inputs, output, attribute)
}

/// A float input whose dimensions are numbers or named (`None`: the batch, named `N`).
fn input(g: &mut Graph, name: &str, dims: &[Option<usize>]) {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            denotation: String::new(),
            value: Some(match d {
                Some(v) => dimension::Value::DimValue(*v as i64),
                None => dimension::Value::DimParam("N".into()),
            }),
        })
        .collect();
    let tensor = type_proto::Tensor { elem_type: DataType::Float as i32, shape: Some(TensorShapeProto { dim }) };
    g.proto.input.push(ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto { denotation: String::new(), value: Some(type_proto::Value::TensorType(tensor)) }),
        doc_string: String::new(),
    });
}

/// The weights of the zoo-like graph.
struct Zoo {
    c1: (Vec<f32>, Vec<f32>),
    bn: [Vec<f32>; 4],
    c2: (Vec<f32>, Vec<f32>),
    c3: (Vec<f32>, Vec<f32>),
    fc: (Vec<f32>, Vec<f32>),
}

const ZOO_H: usize = 12;
const ZOO_W: usize = 10;
const LRN: (usize, f32, f32, f32) = (3, 0.5, 0.75, 2.0);
const BN_EPS: f32 = 1e-3;

impl Zoo {
    fn new() -> Zoo {
        Zoo {
            c1: (values(4 * 3 * 9, 1, 0.3), values(4, 2, 0.2)),
            bn: [
                values(4, 3, 0.5).iter().map(|v| v + 1.0).collect(),
                values(4, 4, 0.3),
                values(4, 5, 0.2),
                values(4, 6, 0.4).iter().map(|v| v + 0.6).collect(),
            ],
            c2: (values(4 * 4 * 9, 7, 0.3), values(4, 8, 0.1)),
            c3: (values(2 * 4, 9, 0.5), values(2, 10, 0.1)),
            fc: (values(5 * 6, 11, 0.5), values(5, 12, 0.1)),
        }
    }

    /// Input `data` [N, 3, 12, 10], the batch named: conv -> batch-norm -> ReLU -> LRN ->
    /// max-pool; a residual conv branch added back; a 1x1 conv branch concatenated; global
    /// average pool -> flatten -> Gemm -> softmax. Nodes are named like their outputs, except
    /// the flatten, which has no name (tract then names it by its output).
    fn onnx(&self) -> Vec<u8> {
        let mut g = Graph::new("zoo-like");
        input(&mut g, "data", &[None, Some(3), Some(ZOO_H), Some(ZOO_W)]);
        let k3 = |pad: i64| vec![("kernel_shape", Attr::Ints(vec![3, 3])), ("pads", Attr::Ints(vec![pad; 4]))];
        let w = g.f32s("c1_w", &[4, 3, 3, 3], &self.c1.0);
        let b = g.f32s("c1_b", &[4], &self.c1.1);
        let x = g.node("Conv", "c1", &["data", &w, &b], "c1", k3(1));
        let [s, bb, m, v] = ["bn_scale", "bn_bias", "bn_mean", "bn_var"];
        for (name, vals) in [s, bb, m, v].iter().zip(&self.bn) {
            g.f32s(name, &[4], vals);
        }
        let x = node(&mut g, "BatchNormalization", "bn1", &[&x, s, bb, m, v], "bn1", vec![float_attr("epsilon", BN_EPS)]);
        let x = g.node("Relu", "r1", &[&x], "r1", vec![]);
        let (size, alpha, beta, bias) = LRN;
        let x = node(
            &mut g,
            "LRN",
            "n1",
            &[&x],
            "n1",
            vec![int_attr("size", size as i64), float_attr("alpha", alpha), float_attr("beta", beta), float_attr("bias", bias)],
        );
        let p = g.node("MaxPool", "p1", &[&x], "p1", vec![("kernel_shape", Attr::Ints(vec![2, 2])), ("strides", Attr::Ints(vec![2, 2]))]);
        let w = g.f32s("c2_w", &[4, 4, 3, 3], &self.c2.0);
        let b = g.f32s("c2_b", &[4], &self.c2.1);
        let y = g.node("Conv", "c2", &[&p, &w, &b], "c2", k3(1));
        let y = g.node("Relu", "r2", &[&y], "r2", vec![]);
        let a = g.node("Add", "add1", &[&p, &y], "add1", vec![]);
        let w = g.f32s("c3_w", &[2, 4, 1, 1], &self.c3.0);
        let b = g.f32s("c3_b", &[2], &self.c3.1);
        let z = g.node("Conv", "c3", &[&p, &w, &b], "c3", vec![("kernel_shape", Attr::Ints(vec![1, 1]))]);
        let cat = g.node("Concat", "cat1", &[&a, &z], "cat1", vec![("axis", Attr::Int(1))]);
        let gap = g.node("GlobalAveragePool", "gap", &[&cat], "gap", vec![]);
        let flat = g.node("Flatten", "", &[&gap], "flat_out", vec![("axis", Attr::Int(1))]);
        let w = g.f32s("fc_w", &[5, 6], &self.fc.0);
        let b = g.f32s("fc_b", &[5], &self.fc.1);
        let fc = g.node("Gemm", "fc", &[&flat, &w, &b], "fc", vec![("transB", Attr::Int(1))]);
        node(&mut g, "Softmax", "prob", &[&fc], "prob", vec![int_attr("axis", 1)]);
        g.output("prob", DataType::Float, &[1, 5]);
        g.into_model("a zoo-like test graph", &[])
    }

    /// The reference's value of every named node for one prepared input.
    fn reference(&self, x: &T, cut: &str) -> Vec<f32> {
        let c1 = conv(x, &self.c1.0, &self.c1.1, 4, 3, 1, 1);
        let [s, b, m, v] = &self.bn;
        let bn1 = batchnorm(&c1, s, b, m, v, BN_EPS);
        let r1 = relu(&bn1);
        let (size, alpha, beta, bias) = LRN;
        let n1 = lrn(&r1, size, alpha, beta, bias);
        let p1 = maxpool(&n1, 2);
        let r2 = relu(&conv(&p1, &self.c2.0, &self.c2.1, 4, 3, 1, 1));
        let add1 = add(&p1, &r2);
        let c3 = conv(&p1, &self.c3.0, &self.c3.1, 2, 1, 1, 0);
        let cat1 = concat(&add1, &c3);
        let gap = global_average(&cat1);
        let fc = dense(&gap, &self.fc.0, &self.fc.1);
        match cut {
            "bn1" => bn1.v,
            "n1" => n1.v,
            "add1" => add1.v,
            "cat1" => cat1.v,
            "gap" | "flat_out" => gap,
            "fc" => fc,
            "prob" => softmax(&fc),
            other => panic!("no reference for {other}"),
        }
    }
}

/// An NHWC graph as TensorFlow exports write them: input [1, 8, 6, 3], Transpose to NCHW, a
/// 3x3 valid conv with ReLU, Transpose back to NHWC (`nhwc_out`, 1x6x4x2), flatten, Gemm.
struct Nhwc {
    conv: (Vec<f32>, Vec<f32>),
    fc: (Vec<f32>, Vec<f32>),
}

impl Nhwc {
    fn new() -> Nhwc {
        Nhwc { conv: (values(2 * 3 * 9, 21, 0.3), values(2, 22, 0.2)), fc: (values(3 * 48, 23, 0.2), values(3, 24, 0.1)) }
    }

    fn onnx(&self) -> Vec<u8> {
        let mut g = Graph::new("nhwc");
        input(&mut g, "image", &[Some(1), Some(8), Some(6), Some(3)]);
        let x = g.node("Transpose", "to_nchw", &["image"], "to_nchw", vec![("perm", Attr::Ints(vec![0, 3, 1, 2]))]);
        let w = g.f32s("w", &[2, 3, 3, 3], &self.conv.0);
        let b = g.f32s("b", &[2], &self.conv.1);
        let x = g.node("Conv", "conv", &[&x, &w, &b], "conv", vec![("kernel_shape", Attr::Ints(vec![3, 3]))]);
        let x = g.node("Relu", "relu", &[&x], "relu", vec![]);
        let x = g.node("Transpose", "nhwc_out", &[&x], "nhwc_out", vec![("perm", Attr::Ints(vec![0, 2, 3, 1]))]);
        let x = g.node("Flatten", "flatten", &[&x], "flatten", vec![("axis", Attr::Int(1))]);
        let w = g.f32s("fc_w", &[3, 48], &self.fc.0);
        let b = g.f32s("fc_b", &[3], &self.fc.1);
        g.node("Gemm", "logits", &[&x, &w, &b], "logits", vec![("transB", Attr::Int(1))]);
        g.output("logits", DataType::Float, &[1, 3]);
        g.into_model("an NHWC test graph", &[])
    }

    /// The conv's output in HWC order (what `nhwc_out` holds) and the logits.
    fn reference(&self, x: &T) -> (Vec<f32>, Vec<f32>) {
        let y = relu(&conv(x, &self.conv.0, &self.conv.1, 2, 3, 1, 0));
        let mut hwc = Vec::with_capacity(y.v.len());
        for p in 0..y.h * y.w {
            hwc.extend((0..y.c).map(|c| y.v[c * y.h * y.w + p]));
        }
        let logits = dense(&hwc, &self.fc.0, &self.fc.1);
        (hwc, logits)
    }
}

// ---------------------------------------------------------------------------------------------

/// The largest difference relative to the reference's magnitude (at least 1).
fn rel_diff(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "value counts");
    let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
    got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max) / scale
}

/// Pseudo-random RGB888 images of `h x w`, and the int8 inputs the loaders make of them.
fn images(n: usize, h: usize, w: usize, seed: u32) -> (Vec<Vec<u8>>, Vec<i8>) {
    let rgb: Vec<Vec<u8>> = (0..n).map(|k| values(h * w * 3, seed + k as u32, 1.0).iter().map(|v| ((v + 1.0) * 127.9) as u8).collect()).collect();
    let q = rgb.iter().flatten().map(|&v| (v as i16 - 128) as i8).collect();
    (rgb, q)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn preset(p: Preset) -> ForeignOptions {
    ForeignOptions { prepare: PrepareOptions { preset: Some(p), ..Default::default() }, ..Default::default() }
}

#[test]
fn tract_runs_standard_ops_up_to_each_cut_as_the_reference_computes() {
    let dir = tempfile::tempdir().unwrap();
    let zoo = Zoo::new();
    let path = write(dir.path(), "zoo.onnx", &zoo.onnx());
    let backbone = Backbone::load_with(&path, &preset(Preset::Imagenet)).unwrap();
    let f = backbone.foreign().expect("a graph without pilot's metadata is foreign");
    let g = &f.graph;
    assert_eq!((g.geometry.layout, g.geometry.height, g.geometry.width, g.geometry.channels), (Layout::Nchw, 12, 10, 3));
    assert_eq!(g.input.text, "Nx3x12x10");
    assert_eq!(backbone.spec.input_shape(), common::Shape::new(12, 10, 3), "the loaders make images at the graph's size");
    assert_eq!(g.parameters, 4 * 27 + 4 + 16 + 4 * 36 + 4 + 8 + 2 + 30 + 5);

    let shape = |n: &str| g.nodes.iter().find(|x| x.name == n).unwrap().shape_text();
    for (node, want) in [
        ("c1", "1x4x12x10"),
        ("n1", "1x4x12x10"),
        ("p1", "1x4x6x5"),
        ("add1", "1x4x6x5"),
        ("cat1", "1x6x6x5"),
        ("gap", "1x6x1x1"),
        ("flat_out", "1x6"),
        ("prob", "1x5"),
    ] {
        assert_eq!(shape(node), want, "{node}");
    }
    assert_eq!(g.default_cut().unwrap().name, "flat_out", "the input of the last Gemm");
    assert_eq!(g.fast_lrn, ["n1"], "the LRN runs as standard operators");
    assert_eq!(backbone.cut(None).unwrap().name, "flat_out");

    let (rgb, q) = images(3, ZOO_H, ZOO_W, 5);
    let imagenet = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
    for cut_name in ["bn1", "n1", "add1", "cat1", "gap", "flat_out", "fc", "prob"] {
        let cut = backbone.cut(Some(cut_name)).unwrap();
        let mut ex = ForeignExtractor::new(f, &cut).unwrap();
        let got = ex.run(&q, 3).unwrap();
        assert_eq!(got.len(), 3 * cut.shape.len(), "{cut_name}");
        let mut want = Vec::new();
        for img in &rgb {
            let x = prepare(img, ZOO_H, ZOO_W, 1.0 / 255.0, imagenet.0, imagenet.1, false);
            want.extend(zoo.reference(&x, cut_name));
        }
        let d = rel_diff(&got, &want);
        assert!(d < 1e-5, "{cut_name}: tract and the reference differ by {d} (relative)");
        assert!(want.iter().any(|&v| v.abs() > 1e-3), "{cut_name}: the reference is not trivially 0");
    }
    // The LRN really normalizes here (its denominators are far from 1), so a graph without it
    // would fail the comparison above.
    let x = prepare(&rgb[0], ZOO_H, ZOO_W, 1.0 / 255.0, imagenet.0, imagenet.1, false);
    let (before, after) = (zoo.reference(&x, "bn1"), zoo.reference(&x, "n1"));
    assert!(before.iter().zip(&after).any(|(b, a)| b.max(0.0) > 0.1 && (b.max(0.0) / a) > 1.5), "LRN changes its input");

    // The same images prepared otherwise give other features (the preparation reaches tract).
    let cut = backbone.cut(Some("cat1")).unwrap();
    let caffe = Backbone::load_with(&path, &preset(Preset::Caffe)).unwrap();
    let got = ForeignExtractor::new(caffe.foreign().unwrap(), &cut).unwrap().run(&q, 3).unwrap();
    let mut want = Vec::new();
    for img in &rgb {
        want.extend(zoo.reference(&prepare(img, ZOO_H, ZOO_W, 1.0, [104.0, 117.0, 123.0], [1.0; 3], true), "cat1"));
    }
    assert!(rel_diff(&got, &want) < 1e-5, "caffe preparation: {}", rel_diff(&got, &want));
}

#[test]
fn nhwc_graphs_take_nhwc_input_and_give_their_own_order() {
    let dir = tempfile::tempdir().unwrap();
    let net = Nhwc::new();
    let path = write(dir.path(), "nhwc.onnx", &net.onnx());
    let opts = ForeignOptions {
        prepare: PrepareOptions { scale: Some(1.0 / 127.5), mean: Some(vec![1.0, 0.9, 1.1]), std: Some(vec![0.5, 1.0, 2.0]), bgr: true, ..Default::default() },
        ..Default::default()
    };
    let backbone = Backbone::load_with(&path, &opts).unwrap();
    let f = backbone.foreign().unwrap();
    assert_eq!((f.graph.geometry.layout, f.graph.geometry.height, f.graph.geometry.width), (Layout::Nhwc, 8, 6));
    let (rgb, q) = images(2, 8, 6, 77);
    for (cut_name, which) in [("nhwc_out", 0), ("logits", 1)] {
        let cut = backbone.cut(Some(cut_name)).unwrap();
        let got = ForeignExtractor::new(f, &cut).unwrap().run(&q, 2).unwrap();
        let mut want = Vec::new();
        for img in &rgb {
            let x = prepare(img, 8, 6, 1.0 / 127.5, [1.0, 0.9, 1.1], [0.5, 1.0, 2.0], true);
            let (hwc, logits) = net.reference(&x);
            want.extend(if which == 0 { hwc } else { logits });
        }
        assert!(rel_diff(&got, &want) < 1e-5, "{cut_name}: {}", rel_diff(&got, &want));
    }
    // The default cut is the flatten that the Gemm reads.
    assert_eq!(backbone.cut(None).unwrap().name, "flatten");
    // Saying NCHW against a graph whose channels are last is refused.
    let wrong = ForeignOptions { hints: InputHints { layout: Some(Layout::Nchw), size: None }, ..Default::default() };
    let err = format!("{:#}", Backbone::load_with(&path, &wrong).err().unwrap());
    assert!(err.contains("NHWC") && err.contains("nhwc.onnx"), "{err}");
}

#[test]
fn cuts_and_inputs_are_explained_when_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "zoo.onnx", &Zoo::new().onnx());
    let backbone = Backbone::load(&path).unwrap();
    let err = backbone.cut(Some("conv9")).unwrap_err().to_string();
    assert!(err.contains("zoo.onnx") && err.contains("conv9"), "{err}");
    for listed in ["n1 (LRN) 1x4x12x10", "add1 (Add) 1x4x6x5", "cat1 (Concat) 1x6x6x5", "gap (GlobalAveragePool) 1x6x1x1", "prob (Softmax) 1x5"] {
        assert!(err.contains(listed), "the error lists {listed}: {err}");
    }
    // A node's output tensor name works as well as its name.
    assert_eq!(backbone.cut(Some("flat_out")).unwrap().shape.len(), 6);

    let report = ForeignGraph::read(&std::fs::read(&path).unwrap(), "zoo.onnx", InputHints::default()).unwrap().describe();
    assert!(report.contains("Nx3x12x10") && report.contains("NCHW"), "{report}");
    let line = report.lines().find(|l| l.contains("flat_out")).unwrap();
    assert!(line.contains("default cut") && line.contains("Flatten") && line.contains("1x6"), "{line}");
    assert!(report.lines().any(|l| l.contains(" n1 ") && l.contains("LRN") && l.contains("480")), "{report}");

    // An input size the graph leaves open must be given; one it fixes must not be contradicted.
    let mut g = Graph::new("free");
    input(&mut g, "x", &[None, Some(3), None, None]);
    g.node("Relu", "r", &["x"], "r", vec![]);
    g.node("GlobalAveragePool", "gap", &["r"], "gap", vec![]);
    g.output("gap", DataType::Float, &[1, 3, 1, 1]);
    let free = write(dir.path(), "free.onnx", &g.into_model("free size", &[]));
    let err = format!("{:#}", Backbone::load(&free).err().unwrap());
    assert!(err.contains("free.onnx") && err.contains("--input-size"), "{err}");
    let sized = ForeignOptions { hints: InputHints { size: Some((20, 16)), layout: None }, ..Default::default() };
    let b = Backbone::load_with(&free, &sized).unwrap();
    assert_eq!(b.spec.input_shape(), common::Shape::new(20, 16, 3));
    let err = format!("{:#}", Backbone::load_with(&path, &sized).err().unwrap());
    assert!(err.contains("12x10"), "{err}");

    // pilot's own networks record their input: the foreign flags are refused for them.
    let err = format!("{:#}", Backbone::load_with(dir.path(), &preset(Preset::Imagenet)).err().unwrap());
    assert!(err.contains("foreign"), "{err}");
}

#[test]
fn lrn_of_every_window_size_is_what_the_operator_defines() {
    let dir = tempfile::tempdir().unwrap();
    let (rgb, q) = images(2, 5, 4, 31);
    for size in 1..=6usize {
        // Seven channels (a 1x1 conv makes them), so that windows reach past both edges.
        let mut g = Graph::new("lrn");
        input(&mut g, "x", &[Some(1), Some(3), Some(5), Some(4)]);
        let (w, b) = (values(7 * 3, size as u32, 1.0), values(7, 50 + size as u32, 0.5));
        let wn = g.f32s("w", &[7, 3, 1, 1], &w);
        let bn = g.f32s("b", &[7], &b);
        let x = g.node("Conv", "c", &["x", &wn, &bn], "c", vec![("kernel_shape", Attr::Ints(vec![1, 1]))]);
        let (alpha, beta, bias) = (0.9, 0.6 + 0.05 * size as f32, 0.5);
        node(
            &mut g,
            "LRN",
            "",
            &[&x],
            "norm",
            vec![int_attr("size", size as i64), float_attr("alpha", alpha), float_attr("beta", beta), float_attr("bias", bias)],
        );
        g.output("norm", DataType::Float, &[1, 7, 5, 4]);
        let path = write(dir.path(), &format!("lrn{size}.onnx"), &g.into_model("lrn", &[]));
        let backbone = Backbone::load_with(&path, &preset(Preset::Tf)).unwrap();
        let f = backbone.foreign().unwrap();
        assert_eq!(f.graph.fast_lrn, ["norm"], "size {size}: run as standard operators");
        let got = ForeignExtractor::new(f, &backbone.cut(Some("norm")).unwrap()).unwrap().run(&q, 2).unwrap();
        let mut want = Vec::new();
        for img in &rgb {
            let x = conv(&prepare(img, 5, 4, 1.0 / 127.5, [1.0; 3], [1.0; 3], false), &w, &b, 7, 1, 1, 0);
            want.extend(lrn(&x, size, alpha, beta, bias).v);
        }
        assert!(rel_diff(&got, &want) < 1e-5, "size {size}: {}", rel_diff(&got, &want));
    }
}

#[test]
fn the_preparation_comes_from_the_flags_or_the_graphs_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = |meta: &[(String, String)]| {
        let mut g = Graph::new("tiny");
        input(&mut g, "x", &[Some(1), Some(3), Some(4), Some(4)]);
        g.node("GlobalAveragePool", "gap", &["x"], "gap", vec![]);
        g.output("gap", DataType::Float, &[1, 3, 1, 1]);
        g.into_model("tiny", meta)
    };
    // An older pilot export: no pilot.arch, but its input scale in the metadata.
    let stated = write(dir.path(), "stated.onnx", &tiny(&[("pilot.input_scale_exp".into(), "-7".into())]));
    let b = Backbone::load(&stated).unwrap();
    let f = b.foreign().unwrap();
    assert_eq!((f.preparation.scale, f.preparation.mean.as_slice(), f.preparation.bgr), (1.0 / 128.0, &[1.0][..], false));
    assert!(f.preparation_from.contains("metadata"), "{}", f.preparation_from);
    // Features of one image: the mean of each channel of x = (v - 128) / 128.
    let (rgb, q) = images(1, 4, 4, 9);
    let got = ForeignExtractor::new(f, &b.cut(Some("gap")).unwrap()).unwrap().run(&q, 1).unwrap();
    let want: Vec<f32> = (0..3).map(|c| (0..16).map(|p| (rgb[0][p * 3 + c] as f32 - 128.0) / 128.0).sum::<f32>() / 16.0).collect();
    assert!(rel_diff(&got, &want) < 1e-6, "{got:?} vs {want:?}");
    // Flags replace it; without either, the default is v / 255, and it says so.
    let b = Backbone::load_with(&stated, &preset(Preset::Tf)).unwrap();
    assert_eq!(b.foreign().unwrap().preparation, Preset::Tf.preparation());
    let plain = write(dir.path(), "plain.onnx", &tiny(&[]));
    let b = Backbone::load(&plain).unwrap();
    assert_eq!(b.foreign().unwrap().preparation, Preset::Unit.preparation());
    assert!(b.foreign().unwrap().preparation_from.contains("default"));
    let bad = write(dir.path(), "bad.onnx", &tiny(&[("pilot.input_scale_exp".into(), "x".into())]));
    let err = format!("{:#}", Backbone::load(&bad).err().unwrap());
    assert!(err.contains("bad.onnx") && err.contains("--preset"), "{err}");
}

/// Three classes of 8x10 images: a bright bar at the top, in the middle or at the bottom.
fn write_images(root: &Path, per_class: usize) {
    fixtures::write_bar_images(root, per_class, (8, 10), 7, 20);
}

#[test]
fn heads_train_on_cached_foreign_features() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let zoo = Zoo::new();
    let path = write(root, "zoo.onnx", &zoo.onnx());
    let backbone = Backbone::load_with(&path, &preset(Preset::Imagenet)).unwrap();
    let f = backbone.foreign().unwrap();

    // The images (8x10) are loaded at the graph's input size (10x12) by the usual loaders.
    write_images(&root.join("data"), 30);
    let mut opts = ClassificationOptions::new(backbone.spec.input_spec());
    opts.progress = false;
    opts.augment = ImageAugment::none();
    let data = ClassificationData::image_folder(&root.join("data"), &opts).unwrap();
    assert_eq!(data.frame(0).len(), ZOO_H * ZOO_W * 3);

    // Features through the cache are the graph's at the cut for the frames the loader made.
    let cache = Cache::new(root.join("cache"));
    let rows: Vec<usize> = (0..data.len()).step_by(3).collect();
    let run_features = |backbone: &Backbone, cut: &str, rows: &[usize]| {
        let cut = backbone.cut(Some(cut)).unwrap();
        let mut inner = ForeignExtractor::new(backbone.foreign().unwrap(), &cut).unwrap();
        let mut counting = fixtures::Counting { inner: &mut inner, examples: 0 };
        let job = Job { backbone, cut: &cut, extractor: &mut counting, cache: Some(&cache), progress: false, label: "test" };
        let (feats, _, lookup) = features::features(&data, rows, job).unwrap();
        (feats, lookup, counting.examples)
    };
    let (feats, lookup, ran) = run_features(&backbone, "cat1", &rows);
    assert_eq!((lookup, ran, feats.dim), (Lookup::Miss, rows.len(), 6 * 6 * 5));
    for (k, &r) in rows.iter().enumerate().take(4) {
        let x = prepare(data.frame(r), ZOO_H, ZOO_W, 1.0 / 255.0, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225], false);
        assert!(rel_diff(feats.row(k), &zoo.reference(&x, "cat1")) < 1e-5, "row {r}");
    }
    assert_eq!(run_features(&backbone, "cat1", &rows).1, Lookup::Hit, "the same again is read from the cache");
    assert_eq!(run_features(&backbone, "add1", &rows).1, Lookup::Miss, "another cut, another key");
    let caffe = Backbone::load_with(&path, &preset(Preset::Caffe)).unwrap();
    let (other, lookup, _) = run_features(&caffe, "cat1", &rows);
    assert_eq!(lookup, Lookup::Miss, "another preparation, another key");
    assert_ne!(other.values, feats.values);

    // A head on the features at `cat1` (spatial, so the bars' rows tell the classes apart).
    let split = data.split(&SplitOptions { val_fraction: 0.25, seed: 1, ..SplitOptions::default() }).unwrap();
    let task = transfer::Task { data: &data, kind: TaskKind::Classification, outputs: 3, train: &split.train, val: &split.val };
    let opts = TransferOptions {
        mode: Mode::FeatureExtraction,
        cut: Some("cat1".into()),
        head: "dense N".parse().unwrap(),
        backbone_lr_scale: 1.0,
        cache: Some(cache.clone()),
        fit: FitOptions { progress: false, ..FitOptions::default() },
    };
    let config = TrainConfig { epochs: 40, batch: 16, lr: 1e-2, seed: 3, ..TrainConfig::new(Vec::new(), host::data::DataKind::Images) };
    let run = RunDir::new(root.join("fe"));
    let o = transfer::train(&backbone, &task, |_| Vec::new(), &run, &config, &opts).unwrap();
    assert!(o.spec.is_none(), "a head on foreign features is not a pilot network");
    assert_eq!(o.trainable_params, 180 * 3 + 3);
    assert_eq!(o.total_params, o.trainable_params + f.graph.parameters);
    assert_eq!(o.cache, Some(Lookup::Miss), "validation rows too: a new feature set");
    assert!(o.metric > 0.75, "a head on the features separates three bars: accuracy {}", o.metric);

    // The run holds the head and what it stands on; the head scores what training reported.
    assert!(!run.arch_path().exists(), "no arch.toml: nothing may take it for a chip model");
    let saved = ForeignHead::load(&run.dir).unwrap();
    assert!(saved.note.contains("not a chip model"));
    assert_eq!((saved.cut.as_str(), saved.features, saved.input.layout), ("cat1", 180, Layout::Nchw));
    assert_eq!(saved.preparation, f.preparation);
    let head = saved.net(&run.dir, &infer_device()).unwrap();
    let rows: Vec<usize> = split.train.iter().chain(&split.val).copied().collect();
    let job = Job {
        backbone: &backbone,
        cut: &o.cut,
        extractor: &mut ForeignExtractor::new(f, &o.cut).unwrap(),
        cache: Some(&cache),
        progress: false,
        label: "check",
    };
    let (all, targets, lookup) = features::features(&data, &rows, job).unwrap();
    assert_eq!(lookup, Lookup::Hit);
    let source = FeatureBatches { features: &all, targets: &targets, shape: o.cut.shape };
    let val: Vec<usize> = (split.train.len()..rows.len()).collect();
    let (_, acc) = host::train::engine::evaluate(&head, &source, &val, 16, RegressionLoss::Mse);
    assert!((acc - o.metric).abs() < 1e-9, "the saved head scores {acc}, training reported {}", o.metric);

    // Kept unless replacing it is asked for; fine-tuning a foreign graph is refused plainly.
    let err = transfer::train(&backbone, &task, |_| Vec::new(), &run, &config, &opts).err().unwrap().to_string();
    assert!(err.contains("--force"), "{err}");
    let fine = TransferOptions { mode: Mode::FineTune, ..opts.clone() };
    let err = transfer::train(&backbone, &task, |_| Vec::new(), &RunDir::new(root.join("ft")), &config, &fine).err().unwrap().to_string();
    assert!(err.contains("zoo.onnx") && err.contains("feature extraction") && err.contains("pilot export --float-onnx"), "{err}");
}

#[test]
fn the_command_line_refuses_what_a_foreign_graph_cannot_do() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "zoo.onnx", &Zoo::new().onnx());
    let p = path.to_str().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let run = |args: &[&str]| {
        let cli = host::cli::Cli::try_parse_from(args).map_err(|e| anyhow::anyhow!("{e}"))?;
        host::cli::run(cli)
    };
    let err = format!("{:#}", run(&["pilot", "train", "driving", "--data", "nowhere", "--init", p, "--out", o]).unwrap_err());
    assert!(err.contains("foreign ONNX graph") && err.contains("classification"), "{err}");
    let err = format!("{:#}", run(&["pilot", "train", "signs", "--data", "nowhere", "--preset", "imagenet", "--out", o]).unwrap_err());
    assert!(err.contains("--init"), "{err}");
    let err = format!("{:#}", run(&["pilot", "train", "signs", "--data", "nowhere", "--init", p, "--input-size", "224", "--out", o]).unwrap_err());
    assert!(err.contains("HxW"), "{err}");
    assert!(!out.exists(), "nothing was written");
    // `pilot report --onnx` reads the graph; a file that is not ONNX is named in the error.
    run(&["pilot", "report", "--onnx", p]).unwrap();
    let bad = write(dir.path(), "bad.onnx", b"not onnx at all");
    let err = format!("{:#}", run(&["pilot", "report", "--onnx", bad.to_str().unwrap()]).unwrap_err());
    assert!(err.contains("bad.onnx"), "{err}");
}
