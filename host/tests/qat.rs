//! Quantization-aware training: the fake-quantized forward pass is the int8 reference within one
//! output step on random layers, fine-tuning with it recovers what post-training quantization
//! loses on a small fixed task (and fine-tuning without it does not), and `quantize_run` with
//! `qat` writes a fine-tuning run and reports float, PTQ and QAT side by side.

use burn::lr_scheduler::module_lr_scheduler::ModuleLearningRate;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Tensor, TensorData};
use common::format::owned::OwnedModel;
use common::format::QParams;
use common::Model;
use host::data::Rng;
use host::nn::net::{input_batch, Act, Block, Net};
use host::nn::spec::NetSpec;
use host::quant::calibrate::{Observer, RangeMethod};
use host::quant::qat::FakeQuant;
use host::quant::{build, build_with, graph, model_output_params};
use host::train::{infer_device, train_device};

fn spec(layers: &str, h: u16, w: u16, c: &str, task: &str) -> NetSpec {
    NetSpec::parse(&format!("name = \"t\"\ntask = \"{task}\"\n[input]\nheight = {h}\nwidth = {w}\ncolor = \"{c}\"\nscale_exp = -7\n{layers}")).unwrap()
}

fn random_inputs(n: usize, len: usize, seed: u64) -> Vec<i8> {
    let mut rng = Rng::new(seed);
    (0..n * len).map(|_| (rng.next_u64() >> 56) as u8 as i8).collect()
}

/// Post-training quantization of `net` calibrated on `calib`.
fn ptq(spec: &NetSpec, net: &Net, calib: &[i8]) -> OwnedModel {
    let g = graph::extract(net, &spec.resolve().unwrap()).unwrap();
    let mut obs = Observer::new(g.len(), RangeMethod::MinMax);
    obs.observe(net, &g, calib, spec.input_shape(), spec.input.scale_exp, &infer_device());
    build(&spec.name, spec.task(), spec.input_spec(), &g, &obs, RangeMethod::MinMax).unwrap()
}

fn fake_quant(spec: &NetSpec, net: &Net, model: &OwnedModel) -> FakeQuant {
    let g = graph::extract(net, &spec.resolve().unwrap()).unwrap();
    FakeQuant::new(&net.blocks, &g, model).unwrap()
}

/// The reference's dequantized outputs, example after example.
fn reference(model: &OwnedModel, inputs: &[i8]) -> Vec<f32> {
    let blob = model.to_bytes();
    let m = Model::parse(&blob).unwrap();
    let mut arena = vec![0i8; m.plan().arena_bytes()];
    let q = m.output().quant;
    inputs.chunks(m.input().shape.len()).flat_map(|x| common::run(&m, x, &mut arena).unwrap().iter().map(|&v| q.dequantize(v)).collect::<Vec<_>>()).collect()
}

/// The network's outputs, each in the chip's HWC order (the last image activation before a
/// final flatten, moved to NHWC).
fn forward(net: &Net, spec: &NetSpec, inputs: &[i8]) -> Vec<f32> {
    let x = input_batch(inputs, spec.input_shape(), spec.input.scale_exp, &infer_device());
    let mut last_image = None;
    let flat = net.forward_trace(x, |_, act| {
        if let Act::Image(t) = act {
            last_image = Some(t.clone());
        }
    });
    let out = match (last_image, matches!(net.blocks.last(), Some(Block::Flatten(_)))) {
        (Some(t), true) => {
            let [n, c, h, w] = t.dims();
            t.permute([0, 2, 3, 1]).reshape([n, h * w * c])
        }
        _ => flat,
    };
    out.into_data().try_to_vec::<f32>().unwrap()
}

fn output_q(model: &OwnedModel) -> QParams {
    *model_output_params(model).last().unwrap()
}

#[test]
fn fake_quantized_forward_is_the_reference_within_one_step() {
    let layers = [
        (
            "[[layers]]\ntype = \"conv2d\"\nfilters = 5\nkernel = 3\nstride = 2\npadding = \"same\"\nactivation = \"relu\"\n[[layers]]\ntype = \"flatten\"\n",
            7,
            9,
            "rgb",
        ),
        ("[[layers]]\ntype = \"conv2d\"\nfilters = 4\nkernel = 3\n[[layers]]\ntype = \"flatten\"\n", 6, 6, "yuv"),
        ("[[layers]]\ntype = \"depthwise\"\nkernel = 3\nactivation = \"relu\"\n[[layers]]\ntype = \"flatten\"\n", 5, 6, "rgb"),
        ("[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"dense\"\nunits = 7\n", 3, 4, "rgb"),
        ("[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"dense\"\nunits = 6\nactivation = \"relu\"\n", 2, 5, "gray"),
        ("[[layers]]\ntype = \"avgpool\"\nsize = 2\n[[layers]]\ntype = \"flatten\"\n", 4, 6, "rgb"),
    ];
    for (seed, (text, h, w, c)) in layers.iter().enumerate() {
        let spec = spec(text, *h, *w, c, "classification");
        let net = Net::new(&spec.resolve().unwrap(), &infer_device());
        let n_in = spec.input_shape().len();
        let inputs = random_inputs(40, n_in, seed as u64);
        let model = ptq(&spec, &net, &inputs[..20 * n_in]);
        let fq = net.clone().with_fake_quant(fake_quant(&spec, &net, &model));
        let (want, got) = (reference(&model, &inputs), forward(&fq, &spec, &inputs));
        let step = output_q(&model).scale();
        let steps: Vec<f32> = want.iter().zip(&got).map(|(a, b)| (a - b).abs() / step).collect();
        let worst = steps.iter().cloned().fold(0.0, f32::max);
        let exact = steps.iter().filter(|&&s| s < 1e-3).count() as f64 / steps.len() as f64;
        assert!(worst <= 1.0 + 1e-3, "layer {seed}: {worst} steps apart");
        assert!(exact > 0.95, "layer {seed}: only {:.1} % of outputs equal", 100.0 * exact);
        // The float network itself is not on the grid: the test sees the difference.
        if seed < 5 {
            let float = forward(&net, &spec, &inputs);
            assert!(float.iter().zip(&want).any(|(f, r)| (f - r).abs() > step * 0.25), "layer {seed}: float already equals int8");
        }
    }
}

const TASK: &str =
    "[[layers]]\ntype = \"conv2d\"\nfilters = 6\nkernel = 3\nactivation = \"relu\"\n[[layers]]\ntype = \"flatten\"\n[[layers]]\ntype = \"dense\"\nunits = 1\n";

/// Mean absolute error of `outputs` against `targets`.
fn mae(outputs: &[f32], targets: &[f32]) -> f64 {
    outputs.iter().zip(targets).map(|(o, t)| (o - t).abs() as f64).sum::<f64>() / targets.len() as f64
}

/// Full-batch Adam on the squared error.
fn fit(mut net: Net, spec: &NetSpec, inputs: &[i8], targets: &[f32], steps: usize, lr: f64) -> Net {
    let device = train_device();
    net = net.fork(&device).unfreeze().train();
    let mut optim = AdamConfig::new().init();
    let y = Tensor::<2>::from_data(TensorData::new(targets.to_vec(), [targets.len(), 1]), &device);
    for _ in 0..steps {
        let out = net.forward(input_batch(inputs, spec.input_shape(), spec.input.scale_exp, &device));
        let loss = (out - y.clone()).powi_scalar(2).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        let rate: ModuleLearningRate = lr.into();
        net = optim.step(rate, net, grads);
    }
    net.valid().fork(&infer_device())
}

#[test]
fn qat_recovers_what_ptq_loses_and_plain_fine_tuning_does_not() {
    // A 5x5 gray patch to the mean of its centre 3x3, learnt in float. The hidden layer's scale
    // is an eighth of what calibration finds, so it clips most activations and post-training
    // int8 loses; the output's scale is calibration's (clipping there no training could undo).
    let spec = spec(TASK, 5, 5, "gray", "regression");
    let n_in = 25;
    train_device().seed(7);
    let inputs = random_inputs(256, n_in, 11);
    let targets: Vec<f32> = inputs.chunks(n_in).map(|x| (1..4).flat_map(|r| (1..4).map(move |c| x[r * 5 + c] as f32 / 128.0)).sum::<f32>() / 9.0).collect();
    let net = fit(Net::new(&spec.resolve().unwrap(), &train_device()), &spec, &inputs, &targets, 600, 1e-2);
    let float_mae = mae(&forward(&net, &spec, &inputs), &targets);
    let g = graph::extract(&net, &spec.resolve().unwrap()).unwrap();
    let mut scales = model_output_params(&ptq(&spec, &net, &inputs));
    scales[0].scale_exp -= 3;
    let model = build_with(&spec.name, spec.task(), spec.input_spec(), &g, &scales).unwrap();
    let ptq_mae = mae(&reference(&model, &inputs), &targets);
    assert!(ptq_mae > 2.0 * float_mae + 0.01, "the task must make post-training int8 lose: float {float_mae:.4}, PTQ {ptq_mae:.4}");

    let requantized = |tuned: &Net| {
        let g = graph::extract(tuned, &spec.resolve().unwrap()).unwrap();
        let m = build_with(&spec.name, spec.task(), spec.input_spec(), &g, &scales).unwrap();
        mae(&reference(&m, &inputs), &targets)
    };
    let qat = fit(net.clone().with_fake_quant(fake_quant(&spec, &net, &model)), &spec, &inputs, &targets, 300, 3e-3);
    let qat_mae = requantized(&Net::from_blocks(qat.blocks.clone()));
    let plain_mae = requantized(&fit(net.clone(), &spec, &inputs, &targets, 300, 3e-3));
    eprintln!("float {float_mae:.4}, PTQ {ptq_mae:.4}, QAT {qat_mae:.4}, float fine-tuning {plain_mae:.4}");
    assert!(qat_mae < ptq_mae - 0.5 * (ptq_mae - float_mae), "QAT recovers at least half: float {float_mae:.4}, PTQ {ptq_mae:.4}, QAT {qat_mae:.4}");
    assert!(plain_mae > qat_mae * 1.5, "fine-tuning in float is no substitute: QAT {qat_mae:.4}, float fine-tuning {plain_mae:.4}");
}
