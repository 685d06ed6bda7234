//! The optimized kernels' portable path (the same blocking and arithmetic as the chip's asm,
//! with the DSP instructions emulated) against `common`'s reference kernels, byte for byte,
//! over random shapes, strides, paddings, zero points, multipliers and biases.

use common::format::owned::{OwnedConv, OwnedDense, OwnedDepthwise, OwnedLayer, OwnedModel, OwnedNode};
use common::format::{InputSpec, Pads, Pool, QParams, Task, Window, MAX_ABS_BIAS};
use common::interp::{input_slot, run_with, Reference, Stream};
use common::plan::BandPlan;
use common::testing::{random_model, RandomModelOptions, Rng};
use common::{Model, Shape};
use kernels::Dsp;
use proptest::prelude::*;

/// Runs `blob` on `input` with both kernel sets and compares every layer's output.
fn same_as_reference(blob: &[u8], input: &[i8]) -> Result<(), TestCaseError> {
    let model = Model::parse(blob).expect("the tests write valid models");
    let n = model.plan().arena_bytes();
    let (mut ra, mut da) = (vec![0i8; n], vec![0i8; n]);
    input_slot(&model, &mut ra).unwrap().copy_from_slice(input);
    input_slot(&model, &mut da).unwrap().copy_from_slice(input);
    let mut expected = Vec::new();
    run_with(&model, &mut Reference, &mut ra, |_, out| expected.push(out.to_vec())).unwrap();
    let mut got = Vec::new();
    run_with(&model, &mut Dsp, &mut da, |_, out| got.push(out.to_vec())).unwrap();
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        prop_assert_eq!(g, e, "layer {} ({}) differs", i, model.layers()[i].name);
    }
    Ok(())
}

/// Streams `input` row by row through the row-band interpreter with the optimized kernels,
/// every leading conv, depthwise and pool layer in row bands (one output row per call, the
/// window cut at the top and bottom), and compares every row with the reference's
/// whole-tensor run; returns how many layers were in row bands.
fn streamed_same_as_reference(blob: &[u8], input: &[i8]) -> Result<usize, TestCaseError> {
    let model = Model::parse(blob).expect("the tests write valid models");
    let mut arena = vec![0i8; model.plan().arena_bytes()];
    input_slot(&model, &mut arena).unwrap().copy_from_slice(input);
    let mut expected = Vec::new();
    run_with(&model, &mut Reference, &mut arena, |_, out| expected.push(out.to_vec())).unwrap();
    let mut stream = Stream::with_bands(&model, BandPlan::max_bands(&model), 0).unwrap();
    let mut arena = vec![0x55i8; stream.plan().arena_bytes()];
    let mut bad = None;
    let mut check = |i: usize, rows: std::ops::Range<u16>, out: &[i8]| {
        let row = out.len() / rows.len();
        if bad.is_none() && out != &expected[i][rows.start as usize * row..rows.end as usize * row] {
            bad = Some((i, rows.start));
        }
    };
    let s = model.input().shape;
    for r in input.chunks(s.w as usize * s.c as usize) {
        stream.push_row(&mut Dsp, &mut arena, r, &mut check).unwrap();
    }
    stream.finish(&mut Dsp, &mut arena, &mut check).unwrap();
    prop_assert_eq!(bad, None, "streamed (layer, first row) differs");
    Ok(stream.plan().banded_layers())
}

fn one_layer(input: Shape, in_zp: i8, layer: OwnedLayer) -> Vec<u8> {
    let model = OwnedModel {
        name: "one".into(),
        task: Task::Regression,
        input: InputSpec { shape: input, quant: QParams { scale_exp: 0, zero_point: in_zp }, preprocess: None },
        layers: vec![OwnedNode { name: "layer".into(), layer }],
    };
    model.to_bytes()
}

/// Multipliers from 1 to `i32::MAX`, spread over every magnitude (log-uniform), so that
/// outputs range from "always the zero point" through useful scales to saturation; and powers
/// of two, whose products land exactly on a rounding tie (`x.5`) for many accumulators.
fn multiplier() -> impl Strategy<Value = i32> {
    prop_oneof![(0u32..31, any::<u32>()).prop_map(|(bits, r)| ((r >> (31 - bits)) as i32 | 1 << bits).max(1)), (0u32..31).prop_map(|b| 1i32 << b),]
}

fn bias() -> impl Strategy<Value = i32> {
    prop_oneof![-(1 << 14)..(1 << 14), -MAX_ABS_BIAS..=MAX_ABS_BIAS]
}

/// Deterministic pseudo-random bytes from a seed (cheaper to shrink than long vectors).
fn bytes(seed: u64, n: usize) -> Vec<i8> {
    Rng::new(seed).i8s(n)
}

#[derive(Debug, Clone)]
struct ConvCase {
    h: u16,
    w: u16,
    ic: u16,
    oc: u16,
    k: (u8, u8),
    s: (u8, u8),
    pads: Pads,
    in_zp: i8,
    out_zp: i8,
    relu: bool,
    mults: Vec<i32>,
    biases: Vec<i32>,
    seed: u64,
}

fn conv_case(max_hw: u16, max_ic: u16, max_oc: u16) -> impl Strategy<Value = ConvCase> {
    (1..=5u8, 1..=5u8, 1..=3u8, 1..=3u8, 1..=max_ic, 1..=max_oc).prop_flat_map(move |(kh, kw, sh, sw, ic, oc)| {
        let pad = |k: u8| 0..k; // 0..=k-1, as the format allows
        (
            (1..=max_hw, 1..=max_hw),
            (pad(kh), pad(kw), pad(kh), pad(kw)),
            (any::<i8>(), any::<i8>(), any::<bool>(), any::<u64>()),
            proptest::collection::vec(multiplier(), oc as usize),
            proptest::collection::vec(bias(), oc as usize),
        )
            .prop_map(move |((h, w), (pt, pl, pb, pr), (in_zp, out_zp, relu, seed), mults, biases)| ConvCase {
                // The padded input must hold at least one window.
                h: h.max(kh as u16),
                w: w.max(kw as u16),
                ic,
                oc,
                k: (kh, kw),
                s: (sh, sw),
                pads: Pads { top: pt, left: pl, bottom: pb, right: pr },
                in_zp,
                out_zp,
                relu,
                mults,
                biases,
                seed,
            })
    })
}

fn check_conv(c: ConvCase) -> Result<(), TestCaseError> {
    let kdepth = c.k.0 as usize * c.k.1 as usize * c.ic as usize;
    let weights = bytes(c.seed, c.oc as usize * kdepth);
    let conv = OwnedConv {
        out_channels: c.oc,
        window: Window { kernel_h: c.k.0, kernel_w: c.k.1, stride_h: c.s.0, stride_w: c.s.1, pads: c.pads },
        relu: c.relu,
        output: QParams { scale_exp: 0, zero_point: c.out_zp },
        weights,
        bias: c.biases,
        multipliers: c.mults,
    };
    let shape = Shape::new(c.h, c.w, c.ic);
    let blob = one_layer(shape, c.in_zp, OwnedLayer::Conv2d(conv));
    same_as_reference(&blob, &bytes(c.seed ^ 1, shape.len()))
}

#[derive(Debug, Clone)]
struct DwCase {
    h: u16,
    w: u16,
    c: u16,
    k: (u8, u8),
    s: (u8, u8),
    pads: Pads,
    in_zp: i8,
    out_zp: i8,
    relu: bool,
    mults: Vec<i32>,
    biases: Vec<i32>,
    seed: u64,
}

/// Depthwise layers of kernels up to `max_k`, strides up to 3, any padding, `1..=max_c`
/// channels (every count mod 4), and multipliers either all small (the fast requantization)
/// or from the whole range (the general one for the groups that hold a large one).
fn dw_case(max_hw: u16, max_c: u16, max_k: u8) -> impl Strategy<Value = DwCase> {
    (1..=max_k, 1..=max_k, 1..=3u8, 1..=3u8, 1..=max_c, any::<bool>()).prop_flat_map(move |(kh, kw, sh, sw, c, small)| {
        let pad = |k: u8| 0..k;
        let mult = if small { (1..(1 << 15)).boxed() } else { multiplier().boxed() };
        (
            (1..=max_hw, 1..=max_hw),
            (pad(kh), pad(kw), pad(kh), pad(kw)),
            (any::<i8>(), any::<i8>(), any::<bool>(), any::<u64>()),
            proptest::collection::vec(mult, c as usize),
            proptest::collection::vec(bias(), c as usize),
        )
            .prop_map(move |((h, w), (pt, pl, pb, pr), (in_zp, out_zp, relu, seed), mults, biases)| DwCase {
                h: h.max(kh as u16),
                w: w.max(kw as u16),
                c,
                k: (kh, kw),
                s: (sh, sw),
                pads: Pads { top: pt, left: pl, bottom: pb, right: pr },
                in_zp,
                out_zp,
                relu,
                mults,
                biases,
                seed,
            })
    })
}

fn dw_blob(c: &DwCase) -> (Vec<u8>, Vec<i8>) {
    let taps = c.k.0 as usize * c.k.1 as usize;
    let dw = OwnedDepthwise {
        window: Window { kernel_h: c.k.0, kernel_w: c.k.1, stride_h: c.s.0, stride_w: c.s.1, pads: c.pads },
        relu: c.relu,
        output: QParams { scale_exp: 0, zero_point: c.out_zp },
        weights: bytes(c.seed, taps * c.c as usize),
        bias: c.biases.clone(),
        multipliers: c.mults.clone(),
    };
    let shape = Shape::new(c.h, c.w, c.c);
    (one_layer(shape, c.in_zp, OwnedLayer::Depthwise(dw)), bytes(c.seed ^ 1, shape.len()))
}

/// The layer on whole tensors and streamed one output row per call.
fn check_dw(c: DwCase) -> Result<(), TestCaseError> {
    let (blob, x) = dw_blob(&c);
    same_as_reference(&blob, &x)?;
    let banded = streamed_same_as_reference(&blob, &x)?;
    prop_assert_eq!(banded, 1, "the layer did not run in row bands");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// The requantization step alone, over the whole accumulator and multiplier range.
    #[test]
    fn requantize_is_bit_exact(acc in prop_oneof![any::<i32>(), -70_000..70_000], m in prop_oneof![multiplier(), 1..=i32::MAX], zp in any::<i8>(), relu in any::<bool>()) {
        let lo = common::quant::lower_clamp(relu, zp);
        prop_assert_eq!(kernels::requant::requantize(acc, m, zp as i32, lo as i32), common::quant::requantize(acc, m, zp, lo));
    }

    /// The fast form (multipliers below 2^15, given shifted left 16 bits), over the whole
    /// accumulator range.
    #[test]
    fn requantize_fast_is_bit_exact(acc in prop_oneof![any::<i32>(), -70_000..70_000], m in prop_oneof![1..(1 << 15), (0u32..15).prop_map(|b| 1i32 << b)],
                                    zp in any::<i8>(), relu in any::<bool>()) {
        let lo = common::quant::lower_clamp(relu, zp);
        prop_assert_eq!(kernels::requant::requantize_fast(acc, m << 16, zp as i32, lo as i32), common::quant::requantize(acc, m, zp, lo));
    }

    /// Small convolutions: every kernel size 1..5, stride 1..3, padding and zero point.
    #[test]
    fn conv_small(c in conv_case(10, 8, 9)) {
        check_conv(c)?;
    }

    /// Depthwise layers: kernels 1..5, strides 1..3, any padding and channel count.
    #[test]
    fn depthwise_small(c in dw_case(10, 13, 5)) {
        check_dw(c)?;
    }

    /// Max pooling with any window, stride and padding.
    #[test]
    fn max_pool(h in 1..=12u16, w in 1..=12u16, c in prop_oneof![1..=9u16, (1..=6u16).prop_map(|q| 4 * q)], k in (1..=3u8, 1..=3u8), s in (1..=3u8, 1..=3u8),
                p in (0..3u8, 0..3u8, 0..3u8, 0..3u8), seed in any::<u64>()) {
        let pads = Pads { top: p.0 % k.0, left: p.1 % k.1, bottom: p.2 % k.0, right: p.3 % k.1 };
        let pool = Pool { kernel_h: k.0, kernel_w: k.1, stride_h: s.0, stride_w: s.1, pads };
        let shape = Shape::new(h.max(k.0 as u16), w.max(k.1 as u16), c);
        let blob = one_layer(shape, 0, OwnedLayer::MaxPool(pool));
        same_as_reference(&blob, &bytes(seed, shape.len()))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Deep and wide convolutions: several depth blocks (`conv::K_BLOCK`) and channel blocks
    /// (`conv::OC_BLOCK`).
    #[test]
    fn conv_deep(c in prop_oneof![conv_case(7, 64, 6), conv_case(5, 12, 140)]) {
        check_conv(c)?;
    }

    /// Depthwise layers with rows wider than one gathered segment (`depthwise::GATHER_SLOTS`),
    /// many channel groups, and kernels past `depthwise::MAX_TAPS` (the reference path).
    #[test]
    fn depthwise_wide(c in prop_oneof![
        dw_case(12, 40, 3).prop_map(|c| DwCase { w: c.w * 25, ..c }),
        dw_case(4, 9, 3).prop_map(|c| DwCase { w: c.w * 60, ..c }),
        dw_case(12, 6, 9),
    ]) {
        check_dw(c)?;
    }

    /// Dense layers (the 1x1 convolution of one pixel): every input length mod 4, several depth
    /// and channel blocks (`conv::K_BLOCK`, `conv::OC_BLOCK`), odd and even output counts.
    #[test]
    fn dense(n_in in prop_oneof![1..=40u16, 1..=1200u16, 4090..=4100u16], outs in prop_oneof![1..=9u16, 60..=140u16], in_zp in any::<i8>(),
             out_zp in any::<i8>(), relu in any::<bool>(), seed in any::<u64>(),
             mults in proptest::collection::vec(multiplier(), 140), biases in proptest::collection::vec(bias(), 140)) {
        let d = OwnedDense {
            out_features: outs,
            relu,
            output: QParams { scale_exp: 0, zero_point: out_zp },
            weights: bytes(seed, outs as usize * n_in as usize),
            bias: biases[..outs as usize].to_vec(),
            multipliers: mults[..outs as usize].to_vec(),
        };
        let blob = one_layer(Shape::flat(n_in), in_zp, OwnedLayer::Dense(d));
        same_as_reference(&blob, &bytes(seed ^ 1, n_in as usize))?;
    }
}

/// The shipped models' convolutions as the row-band interpreter calls them, one output row
/// per call: PilotNet's first layer (3 channels, 5x5 stride 2: depth 75, a partial chunk and
/// the copy of weight row 0; 98 pixels, a 2-pixel last block), its 47- and 22-pixel rows
/// (3- and 2-pixel last blocks) and the sign CNN's 30- and 13-pixel rows (2 and 1), with the
/// shipped zero points (0 into the first layer, -128 after ReLU) and small multipliers.
#[test]
fn shipped_layers_one_output_row() {
    // (input rows, input width, in channels, out channels, kernel, stride, input zero point)
    let layers = [(5, 200, 3, 24, 5, 2, 0), (5, 98, 24, 36, 5, 2, -128), (5, 47, 36, 48, 5, 2, -128), (3, 32, 3, 32, 3, 1, 0), (3, 15, 32, 64, 3, 1, -128)];
    let mut rng = Rng::new(0x5_4195);
    for (h, w, ic, oc, k, s, in_zp) in layers {
        for _ in 0..3 {
            let case = ConvCase {
                h,
                w,
                ic,
                oc,
                k: (k, k),
                s: (s, s),
                pads: Pads::default(),
                in_zp,
                out_zp: -128,
                relu: true,
                mults: (0..oc).map(|_| rng.range(8, 128) as i32).collect(),
                biases: (0..oc).map(|_| rng.range(-(1 << 14), 1 << 14) as i32).collect(),
                seed: rng.next_u64(),
            };
            check_conv(case).unwrap();
        }
    }
}

/// Depthwise-separable blocks of a small real-time network (3x3 depthwise, "same" padding,
/// stride 1 and 2, then a 1x1 convolution), with realistic tables (ReLU at zero point -128),
/// on whole tensors and streamed.
#[test]
fn depthwise_separable_blocks() {
    use common::format::Padding;
    use common::testing::{ModelBuilder, Tables};
    for (h, w, c, s, out) in [(16, 48, 16, 1, 32), (16, 48, 32, 2, 32), (8, 24, 32, 1, 64), (5, 7, 6, 2, 3)] {
        let input = InputSpec { shape: Shape::new(h, w, c), quant: QParams { scale_exp: -4, zero_point: -128 }, preprocess: None };
        let mut b = ModelBuilder::new("block", Task::Regression, input, Rng::new(h as u64 * 1000 + c as u64), Tables::Realistic);
        b.depthwise(Window::padded(Padding::Same, h, w, (3, 3), (s, s)), true);
        b.conv(out, Window::square(1, 1, Pads::default()), true);
        let blob = b.build().to_bytes();
        let x = bytes(c as u64, Shape::new(h, w, c).len());
        same_as_reference(&blob, &x).unwrap();
        assert_eq!(streamed_same_as_reference(&blob, &x).unwrap(), 2);
    }
}

/// Requantization at and around every kind of rounding tie and the saturation edges.
#[test]
fn requantize_ties_and_edges() {
    let mut n = 0;
    for b in 0..31 {
        let m = 1i32 << b;
        // acc * 2^b has remainder 0x8000 exactly when acc = (2j + 1) * 2^(15 - b).
        let unit = if b <= 15 { 1i64 << (15 - b) } else { 1 };
        for j in -300i64..300 {
            for d in [-1, 0, 1] {
                let acc = ((2 * j + 1) * unit + d).clamp(i32::MIN as i64, i32::MAX as i64) as i32;
                for zp in [-128i8, -1, 0, 5, 127] {
                    for relu in [false, true] {
                        let lo = common::quant::lower_clamp(relu, zp);
                        let want = common::quant::requantize(acc, m, zp, lo);
                        assert_eq!(kernels::requant::requantize(acc, m, zp as i32, lo as i32), want, "acc {acc} m {m} zp {zp} relu {relu}");
                        if m < 1 << 15 {
                            assert_eq!(
                                kernels::requant::requantize_fast(acc, m << 16, zp as i32, lo as i32),
                                want,
                                "fast: acc {acc} m {m} zp {zp} relu {relu}"
                            );
                        }
                        n += 1;
                    }
                }
            }
        }
    }
    for acc in [i32::MIN, i32::MIN + 1, -1, 0, 1, i32::MAX] {
        for m in [1, 2, 0xFFFF, 0x10000, 0x10001, i32::MAX] {
            assert_eq!(kernels::requant::requantize(acc, m, 0, -128), common::quant::requantize(acc, m, 0, -128));
        }
        for m in [1, 2, 0x7FFE, 0x7FFF] {
            assert_eq!(kernels::requant::requantize_fast(acc, m << 16, 0, -128), common::quant::requantize(acc, m, 0, -128));
        }
    }
    assert!(n > 500_000);
}

/// Whole random models (conv, depthwise, pools, flatten, dense in sequence), layer by layer,
/// on whole tensors and streamed in row bands.
#[test]
fn random_models_match_layer_by_layer() {
    let mut rng = Rng::new(0xD5B_0001);
    let wide = RandomModelOptions { max_hw: 16, max_channels: 16, max_multiplier: i32::MAX, ..Default::default() };
    for i in 0..400 {
        let opts = if i % 2 == 0 { RandomModelOptions::default() } else { wide.clone() };
        let blob = random_model(&mut rng, &opts).to_bytes();
        let n = Model::parse(&blob).unwrap().input().shape.len();
        let input = rng.i8s(n);
        if let Err(e) = same_as_reference(&blob, &input).and_then(|_| streamed_same_as_reference(&blob, &input)) {
            panic!("random model {i}: {e}");
        }
    }
}

/// The two shipped test-vector models, on a few random inputs.
#[test]
fn test_vector_models_match() {
    for name in ["pilotnet-random.pnn8", "sign-random.pnn8"] {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/testvectors/");
        let blob = std::fs::read(format!("{path}{name}")).unwrap();
        let n = Model::parse(&blob).unwrap().input().shape.len();
        for seed in 0..2 {
            same_as_reference(&blob, &bytes(seed, n)).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}
