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
