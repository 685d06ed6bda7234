//! Depthwise-separable networks through the host chain: the TOML architecture, the burn
//! network, batch-norm folding, post-training quantization, the int8 blob and its ONNX export.

use common::testing::Rng;
use common::Model;
use host::nn::net::{input_batch, Net};
use host::nn::spec::NetSpec;
use host::onnx::{int8, run::Tract};
use host::quant::calibrate::{Observer, RangeMethod};
use host::quant::{build, graph};
use host::train::infer_device;

mod fixtures;
use fixtures::DEPTHWISE_CNN;

#[test]
fn a_separable_network_quantizes_and_tract_agrees() {
    let spec = NetSpec::parse(DEPTHWISE_CNN).unwrap();
    let layers = spec.resolve().unwrap();
    let device = infer_device();
    device.seed(7);
    let net = Net::new(&layers, &device);
    let g = graph::extract(&net, &layers).unwrap();
    let kinds: Vec<&str> = g.iter().map(|l| l.kind()).collect();
    assert_eq!(kinds, ["conv", "depthwise", "conv", "depthwise", "flatten", "dense"], "batch-norm folded, ReLUs fused");

    let shape = spec.input_shape();
    let mut rng = Rng::new(11);
    let inputs: Vec<i8> = rng.i8s(64 * shape.len());
    let mut observer = Observer::new(g.len(), RangeMethod::MinMax);
    observer.observe(&net, &g, &inputs, shape, spec.input.scale_exp, &device);
    let owned = build(&spec.name, spec.task(), spec.input_spec(), &g, &observer, RangeMethod::MinMax).unwrap();
    let blob = owned.to_bytes();
    let model = Model::parse(&blob).unwrap();
    assert_eq!(common::format::header::FORMAT_VERSION, u16::from_le_bytes([blob[4], blob[5]]), "a depthwise model is written as version 2");

    // int8 follows float (within 3 % of the output's 255 steps: five layers of rounding), and
    // tract gives the reference's bytes.
    let (onnx, outputs) = int8::export(&model).unwrap();
    let tract = Tract::int8(&onnx, shape, &outputs).unwrap();
    let float: Vec<f32> = net.forward(input_batch(&inputs, shape, spec.input.scale_exp, &device)).into_data().try_to_vec::<f32>().unwrap();
    let q = model.output().quant;
    let (mut arena, mut worst, mut total) = (vec![0i8; model.plan().arena_bytes()], 0f32, 0f32);
    for (x, f) in inputs.chunks(shape.len()).zip(&float) {
        let out = common::run(&model, x, &mut arena).unwrap()[0];
        let steps = (q.dequantize(out) - f).abs() / q.scale();
        (worst, total) = (worst.max(steps), total + steps);
        assert_eq!(tract.run(x).unwrap().last().unwrap(), &vec![out]);
    }
    let mean = total / float.len() as f32;
    assert!(worst <= 8.0 && mean <= 2.0, "int8 is up to {worst} (mean {mean}) output steps from float");
}
