//! `pilot eval`: a trained model's metrics on a data set.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::train::{load_classification, load_driving, split_options, DataKind, LabelDefaults};
use crate::data::{ClassificationData, DrivingData, Examples};
use crate::train::checkpoint::RunDir;
use crate::train::target::argmax;
use crate::train::{evaluate, for_each_batch, infer_device, RegressionLoss};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  pilot eval --model runs/sign                       the validation split it was trained with
  pilot eval --model runs/sign --data GTSRB_test/ --all   every image of another set")]
pub struct EvalArgs {
    /// A training run's folder (written by `pilot train`).
    #[arg(long)]
    pub model: PathBuf,
    /// Data to evaluate on (default: the data the model was trained on).
    #[arg(long, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Evaluate every example instead of the validation split (same seed and fraction as training).
    #[arg(long)]
    pub all: bool,
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
}

pub fn run(args: EvalArgs) -> Result<()> {
    let run = RunDir::new(&args.model);
    let spec = run.spec()?;
    let meta = run.meta()?;
    let net = run.load_best(&infer_device())?;
    let dirs: Vec<PathBuf> = if args.data.is_empty() { meta.data.iter().map(PathBuf::from).collect() } else { args.data.clone() };
    let kind = DataKind::parse(&meta.data_kind).with_context(|| format!("{}/meta.toml", run.dir.display()))?;
    let split_opts = split_options(meta.val_split, meta.seed);
    match kind {
        DataKind::Driving => {
            let data = load_driving(&dirs, &spec, LabelDefaults::of_run(&meta), None, true)?;
            let rows = if args.all { (0..data.len()).collect() } else { data.split(&split_opts)?.val };
            driving_report(&net, &data, &rows, args.batch);
        }
        _ => {
            let data = load_classification(kind, &dirs, &spec, false, true)?;
            let rows = if args.all { (0..data.len()).collect() } else { data.split(&split_opts)?.val };
            classification_report(&net, &data, &rows, args.batch);
        }
    }
    Ok(())
}

fn driving_report(net: &crate::nn::net::Net, data: &DrivingData, rows: &[usize], batch: usize) {
    let (mse, mae) = evaluate(net, data, rows, batch, RegressionLoss::Mse);
    let truth: Vec<f32> = rows.iter().map(|&i| data.rows()[i].steering).collect();
    let mean = truth.iter().sum::<f32>() / truth.len().max(1) as f32;
    let n = truth.len().max(1) as f64;
    let mae_of = |p: f32| truth.iter().map(|t| (t - p).abs() as f64).sum::<f64>() / n;
    let mse_of = |p: f32| truth.iter().map(|t| ((t - p) as f64).powi(2)).sum::<f64>() / n;
    println!("{} frames", rows.len());
    println!("{:<28} {:>8} {:>8}", "predictor", "MAE", "MSE");
    println!("{:<28} {:>8.4} {:>8.4}", "network", mae, mse);
    println!("{:<28} {:>8.4} {:>8.4}", "always 0", mae_of(0.0), mse_of(0.0));
    println!("{:<28} {:>8.4} {:>8.4}", format!("always the mean ({mean:.3})"), mae_of(mean), mse_of(mean));
}

fn classification_report(net: &crate::nn::net::Net, data: &ClassificationData, rows: &[usize], batch: usize) {
    let (loss, accuracy) = evaluate(net, data, rows, batch, RegressionLoss::Mse);
    let classes = data.num_classes();
    let predictions = predict_classes(net, data, rows, batch);
    let mut confusion = vec![vec![0usize; classes]; classes];
    for (&i, &p) in rows.iter().zip(&predictions) {
        confusion[data.labels()[i] as usize][p] += 1;
    }
    println!("{} images, accuracy {:.4}, cross-entropy {loss:.4}", rows.len(), accuracy);
    println!("per class (worst first):");
    let mut per: Vec<(usize, usize, f64)> = (0..classes)
        .map(|c| {
            let n: usize = confusion[c].iter().sum();
            (c, n, if n > 0 { confusion[c][c] as f64 / n as f64 } else { f64::NAN })
        })
        .filter(|(_, n, _)| *n > 0)
        .collect();
    per.sort_by(|a, b| a.2.total_cmp(&b.2));
    for (c, n, acc) in per.iter().take(10) {
        let (most, count) = confusion[*c].iter().enumerate().filter(|(j, _)| j != c).max_by_key(|(_, &v)| v).unwrap_or((0, &0));
        println!("  {:<32} {acc:>6.3} of {n:>5}  most confused with {} ({count})", data.class_names()[*c], data.class_names()[most]);
    }
}

/// Arg-max class of each example.
pub fn predict_classes(net: &crate::nn::net::Net, data: &ClassificationData, rows: &[usize], batch: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(rows.len());
    for_each_batch(net, data, rows, batch, |logits, _| {
        let k = logits.dims()[1];
        out.extend(logits.into_data().try_to_vec::<f32>().unwrap_or_default().chunks(k).map(argmax));
    });
    out
}
