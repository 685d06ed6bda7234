//! The float ONNX export (folded graph, weights reordered to the chip's layouts and back), run
//! by tract, computes what the burn network computes.

use burn::tensor::{Tensor, TensorData};
use host::nn::net::Net;
use host::nn::spec::NetSpec;
use host::onnx::{float, run::Tract};
use host::quant::graph;
use host::train::infer_device;

mod fixtures;
use fixtures::{DEPTHWISE_CNN, SMALL_CNN};

#[test]
fn tract_runs_the_float_export_like_burn() {
    same_in_tract_and_burn(SMALL_CNN);
}

/// Depthwise layers (a grouped `Conv`), with a batch-norm folded into one.
#[test]
fn tract_runs_the_float_export_of_depthwise_layers_like_burn() {
    same_in_tract_and_burn(DEPTHWISE_CNN);
}

fn same_in_tract_and_burn(arch: &str) {
    let spec = NetSpec::parse(arch).unwrap();
    let device = infer_device();
    let net = Net::new(&spec.resolve().unwrap(), &device);
    let g = graph::extract(&net, &spec.resolve().unwrap()).unwrap();
    let onnx = float::export(&spec, &g).unwrap();
    let s = spec.input_shape();
    let dims = [1, s.c as usize, s.h as usize, s.w as usize];
    for seed in 0..5u32 {
        let x: Vec<f32> = (0..s.len() as u32).map(|i| ((i * 7919 + seed * 104729) % 251) as f32 / 125.0 - 1.0).collect();
        let want: Vec<f32> = net.forward(Tensor::from_data(TensorData::new(x.clone(), dims), &device)).into_data().try_to_vec::<f32>().unwrap();
        let got = Tract::run_float(&onnx, &x, dims).unwrap().remove(0);
        assert_eq!(got.len(), want.len());
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "tract {got:?} vs burn {want:?}");
        }
    }
}

/// Quantization-aware training folds batch norm by exporting and importing: the network read
/// back has no batch norm, a depthwise layer where the export has a grouped `Conv`, and
/// computes what the original computes.
#[test]
fn the_folded_export_imports_back_as_the_same_network() {
    use host::nn::net::Block;
    let spec = NetSpec::parse(DEPTHWISE_CNN).unwrap();
    let device = infer_device();
    let mut net = Net::new(&spec.resolve().unwrap(), &device);
    // Statistics a trained batch norm has, so that folding it is not the identity.
    for block in &mut net.blocks {
        if let Block::BatchNorm(bn) = block {
            let n = bn.gamma.val().dims()[0];
            let values =
                |base: f32, step: f32| Tensor::<1>::from_data(TensorData::new((0..n).map(|i| base + step * i as f32).collect::<Vec<f32>>(), [n]), &device);
            bn.gamma = burn::module::Param::from_tensor(values(0.5, 0.3));
            bn.beta = burn::module::Param::from_tensor(values(-0.2, 0.15));
            bn.running_mean = burn::module::RunningState::new(values(0.1, -0.05));
            bn.running_var = burn::module::RunningState::new(values(0.4, 0.2));
        }
    }
    let onnx = float::export(&spec, &graph::extract(&net, &spec.resolve().unwrap()).unwrap()).unwrap();
    let folded = host::onnx::import::import(&onnx, "the export", &device).unwrap();
    assert!(net.blocks.iter().any(|b| matches!(b, Block::BatchNorm(_))));
    assert!(!folded.net.blocks.iter().any(|b| matches!(b, Block::BatchNorm(_))));
    assert!(folded.spec.to_toml().contains("depthwise"), "{}", folded.spec.to_toml());
    let s = spec.input_shape();
    let dims = [2, s.c as usize, s.h as usize, s.w as usize];
    let x: Vec<f32> = (0..2 * s.len() as u32).map(|i| ((i * 7919) % 251) as f32 / 125.0 - 1.0).collect();
    let run = |n: &Net| n.forward(Tensor::from_data(TensorData::new(x.clone(), dims), &device)).into_data().try_to_vec::<f32>().unwrap();
    let (want, got) = (run(&net), run(&folded.net));
    for (a, b) in got.iter().zip(&want) {
        assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "imported {got:?} vs original {want:?}");
    }
}
