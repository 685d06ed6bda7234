//! Row bands: the streamed run equals the whole-tensor run byte for byte for every band chain
//! of many random models, the band plan's regions are disjoint while live and its arena is
//! exactly the larger phase, and the plan falls back to whole tensors when bands do not help.

use common::format::owned::{OwnedConv, OwnedDense, OwnedLayer, OwnedModel, OwnedNode};
use common::format::{InputSpec, Layer, Pads, QParams, Task, Window};
use common::interp::{run_with, Reference, Stream};
use common::plan::{BandPlan, Slot};
use common::testing::{random_model, RandomModelOptions, Rng};
use common::{Model, RunError, Shape};

/// Tall inputs, kernels up to 5 and strides up to 3 (so some rows are read by no window),
/// random top and bottom pads, every pool kind, up to 4 leading conv/pool layers.
fn options(seed: u64) -> RandomModelOptions {
    RandomModelOptions { max_hw: [24, 12, 12][seed as usize % 3], max_channels: 5, max_conv_layers: 4, max_kernel: 5, max_stride: 3, ..Default::default() }
}

fn model_bytes(seed: u64) -> Vec<u8> {
    random_model(&mut Rng::new(seed), &options(seed)).to_bytes()
}

/// The whole-tensor reference: every layer's output and the model output.
fn reference(model: &Model<'_>, input: &[i8]) -> Vec<Vec<i8>> {
    let mut arena = vec![0i8; model.plan().arena_bytes()];
    common::interp::input_slot(model, &mut arena).unwrap().copy_from_slice(input);
    let mut layers = Vec::new();
    run_with(model, &mut Reference, &mut arena, |_, out| layers.push(out.to_vec())).unwrap();
    layers
}

/// Streams `input` row by row through `stream` in an arena of stale bytes, checking that the
/// scratch is never touched, that every row a layer reports equals the reference's and that
/// rows come in order, each at most once; returns the output.
fn stream_and_check(stream: &mut Stream<'_, '_>, model: &Model<'_>, input: &[i8], expected: &[Vec<i8>], what: &str) -> Vec<i8> {
    let plan = *stream.plan();
    let mut arena = vec![0x55i8; plan.arena_bytes()];
    let scratch = plan.scratch().range();
    let canary: Vec<i8> = (0..scratch.len()).map(|i| i as i8 ^ 0x3C).collect();
    arena[scratch.clone()].copy_from_slice(&canary);

    let layers = model.layers().len();
    let mut next_row = vec![0u16; layers];
    let mut check = |i: usize, rows: std::ops::Range<u16>, out: &[i8]| {
        let t = model.tensor(i + 1).shape;
        let row = t.w as usize * t.c as usize;
        assert!(rows.start >= next_row[i], "{what}: layer {i} rows {rows:?} after row {}", next_row[i]);
        assert!(rows.end <= t.h && !rows.is_empty(), "{what}: layer {i} rows {rows:?}");
        let want = &expected[i][rows.start as usize * row..rows.end as usize * row];
        assert_eq!(out, want, "{what}: layer {i} rows {rows:?}");
        next_row[i] = rows.end;
    };
    let row = input.len() / model.input().shape.h as usize;
    for r in input.chunks(row) {
        stream.push_row(&mut Reference, &mut arena, r, &mut check).unwrap();
    }
    assert_eq!(&arena[scratch], &canary[..], "{what}: the stream wrote into the caller's scratch");
    let out = stream.finish(&mut Reference, &mut arena, &mut check).unwrap().to_vec();
    // Layers from the band chain's end on run whole; the chain's last layer fills its tensor.
    for (i, &rows) in next_row.iter().enumerate().skip(plan.banded_layers().saturating_sub(1)) {
        assert_eq!(rows, model.tensor(i + 1).shape.h, "{what}: layer {i} not complete");
    }
    out
}

#[test]
fn streamed_runs_equal_the_whole_tensor_run_for_every_band_chain() {
    let mut chains = [0usize; 5];
    for seed in 0..3000 {
        let bytes = model_bytes(seed);
        let model = Model::parse(&bytes).unwrap();
        let input = Rng::new(seed ^ 0x57AE).i8s(model.input().shape.len());
        let expected = reference(&model, &input);
        let scratch = (seed % 7) as usize;
        for (k, count) in chains.iter_mut().enumerate().take(BandPlan::max_bands(&model) + 1) {
            let what = format!("seed {seed} k {k} scratch {scratch}");
            let mut stream = Stream::with_bands(&model, k, scratch).unwrap();
            // Twice: `finish` readies the stream for the next frame.
            for _ in 0..2 {
                let out = stream_and_check(&mut stream, &model, &input, &expected, &what);
                assert_eq!(&out, expected.last().unwrap(), "{what}: output");
            }
            *count += 1;
        }
        assert!(Stream::with_bands(&model, BandPlan::max_bands(&model) + 1, 0).is_none());
    }
    // Every chain length is exercised.
    assert!(chains.iter().all(|&n| n > 20), "{chains:?}");
}

/// Regions live together: while rows stream in, the windows, tensor `k` and the scratch; then,
/// for each layer from `k` on, its input and output.
fn phases(model: &Model<'_>, plan: &BandPlan) -> Vec<Vec<Slot>> {
    let k = plan.banded_layers();
    let mut streaming: Vec<Slot> = (0..=k).map(|j| plan.slot(j)).collect();
    streaming.push(plan.scratch());
    let mut phases = vec![streaming];
    for (i, node) in model.layers().iter().enumerate().skip(k) {
        if !matches!(node.layer, Layer::Flatten) {
            phases.push(vec![plan.slot(i), plan.slot(i + 1)]);
        }
    }
    phases
}

#[test]
fn band_plan_regions_are_disjoint_and_the_arena_is_the_exact_peak() {
    for seed in 0..3000 {
        let bytes = model_bytes(seed);
        let model = Model::parse(&bytes).unwrap();
        let scratch = (seed % 11) as usize * 13;
        let mut smallest = usize::MAX;
        for k in 0..=BandPlan::max_bands(&model) {
            let plan = BandPlan::with_bands(&model, k, scratch).unwrap();
            assert_eq!(plan.banded_layers(), k);
            assert_eq!(plan.tensor_count(), model.layers().len() + 1);
            // Sizes: a window holds the kernel's rows (at most the tensor's), the rest whole.
            for j in 0..=model.layers().len() {
                let s = model.tensor(j).shape;
                let rows = match model.layers().get(j).and_then(|n| n.layer.window()) {
                    Some(w) if j < k => (w.kernel_h as u16).min(s.h),
                    _ => s.h,
                };
                assert_eq!(plan.slot(j).len as usize, rows as usize * s.w as usize * s.c as usize, "seed {seed} k {k} tensor {j}");
                assert_eq!(plan.is_window(j), j < k);
            }
            assert_eq!(plan.scratch().len as usize, scratch);
            if scratch > 0 {
                assert_eq!(plan.scratch().offset % 4, 0, "seed {seed} k {k}: scratch word-aligned");
            }
            let mut peak = 0;
            for (phase, live) in phases(&model, &plan).iter().enumerate() {
                for (a, x) in live.iter().enumerate() {
                    assert!(x.end() as usize <= plan.arena_bytes(), "seed {seed} k {k}: {x:?} outside the arena");
                    for y in &live[a + 1..] {
                        assert!(x.end() <= y.offset || y.end() <= x.offset, "seed {seed} k {k}: {x:?} overlaps {y:?}");
                    }
                }
                let bytes = live.iter().map(|s| s.len as usize).sum::<usize>();
                // While streaming, the scratch's alignment gap counts too: nothing else fits it.
                let gap = if phase == 0 { plan.scratch().end() as usize - bytes } else { 0 };
                assert!(gap < 4, "seed {seed} k {k}: gap {gap}");
                peak = peak.max(bytes + gap);
            }
            assert_eq!(plan.arena_bytes(), peak, "seed {seed} k {k}");
            if k == 0 && scratch == 0 {
                assert_eq!(plan.arena_bytes(), model.plan().arena_bytes(), "seed {seed}: k = 0 is the whole-tensor plan");
            }
            smallest = smallest.min(plan.arena_bytes());
        }
        let best = BandPlan::new(&model, scratch);
        assert_eq!(best.arena_bytes(), smallest, "seed {seed}");
        // Ties go to the shorter chain.
        for k in 0..best.banded_layers() {
            assert!(BandPlan::with_bands(&model, k, scratch).unwrap().arena_bytes() > smallest, "seed {seed}");
        }
    }
}

fn q(zero_point: i8) -> QParams {
    QParams { scale_exp: -4, zero_point }
}

fn dense(inputs: usize, outputs: u16) -> OwnedLayer {
    OwnedLayer::Dense(OwnedDense {
        out_features: outputs,
        relu: false,
        output: q(3),
        weights: vec![1; inputs * outputs as usize],
        bias: vec![7; outputs as usize],
        multipliers: vec![1 << 12; outputs as usize],
    })
}

/// A 1x1 conv on a 2x2 image, then dense layers 4 -> 200 -> 200: the peak is in the dense
/// layers, which bands cannot shrink.
fn dense_bound_model() -> OwnedModel {
    let conv = OwnedConv {
        out_channels: 1,
        window: Window { kernel_h: 1, kernel_w: 1, stride_h: 1, stride_w: 1, pads: Pads::default() },
        relu: true,
        output: q(-2),
        weights: vec![2],
        bias: vec![1],
        multipliers: vec![1 << 15],
    };
    let node = |name: &str, layer| OwnedNode { name: name.into(), layer };
    OwnedModel {
        name: "dense-bound".into(),
        task: Task::Regression,
        input: InputSpec { shape: Shape::new(2, 2, 1), quant: q(0), preprocess: None },
        layers: vec![
            node("conv", OwnedLayer::Conv2d(conv)),
            node("flatten", OwnedLayer::Flatten),
            node("dense1", dense(4, 200)),
            node("dense2", dense(200, 200)),
        ],
    }
}

#[test]
fn whole_tensors_when_bands_do_not_help() {
    let bytes = dense_bound_model().to_bytes();
    let model = Model::parse(&bytes).unwrap();
    assert_eq!(BandPlan::max_bands(&model), 1);
    let plan = BandPlan::new(&model, 0);
    assert_eq!(plan.banded_layers(), 0);
    assert_eq!(plan.arena_bytes(), 400);
    assert_eq!(plan.arena_bytes(), model.plan().arena_bytes());
    // Banding the conv gives the same arena: the tie goes to whole tensors.
    assert_eq!(BandPlan::with_bands(&model, 1, 0).unwrap().arena_bytes(), 400);

    let input = [3i8, -1, 0, 9];
    let expected = reference(&model, &input);
    let mut stream = Stream::new(&model, 0);
    let out = stream_and_check(&mut stream, &model, &input, &expected, "dense-bound");
    assert_eq!(&out, expected.last().unwrap());
}

#[test]
fn stream_errors() {
    let bytes = model_bytes(3);
    let model = Model::parse(&bytes).unwrap();
    let shape = model.input().shape;
    let row = vec![0i8; shape.w as usize * shape.c as usize];
    let mut stream = Stream::new(&model, 0);
    let plan = *stream.plan();
    let mut arena = vec![0i8; plan.arena_bytes()];
    let ignore = |_: usize, _: std::ops::Range<u16>, _: &[i8]| {};

    assert_eq!(stream.push_row(&mut Reference, &mut arena, &row[1..], ignore), Err(RunError::RowLength { expected: row.len(), got: row.len() - 1 }));
    let short = plan.scratch().offset as usize - 1;
    assert_eq!(stream.push_row(&mut Reference, &mut arena[..short], &row, ignore), Err(RunError::ArenaTooSmall { needed: short + 1, got: short }));
    assert_eq!(stream.finish(&mut Reference, &mut arena, ignore).unwrap_err(), RunError::RowCount { expected: shape.h, got: 0 });
    for _ in 0..shape.h {
        stream.push_row(&mut Reference, &mut arena, &row, ignore).unwrap();
    }
    assert_eq!(stream.push_row(&mut Reference, &mut arena, &row, ignore), Err(RunError::RowCount { expected: shape.h, got: shape.h + 1 }));
    let n = plan.arena_bytes();
    assert_eq!(stream.finish(&mut Reference, &mut arena[..n - 1], ignore).unwrap_err(), RunError::ArenaTooSmall { needed: n, got: n - 1 });
    assert!(stream.finish(&mut Reference, &mut arena, ignore).is_ok());
}
