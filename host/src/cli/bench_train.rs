//! `pilot bench train`: training throughput of PilotNet and the sign CNN (batch 64), as a
//! bare training step on ready tensors, and as a full epoch with data loading, augmentation
//! and preprocessing in the loop.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Distribution, Tensor};
use clap::Args;

use crate::data::{load_classification, load_driving, split_options, Balance, DataKind, Examples, LabelDefaults, Source};
use crate::nn::net::Net;
use crate::nn::spec::NetSpec;
use crate::train::checkpoint::RunDir;
use crate::train::{fit, train_device, FitOptions, TrainConfig};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  pilot bench train                                   bare steps; full epoch on a simulator recording
  pilot bench train --driving target/data/udacity-track1 --signs target/data/GTSRB")]
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
}

/// Images per second of the bare step: forward, backward and Adam on one random batch.
fn bare_step(spec: &NetSpec, batch: usize, steps: usize) -> f64 {
    let device = train_device();
    let mut net = Net::new(&spec.resolve().expect("built-in architectures resolve"), &device);
    let mut optim = AdamConfig::new().init();
    let s = spec.input_shape();
    let outputs = spec.outputs().unwrap_or(1) as usize;
    let x = Tensor::<4>::random([batch, s.c as usize, s.h as usize, s.w as usize], Distribution::Default, &device);
    let y = Tensor::<2>::random([batch, outputs], Distribution::Default, &device);
    let mut step = |net: Net| {
        let loss = (net.forward(x.clone()) - y.clone()).powi_scalar(2).mean();
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

pub fn run(args: TrainBenchArgs) -> Result<()> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("burn {} flex backend, {threads} threads, batch {}", "0.22.1", args.batch);
    println!("{:<10} {:>16} {:>22} {:>8}", "network", "bare step img/s", "epoch with data img/s", "ratio");

    let pilot = NetSpec::load("pilotnet")?;
    let bare = bare_step(&pilot, args.batch, args.steps);
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
    let bare = bare_step(&sign, args.batch, args.steps * 4);
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
