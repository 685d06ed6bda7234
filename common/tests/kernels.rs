//! Reference kernels against naive float computations of the same integer math, with the
//! padding made explicit (a padded copy of the input) instead of skipped, on random shapes.

use common::format::owned::{OwnedConv, OwnedDense, OwnedDepthwise, OwnedLayer, OwnedModel, OwnedNode};
use common::format::{InputSpec, Padding, Pads, Pool, QParams, Task, Window};
use common::testing::Rng;
use common::{Model, Shape};
use proptest::prelude::*;

fn single_layer(input: Shape, in_q: QParams, layer: OwnedLayer) -> OwnedModel {
    OwnedModel {
        name: "t".into(),
        task: Task::Regression,
        input: InputSpec { shape: input, quant: in_q, preprocess: None },
        layers: vec![OwnedNode { name: "l".into(), layer }],
    }
}

fn run(owned: &OwnedModel, input: &[i8]) -> (Vec<i8>, Shape) {
    let bytes = owned.to_bytes();
    let model = Model::parse(&bytes).expect("valid model");
    let mut arena = vec![0i8; model.plan().arena_bytes()];
    (common::run(&model, input, &mut arena).unwrap().to_vec(), model.output().shape)
}

/// Random multipliers, half of them powers of two so exact ties (x.5) occur often.
fn multiplier(rng: &mut Rng) -> i32 {
    if rng.bool() {
        1 << rng.range(10, 16)
    } else {
        rng.range(1, 1 << 17) as i32
    }
}

fn requant_f64(acc: f64, m: i32, zp: i8, lo: i8) -> i8 {
    ((acc * m as f64 / 65536.0).round_ties_even() + zp as f64).clamp(lo as f64, 127.0) as i8
}

/// `x - zp` as f64 in a zero-padded HWC grid.
fn padded(x: &[i8], s: Shape, zp: i8, p: Pads) -> (Vec<Option<f64>>, usize, usize) {
    let (ph, pw) = (s.h as usize + p.top as usize + p.bottom as usize, s.w as usize + p.left as usize + p.right as usize);
    let c = s.c as usize;
    let mut g = vec![None; ph * pw * c];
    for y in 0..s.h as usize {
        for xx in 0..s.w as usize {
            for ch in 0..c {
                let v = x[(y * s.w as usize + xx) * c + ch] as f64 - zp as f64;
                g[((y + p.top as usize) * pw + xx + p.left as usize) * c + ch] = Some(v);
            }
        }
    }
    (g, ph, pw)
}

/// A depthwise layer of random tables on `shape` against the definition computed in f64 on a
/// padded copy of the input: channel `ch` of output `(oy, ox)` is `bias + sum over the window
/// of w[ky][kx][ch] * (x - zp)`, then requantized.
fn check_depthwise(window: Window, shape: Shape, relu: bool, seed: u64) -> Result<(), TestCaseError> {
    let mut rng = Rng::new(seed);
    let in_q = QParams { scale_exp: -3, zero_point: rng.i8() };
    let out_q = QParams { scale_exp: -2, zero_point: rng.i8() };
    let (kh, kw, c) = (window.kernel_h as usize, window.kernel_w as usize, shape.c as usize);
    let dw = OwnedDepthwise {
        window,
        relu,
        output: out_q,
        weights: rng.i8s(kh * kw * c),
        bias: (0..c).map(|_| rng.range(-50_000, 50_000) as i32).collect(),
        multipliers: (0..c).map(|_| multiplier(&mut rng)).collect(),
    };
    let x = rng.i8s(shape.len());
    let (got, os) = run(&single_layer(shape, in_q, OwnedLayer::Depthwise(dw.clone())), &x);
    prop_assert_eq!(os.c, shape.c);
    let (g, _, pw) = padded(&x, shape, in_q.zero_point, window.pads);
    let lo = if relu { out_q.zero_point } else { -128 };
    let (sh, sw) = (window.stride_h as usize, window.stride_w as usize);
    let mut want = Vec::new();
    for oy in 0..os.h as usize {
        for ox in 0..os.w as usize {
            for ch in 0..c {
                let mut acc = dw.bias[ch] as f64;
                for ky in 0..kh {
                    for kx in 0..kw {
                        let v = g[((oy * sh + ky) * pw + ox * sw + kx) * c + ch].unwrap_or(0.0);
                        acc += dw.weights[(ky * kw + kx) * c + ch] as f64 * v;
                    }
                }
                want.push(requant_f64(acc, dw.multipliers[ch], out_q.zero_point, lo));
            }
        }
    }
    prop_assert_eq!(got, want);
    Ok(())
}

prop_compose! {
    fn window()(kh in 1u8..=4, kw in 1u8..=4, sh in 1u8..=3, sw in 1u8..=3)
        (kh in Just(kh), kw in Just(kw), sh in Just(sh), sw in Just(sw),
         pads in (0..kh, 0..kw, 0..kh, 0..kw),
         h in kh as u16..14, w in kw as u16..14) -> (u8, u8, u8, u8, Pads, u16, u16) {
        (kh, kw, sh, sw, Pads { top: pads.0, left: pads.1, bottom: pads.2, right: pads.3 }, h, w)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn conv2d_matches_naive((kh, kw, sh, sw, pads, h, w) in window(), c in 1u16..6, oc in 1u16..6,
                            relu in any::<bool>(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let shape = Shape::new(h, w, c);
        let in_q = QParams { scale_exp: -3, zero_point: rng.i8() };
        let out_q = QParams { scale_exp: -2, zero_point: rng.i8() };
        let k = kh as usize * kw as usize * c as usize;
        let conv = OwnedConv {
            out_channels: oc, window: Window { kernel_h: kh, kernel_w: kw, stride_h: sh, stride_w: sw, pads }, relu, output: out_q,
            weights: rng.i8s(oc as usize * k),
            bias: (0..oc).map(|_| rng.range(-50_000, 50_000) as i32).collect(),
            multipliers: (0..oc).map(|_| multiplier(&mut rng)).collect(),
        };
        let x = rng.i8s(shape.len());
        let (got, os) = run(&single_layer(shape, in_q, OwnedLayer::Conv2d(conv.clone())), &x);

        let (g, _, pw) = padded(&x, shape, in_q.zero_point, pads);
        let lo = if relu { out_q.zero_point } else { -128 };
        let mut want = Vec::new();
        for oy in 0..os.h as usize {
            for ox in 0..os.w as usize {
                for o in 0..oc as usize {
                    let mut acc = conv.bias[o] as f64;
                    for ky in 0..kh as usize {
                        for kx in 0..kw as usize {
                            for ch in 0..c as usize {
                                let v = g[((oy * sh as usize + ky) * pw + ox * sw as usize + kx) * c as usize + ch].unwrap_or(0.0);
                                acc += conv.weights[((o * kh as usize + ky) * kw as usize + kx) * c as usize + ch] as f64 * v;
                            }
                        }
                    }
                    want.push(requant_f64(acc, conv.multipliers[o], out_q.zero_point, lo));
                }
            }
        }
        prop_assert_eq!(os.h as usize, (h as usize + pads.top as usize + pads.bottom as usize - kh as usize) / sh as usize + 1);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn depthwise_matches_naive((kh, kw, sh, sw, pads, h, w) in window(), c in 1u16..10, relu in any::<bool>(), seed in any::<u64>()) {
        check_depthwise(Window { kernel_h: kh, kernel_w: kw, stride_h: sh, stride_w: sw, pads }, Shape::new(h, w, c), relu, seed)?;
    }

    /// "same" and "valid" padding (TensorFlow's rule), strides 1 and 2, up to 7x7 kernels.
    #[test]
    fn depthwise_same_and_valid_match_naive(k in 1u8..=7, s in 1u8..=2, same in any::<bool>(), h in 1u16..16, w in 1u16..16, c in 1u16..10,
                                            relu in any::<bool>(), seed in any::<u64>()) {
        let (h, w) = if same { (h, w) } else { (h.max(k as u16), w.max(k as u16)) };
        let window = Window::padded(if same { Padding::Same } else { Padding::Valid }, h, w, (k, k), (s, s));
        check_depthwise(window, Shape::new(h, w, c), relu, seed)?;
        // The output size TensorFlow gives: ceil(in / s) for same, ceil((in - k + 1) / s) for valid.
        let (oh, ow) = window.output(Shape::new(h, w, c)).unwrap();
        let want = |n: u16| if same { n.div_ceil(s as u16) } else { (n - k as u16 + 1).div_ceil(s as u16) };
        prop_assert_eq!((oh, ow), (want(h), want(w)));
    }

    #[test]
    fn dense_matches_naive(n_in in 1u16..300, n_out in 1u16..20, relu in any::<bool>(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let in_q = QParams { scale_exp: -3, zero_point: rng.i8() };
        let out_q = QParams { scale_exp: -2, zero_point: rng.i8() };
        let d = OwnedDense {
            out_features: n_out, relu, output: out_q,
            weights: rng.i8s(n_in as usize * n_out as usize),
            bias: (0..n_out).map(|_| rng.range(-50_000, 50_000) as i32).collect(),
            multipliers: (0..n_out).map(|_| multiplier(&mut rng)).collect(),
        };
        let x = rng.i8s(n_in as usize);
        let (got, _) = run(&single_layer(Shape::flat(n_in), in_q, OwnedLayer::Dense(d.clone())), &x);
        let lo = if relu { out_q.zero_point } else { -128 };
        let want: Vec<i8> = (0..n_out as usize).map(|o| {
            let acc: f64 = d.bias[o] as f64 + (0..n_in as usize)
                .map(|i| d.weights[o * n_in as usize + i] as f64 * (x[i] as f64 - in_q.zero_point as f64)).sum::<f64>();
            requant_f64(acc, d.multipliers[o], out_q.zero_point, lo)
        }).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn pools_match_naive((kh, kw, sh, sw, pads, h, w) in window(), c in 1u16..5, avg in any::<bool>(), seed in any::<u64>()) {
        let mut rng = Rng::new(seed);
        let shape = Shape::new(h, w, c);
        let in_q = QParams { scale_exp: -3, zero_point: rng.i8() };
        let pool = Pool { kernel_h: kh, kernel_w: kw, stride_h: sh, stride_w: sw, pads };
        let layer = if avg { OwnedLayer::AvgPool(pool) } else { OwnedLayer::MaxPool(pool) };
        let x = rng.i8s(shape.len());
        let (got, os) = run(&single_layer(shape, in_q, layer), &x);
        // Pools work on raw int8 values; the padded grid holds them shifted by the zero point.
        let (g, _, pw) = padded(&x, shape, 0, pads);
        let mut want = Vec::new();
        for oy in 0..os.h as usize {
            for ox in 0..os.w as usize {
                for ch in 0..c as usize {
                    let vals: Vec<f64> = (0..kh as usize).flat_map(|ky| (0..kw as usize).map(move |kx| (ky, kx)))
                        .filter_map(|(ky, kx)| g[((oy * sh as usize + ky) * pw + ox * sw as usize + kx) * c as usize + ch])
                        .collect();
                    prop_assert!(!vals.is_empty());
                    let v = if avg {
                        (vals.iter().sum::<f64>() / vals.len() as f64).round_ties_even()
                    } else {
                        vals.iter().cloned().fold(f64::MIN, f64::max)
                    };
                    want.push(v as i8);
                }
            }
        }
        prop_assert_eq!(got, want);
    }
}
