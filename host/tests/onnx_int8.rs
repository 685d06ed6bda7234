//! The exported int8 ONNX, run by tract (optimized), gives the reference's bytes at every layer
//! of random networks: random shapes, strides, paddings, zero points, multipliers, ReLU.

use common::interp::{input_slot, run_with, Reference};
use common::testing::{random_model, RandomModelOptions, Rng};
use common::Model;
use host::onnx::int8::export;
use host::onnx::run::Tract;

#[test]
fn tract_equals_reference_on_random_networks() {
    // (Depthwise layers: not exported to ONNX yet.)
    let opts = RandomModelOptions { allow_avg_pool: false, allow_depthwise: false, max_hw: 10, ..RandomModelOptions::default() };
    let (mut compared, mut models) = (0usize, 0usize);
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
            }
        }
        models += 1;
    }
    assert!(models == 120 && compared > 10_000, "{models} models, {compared} bytes compared");
}
