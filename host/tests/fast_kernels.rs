//! Our convolution kernels (host/src/nn/fast/) against burn's own operations on small networks
//! with fixed weights and inputs: the same loss, the same gradients for every parameter and for
//! the input, the same outputs on the inference device, and training steps that repeat exactly.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use host::nn::fast::Kernels;
use host::nn::net::{Block, Net};
use host::nn::spec::NetSpec;
use host::train::{infer_device, train_device};

mod fixtures;

/// burn's random generator is one for the process: the tests that seed it take turns.
static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn rng_turn() -> std::sync::MutexGuard<'static, ()> {
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// PilotNet's kinds of layers, small: 5x5 stride-2 and 3x3 convolutions, TensorFlow "same"
/// padding with a stride (asymmetric pads), dense layers after a flatten.
const DRIVING: &str = include_str!("fixtures/driving.toml");

/// The sign CNN's kinds of layers, small: convolution, ReLU, max pooling, twice. (Which input
/// of a tied window gets the gradient is pinned by the pooling's unit tests: here, ties are
/// ReLU zeros, whose gradient the ReLU stops either way.)
const SIGNS: &str = include_str!("fixtures/signs.toml");

fn values(len: usize, seed: f32, scale: f32) -> Vec<f32> {
    (0..len).map(|i| ((i as f32 * 0.618 + seed) * 12.9898).sin() * scale).collect()
}

/// A network with weights that depend only on `seed`.
fn net(arch: &str, classes: u16, seed: u64, device: &Device) -> (NetSpec, Net) {
    let spec = NetSpec::parse(arch).unwrap().with_classes(classes);
    device.seed(seed);
    let net = Net::new(&spec.resolve().unwrap(), device);
    // burn draws a parameter's initial values when it is first read: read them all now, so
    // that later draws (dropout masks) do not change them.
    for block in &net.blocks {
        match block {
            Block::Conv(c) => drop((c.weight.val(), c.bias.as_ref().map(|b| b.val()))),
            Block::Dense(d) => drop((d.weight.val(), d.bias.as_ref().map(|b| b.val()))),
            _ => {}
        }
    }
    (spec, net)
}

fn batch(spec: &NetSpec, n: usize, device: &Device) -> (Tensor<4>, Tensor<2>) {
    let s = spec.input_shape();
    let outputs = spec.outputs().unwrap_or(1) as usize;
    let shape = [n, s.c as usize, s.h as usize, s.w as usize];
    let x = Tensor::<4>::from_data(TensorData::new(values(shape.iter().product(), 0.5, 1.0), shape), device);
    let y = Tensor::<2>::from_data(TensorData::new(values(n * outputs, 1.5, 0.5), [n, outputs]), device);
    (x, y)
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-4 * scale, "{what}[{i}]: ours {g}, burn {w} (largest |value| {scale})");
    }
}

/// The loss, the input's gradient and every parameter's gradient, in block order.
fn loss_and_grads(net: &Net, x: Tensor<4>, y: Tensor<2>, kernels: Kernels) -> (f32, Vec<(String, Vec<f32>)>) {
    let x = x.require_grad();
    let loss = (net.forward_with(x.clone(), kernels) - y).powi_scalar(2).mean();
    let value = loss.clone().into_scalar::<f32>();
    let grads = loss.backward();
    let mut out = vec![("input".to_string(), to_vec(x.grad(&grads).expect("the input's gradient")))];
    for (i, block) in net.blocks.iter().enumerate() {
        match block {
            Block::Conv(c) => {
                out.push((format!("block {i} conv weight"), to_vec(c.weight.val().grad(&grads).unwrap())));
                out.push((format!("block {i} conv bias"), to_vec(c.bias.as_ref().unwrap().val().grad(&grads).unwrap())));
            }
            Block::Dense(d) => out.push((format!("block {i} dense weight"), to_vec(d.weight.val().grad(&grads).unwrap()))),
            _ => {}
        }
    }
    (value, out)
}

fn compare_with_burn(arch: &str, classes: u16) {
    let _turn = rng_turn();
    let device = train_device();
    let (spec, net) = net(arch, classes, 11, &device);
    let (x, y) = batch(&spec, 5, &device);
    let (loss, grads) = loss_and_grads(&net, x.clone(), y.clone(), Kernels::Fast);
    let (want_loss, want_grads) = loss_and_grads(&net, x, y, Kernels::Burn);
    assert!((loss - want_loss).abs() <= 1e-5 * want_loss.abs().max(1.0), "loss: ours {loss}, burn {want_loss}");
    assert!(want_grads.len() >= 4);
    for ((name, got), (_, want)) in grads.iter().zip(&want_grads) {
        assert!(want.iter().any(|v| *v != 0.0), "{name}: burn's gradient is all zero, the comparison would be empty");
        assert_close(got, want, name);
    }
}

#[test]
fn driving_net_loss_and_gradients_match_burn() {
    compare_with_burn(DRIVING, 1);
}

#[test]
fn sign_net_with_relu_before_pooling_matches_burn() {
    compare_with_burn(SIGNS, 5);
}

#[test]
fn classifier_with_pooling_and_same_padding_matches_burn() {
    // Dropout is in this network too, in training mode on the autodiff device: both passes
    // reseed the device's generator, which the masks come from, so they get the same masks.
    let _turn = rng_turn();
    let device = train_device();
    let spec = NetSpec::parse(fixtures::SMALL_CNN).unwrap();
    let (_, net) = net(fixtures::SMALL_CNN, 3, 5, &device);
    let (x, y) = batch(&spec, 4, &device);
    device.seed(99);
    let (loss, grads) = loss_and_grads(&net, x.clone(), y.clone(), Kernels::Fast);
    device.seed(99);
    let (want_loss, want_grads) = loss_and_grads(&net, x, y, Kernels::Burn);
    assert!((loss - want_loss).abs() <= 1e-5 * want_loss.abs().max(1.0), "loss: ours {loss}, burn {want_loss}");
    for ((name, got), (_, want)) in grads.iter().zip(&want_grads) {
        assert_close(got, want, name);
    }
}

#[test]
fn inference_outputs_match_burn() {
    let _turn = rng_turn();
    let device = infer_device();
    let (spec, net) = net(DRIVING, 1, 3, &device);
    let (x, _) = batch(&spec, 3, &device);
    let ours = to_vec(net.forward_with(x.clone(), Kernels::Fast));
    let burn = to_vec(net.forward_with(x, Kernels::Burn));
    assert_close(&ours, &burn, "outputs");
}

/// Three Adam steps from the same seed, twice: the weights must agree bit for bit (our kernels
/// split work by shape only, so the thread count and scheduling cannot change a sum's order).
#[test]
fn training_steps_repeat_bit_exactly() {
    let run = || {
        let device = train_device();
        let (spec, mut net) = net(DRIVING, 1, 21, &device);
        let (x, y) = batch(&spec, 8, &device);
        let mut optim = AdamConfig::new().init();
        for _ in 0..3 {
            let loss = (net.forward_with(x.clone(), Kernels::Fast) - y.clone()).powi_scalar(2).mean();
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(1e-2, net, grads);
        }
        net.valid()
            .blocks
            .iter()
            .filter_map(|b| match b {
                Block::Conv(c) => Some(to_vec(c.weight.val())),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let _turn = rng_turn();
    let (a, b) = (run(), run());
    assert_eq!(a.len(), 3);
    assert!(a == b, "two runs from the same seed gave different weights");
}
