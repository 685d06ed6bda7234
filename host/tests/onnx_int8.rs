//! The exported int8 ONNX, run by tract (optimized), gives the reference's bytes at every layer
//! of random networks: random shapes, strides, paddings, zero points, multipliers, ReLU; and
//! depthwise convolutions (grouped `QLinearConv`) run in integer arithmetic.

use common::format::{InputSpec, Layer, Padding, Pads, QParams, Task, Window};
use common::interp::{input_slot, run_with, Reference};
use common::testing::{random_model, ModelBuilder, RandomModelOptions, Rng, Tables};
use common::{Model, Shape};
use host::onnx::int8::{export, LayerOutput};
use host::onnx::run::Tract;
use tract_onnx::prelude::*;

/// Every layer's output for `input`, by the reference.
fn reference(model: &Model<'_>, input: &[i8]) -> Vec<Vec<i8>> {
    let mut arena = vec![0i8; model.plan().arena_bytes()];
    input_slot(model, &mut arena).unwrap().copy_from_slice(input);
    let mut layers = Vec::new();
    run_with(model, &mut Reference, &mut arena, |_, out| layers.push(out.to_vec())).unwrap();
    layers
}

/// tract's plan of the exported model with every layer output, optimized or only decluttered.
fn tract_plan(onnx: &[u8], outputs: &[LayerOutput], optimized: bool) -> Arc<TypedRunnableModel> {
    let names: Vec<&str> = outputs.iter().map(|o| o.tensor.as_str()).collect();
    let model = tract_onnx::onnx().model_for_read(&mut &onnx[..]).unwrap().with_outputs_by_name(&names).unwrap();
    let model = if optimized { model.into_optimized().unwrap() } else { model.into_typed().unwrap().into_decluttered().unwrap() };
    model.into_runnable().unwrap()
}

#[test]
fn tract_equals_reference_on_random_networks() {
    let opts = RandomModelOptions { allow_avg_pool: false, max_hw: 10, ..RandomModelOptions::default() };
    let (mut compared, mut models, mut depthwise) = (0usize, 0usize, 0usize);
    for seed in 0..120 {
        let bytes = random_model(&mut Rng::new(seed), &opts).to_bytes();
        let model = Model::parse(&bytes).unwrap();
        let (onnx, outputs) = export(&model).unwrap();
        let tract = Tract::int8(&onnx, model.input().shape, &outputs).unwrap_or_else(|e| panic!("seed {seed}: {e:#}"));
        let mut rng = Rng::new(seed + 1000);
        for _ in 0..3 {
            let input = rng.i8s(model.input().shape.len());
            let mut arena = vec![0i8; model.plan().arena_bytes()];
            input_slot(&model, &mut arena).unwrap().copy_from_slice(&input);
            let mut reference = Vec::new();
            run_with(&model, &mut Reference, &mut arena, |_, out| reference.push(out.to_vec())).unwrap();
            let got = tract.run(&input).unwrap();
            for (i, (r, t)) in reference.iter().zip(&got).enumerate() {
                assert_eq!(r, t, "seed {seed}: layer {i} ({}) differs", model.layers()[i].name);
                compared += r.len();
                depthwise += matches!(model.layers()[i].layer, Layer::Depthwise(_)) as usize;
            }
        }
        models += 1;
    }
    assert!(models == 120 && compared > 10_000, "{models} models, {compared} bytes compared");
    assert!(depthwise >= 30, "only {depthwise} depthwise layer outputs compared");
}

/// One depthwise layer of any kernel (1..5), stride (1..3), padding, channel count,
/// zero points and multipliers (up to 2^17), or a MobileNet block (3x3 "same" depthwise,
/// stride 1 or 2, then 1x1) with realistic tables.
fn depthwise_model(rng: &mut Rng, i: usize) -> Vec<u8> {
    let shape = Shape::new(rng.range(1, 14) as u16, rng.range(1, 14) as u16, rng.range(1, 20) as u16);
    let quant = QParams { scale_exp: rng.range(-8, 0) as i8, zero_point: rng.i8() };
    if i % 4 == 3 {
        let input = InputSpec { shape, quant: QParams { zero_point: -128, ..quant }, preprocess: None };
        let s = rng.range(1, 2) as u8;
        let mut b = ModelBuilder::new("block", Task::Regression, input, rng.clone(), Tables::Realistic);
        b.depthwise(Window::padded(Padding::Same, shape.h, shape.w, (3, 3), (s, s)), true);
        b.conv(rng.range(1, 24) as u16, Window::square(1, 1, Pads::default()), true);
        return b.build().to_bytes();
    }
    let k = (rng.range(1, 5) as u8, rng.range(1, 5) as u8);
    let mut p = |k: u8| rng.range(0, k as i64 - 1) as u8;
    let pads = Pads { top: p(k.0), left: p(k.1), bottom: p(k.0), right: p(k.1) };
    let window = Window { kernel_h: k.0, kernel_w: k.1, stride_h: rng.range(1, 3) as u8, stride_w: rng.range(1, 3) as u8, pads };
    let shape = Shape::new(shape.h.max(k.0 as u16), shape.w.max(k.1 as u16), shape.c);
    let input = InputSpec { shape, quant, preprocess: None };
    let relu = rng.bool();
    let mut b = ModelBuilder::new("depthwise", Task::Regression, input, rng.clone(), Tables::Random { max_multiplier: 1 << 17 });
    b.depthwise(window, relu);
    b.build().to_bytes()
}

/// Depthwise layers in tract's optimized plan (what `pilot verify` and a deployment run) and
/// in its plain decluttered one: both give the reference's bytes.
#[test]
fn tract_equals_reference_on_depthwise_layers() {
    let mut rng = Rng::new(0xD3E7);
    let mut compared = 0usize;
    for i in 0..300 {
        let bytes = depthwise_model(&mut rng, i);
        let model = Model::parse(&bytes).unwrap();
        let (onnx, outputs) = export(&model).unwrap();
        let plans = [tract_plan(&onnx, &outputs, true), tract_plan(&onnx, &outputs, false)];
        let s = model.input().shape;
        for _ in 0..2 {
            let input = rng.i8s(s.len());
            let want = reference(&model, &input);
            let t = tract_ndarray::Array4::<i8>::from_shape_vec((1, s.h as usize, s.w as usize, s.c as usize), input.clone()).unwrap();
            for (plan, what) in plans.iter().zip(["optimized", "decluttered"]) {
                let got = plan.run(tvec!(Tensor::from(t.clone()).into())).unwrap();
                for (layer, (o, r)) in got.iter().zip(&want).enumerate() {
                    let v: Vec<i8> = o.to_plain_array_view::<i8>().unwrap().iter().copied().collect();
                    let host::onnx::int8::Layout::Nchw(sh) = outputs[layer].layout else { panic!("flat output") };
                    let (hw, c) = (sh.h as usize * sh.w as usize, sh.c as usize);
                    let hwc: Vec<i8> = (0..v.len()).map(|k| v[(k % c) * hw + k / c]).collect();
                    assert_eq!(&hwc, r, "model {i} ({what}): layer {layer} differs");
                    compared += r.len();
                }
            }
        }
    }
    assert!(compared > 100_000, "{compared} bytes compared");
}

/// tract runs an exported depthwise convolution in integers: in its optimized plan (im2col, an
/// i8 x i8 -> i32 matrix product, integer rescaling) every computed tensor is an integer one,
/// and the only float tensors are constants of the per-channel `Scale` (an i32 -> i32
/// rescaling whose float product is exact here: a sum that is not clamped away has
/// `|acc * m / 2^16| < 2^8`, 24 significant bits at most).
#[test]
fn tract_runs_depthwise_in_integers() {
    let mut rng = Rng::new(7);
    let mut matmuls = 0;
    for i in 0..12 {
        let bytes = depthwise_model(&mut rng, i);
        let model = Model::parse(&bytes).unwrap();
        let (onnx, outputs) = export(&model).unwrap();
        let plan = tract_plan(&onnx, &outputs, true);
        let nodes = plan.model().nodes();
        for node in nodes {
            let t = node.outputs[0].fact.datum_type;
            if node.op().name() == "Const" {
                let users = nodes.iter().filter(|n| n.inputs.iter().any(|o| o.node == node.id));
                assert!(
                    t.is_integer() || users.clone().all(|n| n.op().name() == "Scale"),
                    "model {i}: float constant {} feeds {:?}",
                    node.name,
                    users.map(|n| n.op().name()).collect::<Vec<_>>()
                );
            } else {
                assert!(t.is_integer(), "model {i}: node {} ({}) gives {t:?}", node.name, node.op().name());
            }
            matmuls += (node.op().name() == "OptMatMul") as usize;
        }
    }
    assert!(matmuls >= 12, "{matmuls} integer matrix products");
}

/// `pilot verify`'s comparison handles depthwise layers: 0 mismatches for the exported model,
/// and an ONNX whose depthwise weights differ from the blob's diverges first at that layer.
#[test]
fn verify_compares_depthwise_layers() {
    use common::format::owned::OwnedLayer;
    let input = InputSpec { shape: Shape::new(9, 12, 8), quant: QParams { scale_exp: -4, zero_point: -128 }, preprocess: None };
    let mut b = ModelBuilder::new("blocks", Task::Regression, input, Rng::new(11), Tables::Realistic);
    b.conv(8, Window::padded(Padding::Same, 9, 12, (3, 3), (1, 1)), true);
    b.depthwise(Window::padded(Padding::Same, 9, 12, (3, 3), (2, 2)), true);
    b.conv(16, Window::square(1, 1, Pads::default()), true);
    let owned = b.build();
    let bytes = owned.to_bytes();
    let model = Model::parse(&bytes).unwrap();
    let (onnx, outputs) = export(&model).unwrap();
    let mut rng = Rng::new(12);
    let inputs: Vec<Vec<i8>> = (0..4).map(|_| rng.i8s(model.input().shape.len())).collect();
    let cmp = host::verify::compare(&model, &onnx, &outputs, inputs.iter().cloned()).unwrap();
    assert_eq!((cmp.samples, cmp.mismatches(), cmp.layers.len()), (4, 0, 3));
    assert!(cmp.layers.iter().all(|l| l.0 > 0));

    let mut other = owned.clone();
    let OwnedLayer::Depthwise(d) = &mut other.layers[1].layer else { panic!("layer 1 is the depthwise one") };
    d.weights.iter_mut().for_each(|w| *w = w.wrapping_add(1));
    let other_bytes = other.to_bytes();
    let (wrong, _) = export(&Model::parse(&other_bytes).unwrap()).unwrap();
    let cmp = host::verify::compare(&model, &wrong, &outputs, inputs.iter().cloned()).unwrap();
    assert_eq!(cmp.first_bad_layer(), Some(1));
    assert_eq!(cmp.first.as_ref().map(|f| f.layer), Some(1));
}
