//! The board timing model's instruction count against the firmware's own in QEMU: for the
//! shipped PilotNet and sign CNN and for random models, `common::board::cost::FrameCost`
//! predicts the network, preprocessing and every layer as the QEMU application logs them
//! (SysTick under `-icount shift=0`, one synthetic frame).
//!
//! Tolerances: the shipped models' network within 0.5 % (the log reads the clock in
//! 40-instruction ticks), preprocessing within 1.5 % (fastnet's takes the fast path, whose
//! costs are fitted: the last refit leaves it 1.2 % off), a layer within 0.5 % or 300
//! instructions (a small layer is
//! mostly the kernels' bookkeeping, whose costs are fitted: see
//! `common/src/board/cost/events.rs`; the last refit leaves up to ~250 on a dense layer);
//! random models within 3 % or 2,000 instructions for the network and a layer, and 7 % or
//! 1,500 for preprocessing (the refit's worst preprocessing residuals are about 6 %, on
//! crops of the fast path with few output pixels).

use std::path::Path;

use common::board::cost::FrameCost;
use common::plan::CameraPlan;
use common::preprocess::{ColorMode, PixelFormat, Preprocess, Rect};
use common::testing::{random_model, RandomModelOptions, Rng};
use common::Model;

/// What the firmware logged for its one synthetic frame.
struct Logged {
    network: u64,
    preprocess: u64,
    layers: Vec<u64>,
}

/// Builds and runs the firmware for `blob` on its synthetic frame; returns its cost record.
fn measure(blob: &[u8], dir: &Path) -> Logged {
    let path = dir.join("model.pnn8");
    std::fs::write(&path, blob).unwrap();
    let elf = host::qemu::build(&path, &dir.join("firmware.elf")).unwrap_or_else(|e| panic!("{e:#}"));
    let run = host::qemu::run_synthetic(&elf, "mps2-an386").unwrap_or_else(|e| panic!("{e:#}"));
    let c = run.costs.first().expect("one frame's cost record");
    Logged { network: c.network, preprocess: c.preprocess, layers: c.layers.iter().map(|&v| v as u64).collect() }
}

/// `got` within `rel` (a fraction) of `want`, or within `abs` instructions.
fn close(got: u64, want: u64, rel: f64, abs: u64) -> bool {
    let diff = got.abs_diff(want);
    diff <= abs || diff as f64 <= rel * want as f64
}

struct Tolerance {
    network: (f64, u64),
    layer: (f64, u64),
    preprocess: (f64, u64),
}

const SHIPPED: Tolerance = Tolerance { network: (0.005, 200), layer: (0.005, 300), preprocess: (0.015, 200) };
const RANDOM: Tolerance = Tolerance { network: (0.03, 2000), layer: (0.03, 2000), preprocess: (0.07, 1500) };

/// Compares the prediction with the firmware's log; returns the failures, prints the table.
fn compare(name: &str, blob: &[u8], tol: &Tolerance) -> Vec<String> {
    let model = Model::parse(blob).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let got = measure(blob, dir.path());
    let cost = FrameCost::of(&model, None);
    let mut failures = Vec::new();
    let mut check = |what: String, predicted: u64, measured: u64, (rel, abs): (f64, u64)| {
        let pct = 100.0 * (predicted as f64 - measured as f64) / measured.max(1) as f64;
        println!("  {what:<22} predicted {predicted:>11} measured {measured:>11} ({pct:+.3} %)");
        if !close(predicted, measured, rel, abs) {
            failures.push(format!("{name} {what}: predicted {predicted}, measured {measured} ({pct:+.2} %)"));
        }
    };
    println!("{name}:");
    check("network".into(), cost.network().total(), got.network, tol.network);
    check("preprocessing".into(), cost.preprocess.total(), got.preprocess, tol.preprocess);
    assert_eq!(got.layers.len(), model.layers().len());
    for (i, node) in model.layers().iter().enumerate() {
        check(format!("{} ({})", node.name, node.layer.op_name()), cost.layer(i).total(), got.layers[i], tol.layer);
    }
    failures
}

fn shipped(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

#[test]
fn the_cost_model_matches_the_firmware_for_the_shipped_models() {
    let mut failures = compare("pilotnet", &shipped("pilotnet/pilotnet.pnn8"), &SHIPPED);
    failures.extend(compare("fastnet", &shipped("fastnet/fastnet.pnn8"), &SHIPPED));
    failures.extend(compare("sign", &shipped("sign/sign.pnn8"), &SHIPPED));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A random model the QEMU application can run: one or three input channels behind a random
/// camera spec (frame size, crop, pixel format, colour), small enough for the chip. Half the
/// specs crop a whole multiple (1 to 4) of the input along each axis: preprocessing's fast
/// path. Depthwise layers come in, with realistic multipliers (below 2^15: the kernels' fast
/// requantization) in two of the four option sets.
fn random_camera_model(seed: u64) -> Vec<u8> {
    let options = [
        RandomModelOptions::default(),
        RandomModelOptions { max_hw: 32, max_channels: 24, max_kernel: 5, max_conv_layers: 4, max_multiplier: 1 << 14, ..Default::default() },
        RandomModelOptions { max_hw: 48, max_channels: 90, max_kernel: 5, max_conv_layers: 3, ..Default::default() },
        RandomModelOptions { max_hw: 40, max_channels: 40, max_kernel: 3, max_conv_layers: 4, max_multiplier: 1 << 14, ..Default::default() },
    ];
    let opts = &options[seed as usize % options.len()];
    for attempt in 0.. {
        let mut rng = Rng::new(seed * 1_000_003 + attempt);
        let mut m = random_model(&mut rng, opts);
        let s = m.input.shape;
        if s.c != 1 && s.c != 3 {
            continue;
        }
        let (fw, fh, crop) = if rng.bool() {
            let (cw, ch) = (s.w * rng.range(1, 4) as u16, s.h * rng.range(1, 4) as u16);
            let (fw, fh) = (cw + rng.range(0, s.w as i64) as u16, ch + rng.range(0, s.h as i64) as u16);
            (fw, fh, Rect { x: rng.range(0, (fw - cw) as i64) as u16, y: rng.range(0, (fh - ch) as i64) as u16, w: cw, h: ch })
        } else {
            let (fw, fh) = (s.w + rng.range(0, 2 * s.w as i64) as u16, s.h + rng.range(0, 2 * s.h as i64) as u16);
            let (cw, ch) = (rng.range(1, fw as i64) as u16, rng.range(1, fh as i64) as u16);
            (fw, fh, Rect { x: rng.range(0, (fw - cw) as i64) as u16, y: rng.range(0, (fh - ch) as i64) as u16, w: cw, h: ch })
        };
        let format = [PixelFormat::Rgb888, PixelFormat::Rgb565Be, PixelFormat::Rgb565Le][rng.range(0, 2) as usize];
        let color = match (s.c, rng.bool()) {
            (1, _) => ColorMode::Gray,
            (_, true) => ColorMode::Rgb,
            _ => ColorMode::Yuv,
        };
        m.input.preprocess = Some(Preprocess { frame_w: fw, frame_h: fh, format, crop, color });
        let bytes = m.to_bytes();
        let fits = match Model::parse(&bytes) {
            Ok(model) => CameraPlan::of(&model).arena_bytes() <= 100_000 && bytes.len() <= 400_000 && !model.layers().is_empty(),
            Err(_) => false,
        };
        if fits {
            return bytes;
        }
    }
    unreachable!()
}

#[test]
fn the_cost_model_matches_the_firmware_for_random_models() {
    let n: u64 = std::env::var("PILOT_E2E_TIMING_MODELS").map(|v| v.parse().expect("a model count")).unwrap_or(8);
    let mut failures = Vec::new();
    for seed in 0..n {
        failures.extend(compare(&format!("random {seed}"), &random_camera_model(7000 + seed), &RANDOM));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Events per charge bucket of one frame: layers, then preprocessing, then the stream's rest.
struct Buckets {
    pending: Vec<f64>,
    rows: Vec<Vec<f64>>,
    layers: usize,
}

impl common::board::cost::Ledger for Buckets {
    fn add(&mut self, e: Event, n: u64) {
        self.pending[e as usize] += n as f64;
    }

    fn charge(&mut self, to: Charge) {
        let i = match to {
            Charge::Layer(i) => i,
            Charge::Preprocess => self.layers,
            Charge::Streamed | Charge::Tail => self.layers + 1,
        };
        for (a, b) in self.rows[i].iter_mut().zip(&self.pending) {
            *a += b;
        }
        self.pending.iter_mut().for_each(|v| *v = 0.0);
    }
}

use common::board::cost::{walk, Charge, Event};

/// Solves the least-squares problem `min |W (A x - y)|` with `x >= 0` for the columns in
/// `free` (the others fixed at zero): normal equations, dropping the most negative column
/// until none is.
fn nonnegative_least_squares(a: &[Vec<f64>], y: &[f64], w: &[f64], mut free: Vec<usize>) -> Vec<f64> {
    let n = a[0].len();
    loop {
        let k = free.len();
        let mut m = vec![vec![0.0; k + 1]; k];
        for ((row, &yi), &wi) in a.iter().zip(y).zip(w) {
            for (p, &i) in free.iter().enumerate() {
                for (q, &j) in free.iter().enumerate() {
                    m[p][q] += wi * row[i] * row[j];
                }
                m[p][k] += wi * row[i] * yi;
            }
        }
        for (p, r) in m.iter_mut().enumerate() {
            r[p] += 1e-9 * (1.0 + r[p]);
        }
        // Gauss-Jordan with partial pivoting.
        for c in 0..k {
            let piv = (c..k).max_by(|&i, &j| m[i][c].abs().total_cmp(&m[j][c].abs())).unwrap();
            m.swap(c, piv);
            let d = m[c][c];
            for v in m[c].iter_mut() {
                *v /= d;
            }
            for r in 0..k {
                if r != c {
                    let f = m[r][c];
                    let row_c = m[c].clone();
                    for (v, rc) in m[r].iter_mut().zip(row_c) {
                        *v -= f * rc;
                    }
                }
            }
        }
        let sol: Vec<f64> = (0..k).map(|p| m[p][k]).collect();
        let (worst, min) = sol.iter().enumerate().fold((0, 0.0), |acc, (p, &v)| if v < acc.1 { (p, v) } else { acc });
        if min >= 0.0 {
            let mut x = vec![0.0; n];
            for (p, &i) in free.iter().enumerate() {
                x[i] = sol[p];
            }
            return x;
        }
        free.remove(worst);
    }
}

/// Re-derives the fitted costs of `common/src/board/cost/events.rs` (`fit(...)`) from fresh
/// measurements: the shipped models and `PILOT_E2E_REFIT_MODELS` (default 80) random ones,
/// every layer's and the preprocessing's logged instructions against their events, the
/// counted costs held fixed. Prints the new table and the worst residuals; paste the table
/// into `events.rs` after a kernel or compiler change. About 10 minutes.
///
/// `cargo test --release -p e2e --test timing -- --ignored --nocapture refit`
#[test]
#[ignore]
fn refit_the_fitted_event_costs() {
    let n: u64 = std::env::var("PILOT_E2E_REFIT_MODELS").map(|v| v.parse().expect("a model count")).unwrap_or(80);
    let mut blobs = vec![shipped("pilotnet/pilotnet.pnn8"), shipped("fastnet/fastnet.pnn8"), shipped("sign/sign.pnn8")];
    blobs.extend((0..n).map(|s| random_camera_model(9000 + s)));
    let fitted: Vec<usize> = Event::ALL.iter().filter(|e| e.is_fitted()).map(|&e| e as usize).collect();
    let (mut a, mut y, mut tags) = (Vec::new(), Vec::new(), Vec::new());
    for (k, blob) in blobs.iter().enumerate() {
        let model = Model::parse(blob).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let got = measure(blob, dir.path());
        let layers = model.layers().len();
        let mut b = Buckets { pending: vec![0.0; Event::ALL.len()], rows: vec![vec![0.0; Event::ALL.len()]; layers + 2], layers };
        walk(&model, None, &mut b);
        let mut push = |row: Vec<f64>, measured: u64, tag: String| {
            // Take the counted events' instructions off the measurement.
            let counted: f64 = Event::ALL.iter().filter(|e| !e.is_fitted()).map(|&e| row[e as usize] * e.sixteenths() as f64 / 16.0).sum();
            a.push(row);
            y.push(measured as f64 - counted);
            tags.push((tag, measured));
        };
        for i in 0..layers {
            push(b.rows[i].clone(), got.layers[i], format!("model {k} layer {i}"));
        }
        push(b.rows[layers].clone(), got.preprocess, format!("model {k} preprocessing"));
        let total: Vec<f64> = (0..Event::ALL.len()).map(|e| (0..layers).chain([layers + 1]).map(|i| b.rows[i][e]).sum()).collect();
        push(total, got.network, format!("model {k} network"));
        eprintln!("measured model {k} of {}", blobs.len());
    }
    let w: Vec<f64> = tags.iter().map(|(_, m)| 1.0 / (2000.0 + *m as f64)).collect();
    let used: Vec<usize> = fitted.iter().copied().filter(|&i| a.iter().any(|r| r[i] != 0.0)).collect();
    let x = nonnegative_least_squares(&a, &y, &w, used);
    println!("fitted costs (instructions per event):");
    for &i in &fitted {
        let e = Event::ALL[i];
        println!("    {} = {:?}, fit({:?});", e.name(), e.region(), (x[i] * 16.0).round() / 16.0);
    }
    let mut res: Vec<(f64, usize)> = a.iter().zip(&y).enumerate().map(|(k, (r, yi))| ((r.iter().zip(&x).map(|(p, q)| p * q).sum::<f64>() - yi), k)).collect();
    res.sort_by(|p, q| q.0.abs().total_cmp(&p.0.abs()));
    println!("worst residuals:");
    for (d, k) in res.iter().take(15) {
        println!("  {:<28} measured {:>11} off by {:>9.0} ({:+.2} %)", tags[*k].0, tags[*k].1, d, 100.0 * d / tags[*k].1.max(1) as f64);
    }
}
