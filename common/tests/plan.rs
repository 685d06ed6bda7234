//! The memory plan: live tensors never overlap, the arena is exactly max(in + out), and the
//! interpreter gives the same outputs as running each layer in buffers of its own.

use common::format::Layer;
use common::interp::{Kernels, Reference, Tensor, TensorMut};
use common::testing::{random_model, RandomModelOptions, Rng};
use common::Model;

#[test]
fn slots_of_each_layer_are_disjoint_and_arena_is_minimal() {
    for seed in 0..500 {
        let bytes = random_model(&mut Rng::new(seed), &RandomModelOptions::default()).to_bytes();
        let model = Model::parse(&bytes).unwrap();
        let plan = model.plan();
        let mut peak = model.input().shape.len();
        for (i, node) in model.layers().iter().enumerate() {
            let (a, b) = (plan.slot(i), plan.slot(i + 1));
            assert!(b.end() as usize <= plan.arena_bytes() && a.end() as usize <= plan.arena_bytes());
            assert_eq!(b.len as usize, model.tensor(i + 1).shape.len());
            if matches!(node.layer, Layer::Flatten) {
                assert_eq!(a, b, "flatten moves no bytes");
            } else {
                assert!(a.end() <= b.offset || b.end() <= a.offset, "seed {seed} layer {i}: {a:?} overlaps {b:?}");
                peak = peak.max((a.len + b.len) as usize);
            }
        }
        assert_eq!(plan.arena_bytes(), peak, "seed {seed}");
        assert!(plan.arena_bytes() <= plan.naive_ping_pong_bytes());
    }
}

#[test]
fn interpreter_equals_layer_by_layer_in_separate_buffers() {
    for seed in 0..300 {
        let bytes = random_model(&mut Rng::new(seed), &RandomModelOptions::default()).to_bytes();
        let model = Model::parse(&bytes).unwrap();
        let input = Rng::new(seed ^ 0xABCD).i8s(model.input().shape.len());
        let mut arena = vec![0x55i8; model.plan().arena_bytes()];
        let mut seen = Vec::new();
        common::interp::input_slot(&model, &mut arena).unwrap().copy_from_slice(&input);
        let out = common::interp::run_with(&model, &mut Reference, &mut arena, |_, o| seen.push(o.to_vec())).unwrap().to_vec();

        let mut x = input.clone();
        for (i, node) in model.layers().iter().enumerate() {
            let mut y = vec![0i8; model.tensor(i + 1).shape.len()];
            let inp = Tensor { data: &x, info: model.tensor(i) };
            let outp = TensorMut { data: &mut y, info: model.tensor(i + 1) };
            match &node.layer {
                Layer::Conv2d(l) => Reference.conv2d(l, inp, outp),
                Layer::Dense(l) => Reference.dense(l, inp, outp),
                Layer::Depthwise(l) => Reference.depthwise(l, inp, outp),
                Layer::MaxPool(l) => Reference.max_pool(l, inp, outp),
                Layer::AvgPool(l) => Reference.avg_pool(l, inp, outp),
                Layer::Flatten => y.copy_from_slice(&x),
            }
            assert_eq!(seen[i], y, "seed {seed} layer {i}");
            x = y;
        }
        assert_eq!(out, x);
    }
}

#[test]
fn arena_too_small_and_wrong_input_are_errors() {
    let bytes = random_model(&mut Rng::new(5), &RandomModelOptions::default()).to_bytes();
    let model = Model::parse(&bytes).unwrap();
    let n = model.plan().arena_bytes();
    let input = vec![0i8; model.input().shape.len()];
    let mut small = vec![0i8; n - 1];
    assert_eq!(common::run(&model, &input, &mut small).unwrap_err(), common::RunError::ArenaTooSmall { needed: n, got: n - 1 });
    let mut arena = vec![0i8; n];
    assert!(matches!(common::run(&model, &input[1..], &mut arena), Err(common::RunError::InputLength { .. })));
}
