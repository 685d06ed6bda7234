//! `pilot bench train`: training throughput of PilotNet and the sign CNN (batch 64), as a
//! bare training step on ready tensors, and as a full epoch with data loading, augmentation
//! and preprocessing in the loop. `--vs-keras` runs host/scripts/keras_bench.py, which
//! alternates Keras / TF-CPU and this command's bare steps in one run and prints the ratios.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Distribution, Tensor};
use clap::{Args, ValueEnum};

use crate::data::{load_classification, load_driving, split_options, Balance, DataKind, Examples, LabelDefaults, Source};
use crate::nn::fast::layers::{time_convolutions, Ms};
use crate::nn::fast::Kernels;
use crate::nn::net::Net;
use crate::nn::spec::NetSpec;
use crate::train::checkpoint::RunDir;
use crate::train::{fit, train_device, FitOptions, TrainConfig};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  pilot bench train                                   bare steps; full epoch on a simulator recording
  pilot bench train --driving target/data/udacity-track1 --signs target/data/GTSRB
  pilot bench train --bare-only --kernels burn        burn's own convolutions, for comparison
  pilot bench train --vs-keras --rounds 5             Keras / TF-CPU and pilot alternately, ratios
  pilot bench train --layers                          time of each convolution pass of our kernels

--vs-keras needs python3 with TensorFlow (pip install tensorflow-cpu).")]
pub struct TrainBenchArgs {
    /// Driving recordings for the full-epoch number (default: a small simulator recording made
    /// in a temporary folder).
    #[arg(long)]
    pub driving: Option<PathBuf>,
    /// A GTSRB folder for the sign CNN's full-epoch number (skipped without it).
    #[arg(long)]
    pub signs: Option<PathBuf>,
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Timed training steps per measurement.
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Only the bare steps (no data loading, no simulator recording).
    #[arg(long)]
    pub bare_only: bool,
    /// The convolutions of the bare steps: ours (host/src/nn/fast) or burn's own.
    #[arg(long, value_enum, default_value_t = KernelChoice::Fast)]
    pub kernels: KernelChoice,
    /// Run host/scripts/keras_bench.py: Keras / TF-CPU and this command's bare steps in turn,
    /// images/s and the ratio per round.
    #[arg(long)]
    pub vs_keras: bool,
    /// Per convolution of both networks: our kernels' forward, input-gradient and
    /// weight-gradient times alone (ms per batch, GFLOP/s), then nothing else.
    #[arg(long)]
    pub layers: bool,
    /// Only this network's bare steps (with --bare-only; for profiling one network).
    #[arg(long, value_parser = ["pilotnet", "sign"], requires = "bare_only")]
    pub net: Option<String>,
    /// Rounds of --vs-keras.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    /// The Keras script for --vs-keras (default: the one in this source tree).
    #[arg(long)]
    pub keras_script: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KernelChoice {
    Fast,
    Burn,
}

impl From<KernelChoice> for Kernels {
    fn from(k: KernelChoice) -> Kernels {
        match k {
            KernelChoice::Fast => Kernels::Fast,
            KernelChoice::Burn => Kernels::Burn,
        }
    }
}

/// Images per second of the bare step: forward, backward and Adam on one random batch.
fn bare_step(spec: &NetSpec, batch: usize, steps: usize, kernels: Kernels) -> f64 {
    let device = train_device();
    let mut net = Net::new(&spec.resolve().expect("built-in architectures resolve"), &device);
    let mut optim = AdamConfig::new().init();
    let s = spec.input_shape();
    let outputs = spec.outputs().unwrap_or(1) as usize;
    let x = Tensor::<4>::random([batch, s.c as usize, s.h as usize, s.w as usize], Distribution::Default, &device);
    let y = Tensor::<2>::random([batch, outputs], Distribution::Default, &device);
    let mut step = |net: Net| {
        let loss = (net.forward_with(x.clone(), kernels) - y.clone()).powi_scalar(2).mean();
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        optim.step(1e-4, net, grads)
    };
    for _ in 0..2 {
        net = step(net); // warm-up
    }
    let start = Instant::now();
    for _ in 0..steps {
        net = step(net);
    }
    (steps * batch) as f64 / start.elapsed().as_secs_f64()
}

fn epoch_rate<D: Examples>(spec: &NetSpec, data: &D, rows: Vec<usize>, batch: usize) -> Result<f64>
where
    D::Target: crate::train::Target,
{
    let dir = tempfile::tempdir()?;
    let config = TrainConfig { epochs: 1, batch, lr: 1e-4, ..TrainConfig::new(Vec::new(), DataKind::Driving) };
    let report = fit(spec, data, |_| rows.clone(), &[], &RunDir::new(dir.path()), &config, &FitOptions::default())?;
    Ok(report.history.epochs[0].images_per_second)
}

/// Runs the Keras script with this executable as its `--pilot`.
fn vs_keras(args: &TrainBenchArgs) -> Result<()> {
    let script = args.keras_script.clone().unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/keras_bench.py"));
    if !script.is_file() {
        bail!("{} not found: give --keras-script PATH (the script is host/scripts/keras_bench.py in the source tree)", script.display());
    }
    let exe = std::env::current_exe().context("finding this executable for the Keras script")?;
    let status = Command::new("python3")
        .arg(&script)
        .args(["--rounds", &args.rounds.to_string(), "--batch", &args.batch.to_string(), "--steps", &args.steps.to_string()])
        .arg("--pilot")
        .arg(&exe)
        .status()
        .context("running python3 (needed for --vs-keras, with TensorFlow: pip install tensorflow-cpu)")?;
    if !status.success() {
        bail!("{} failed ({status}); it needs TensorFlow: pip install tensorflow-cpu", script.display());
    }
    Ok(())
}

/// Prints [`time_convolutions`] for both networks.
fn layers(args: &TrainBenchArgs) -> Result<()> {
    crate::nn::fast::keep_freed_memory();
    let threads = rayon::current_num_threads();
    println!("our convolution kernels, batch {}, {threads} threads: wall ms per batch (GFLOP/s) / CPU ms per batch (GFLOP/s per busy core)", args.batch);
    println!("{:<9} {:<28} {:>27} {:>27} {:>27}", "network", "layer", "forward", "input grad", "weight grad");
    for (name, spec) in [("pilotnet", NetSpec::load("pilotnet")?), ("sign", NetSpec::load("sign")?.with_classes(43))] {
        let (mut wall, mut cpu, mut macs) = (0.0, 0.0, 0.0);
        for t in time_convolutions(&spec.resolve()?, args.batch, args.steps) {
            let g = t.geom;
            let gflops = |ms: f64| 2.0 * t.macs() / (ms * 1e6);
            let cell = |m: Ms| format!("{:6.1} ({:5.1}) / {:6.1} ({:5.1})", m.wall, gflops(m.wall), m.cpu, gflops(m.cpu));
            let layer = format!("{}x{}x{} k{} s{} -> {}x{}x{}", g.c, g.h, g.w, g.kh, g.sh, g.o, g.oh, g.ow);
            println!("{name:<9} {layer:<28} {:>27} {:>27} {:>27}", cell(t.forward), cell(t.input_grad), cell(t.weight_grad));
            wall += t.forward.wall + t.input_grad.wall + t.weight_grad.wall;
            cpu += t.forward.cpu + t.input_grad.cpu + t.weight_grad.cpu;
            macs += 3.0 * t.macs();
        }
        let gflops = |ms: f64| 2.0 * macs / (ms * 1e6);
        println!("{name:<9} {:<28} {wall:6.1} ms ({:.1} GFLOP/s) / {cpu:6.1} CPU ms ({:.1} per core)", "all three passes", gflops(wall), gflops(cpu));
    }
    Ok(())
}

pub fn run(args: TrainBenchArgs) -> Result<()> {
    if args.vs_keras {
        return vs_keras(&args);
    }
    if args.layers {
        return layers(&args);
    }
    let kernels = Kernels::from(args.kernels);
    let threads = rayon::current_num_threads();
    let convs = match kernels {
        Kernels::Fast => "our convolutions (nn::fast)",
        Kernels::Burn => "burn's convolutions",
    };
    println!("burn 0.22.1 flex backend, {threads} threads, batch {}, {convs}", args.batch);
    if args.bare_only {
        println!("{:<10} {:>16}", "network", "bare step img/s");
        let wanted = |name: &str| args.net.as_deref().is_none_or(|n| n == name);
        if wanted("pilotnet") {
            let pilot = NetSpec::load("pilotnet")?;
            println!("{:<10} {:>16.0}", "pilotnet", bare_step(&pilot, args.batch, args.steps, kernels));
        }
        if wanted("sign") {
            let sign = NetSpec::load("sign")?.with_classes(43);
            println!("{:<10} {:>16.0}", "sign", bare_step(&sign, args.batch, args.steps * 4, kernels));
        }
        return Ok(());
    }
    println!("{:<10} {:>16} {:>22} {:>8}", "network", "bare step img/s", "epoch with data img/s", "ratio");

    let pilot = NetSpec::load("pilotnet")?;
    let bare = bare_step(&pilot, args.batch, args.steps, kernels);
    let tmp = tempfile::tempdir()?;
    let recording = match &args.driving {
        Some(d) => d.clone(),
        None => {
            let out = tmp.path().join("sim");
            let opts = crate::sim::record::RecordOptions {
                out: out.clone(),
                seeds: vec![1, 2],
                laps: 0.5,
                speed: crate::sim::vehicle::DEFAULT_SPEED,
                format: crate::sim::record::ImageFormat::Jpeg,
                force: false,
            };
            crate::sim::record::record(&opts, |_, _| {})?;
            out
        }
    };
    let source = |dirs: Vec<std::path::PathBuf>, kind| Source { dirs, kind, labels: LabelDefaults::UDACITY, augment: true, max_rows: None, progress: false };
    let data = load_driving(&source(vec![recording.clone()], DataKind::Driving), pilot.input_spec())?;
    let split = data.split(&split_options(0.0, 1))?;
    let mut rng = crate::data::Rng::new(1);
    let mut rows = data.epoch(&split.train, &Balance::default(), &mut rng);
    rows.truncate((args.steps * 2 * args.batch).min(rows.len()));
    let epoch = epoch_rate(&pilot, &data, rows, args.batch)?;
    println!("{:<10} {:>16.0} {:>22.0} {:>7.0}%   ({})", "pilotnet", bare, epoch, 100.0 * epoch / bare, recording.display());

    let sign = NetSpec::load("sign")?.with_classes(43);
    let bare = bare_step(&sign, args.batch, args.steps * 4, kernels);
    match &args.signs {
        Some(dir) => {
            let data = load_classification(&source(vec![dir.clone()], DataKind::Gtsrb), sign.input_spec())?;
            let rows: Vec<usize> = (0..data.len()).step_by((data.len() / (args.steps * 8 * args.batch)).max(1)).collect();
            let epoch = epoch_rate(&sign, &data, rows, args.batch)?;
            println!("{:<10} {:>16.0} {:>22.0} {:>7.0}%   ({})", "sign", bare, epoch, 100.0 * epoch / bare, dir.display());
        }
        None => println!("{:<10} {:>16.0} {:>22} {:>8}", "sign", bare, "(give --signs GTSRB)", ""),
    }
    Ok(())
}
