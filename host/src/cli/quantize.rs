//! `pilot quantize`: post-training int8 quantization of a trained run.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use common::format::Task;
use common::Model;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::train::{load_classification, load_driving, split_options, DataKind, LabelDefaults};
use crate::data::{Examples, Rng, Split};
use crate::fsutil::atomic_write;
use crate::nn::net::{input_batch, Net};
use crate::quant::calibrate::{Observer, RangeMethod};
use crate::quant::{build, graph};
use crate::train::checkpoint::RunDir;
use crate::train::infer_device;
use crate::train::target::argmax;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  pilot quantize --model runs/sign --out runs/sign-int8
  pilot quantize --model runs/pilotnet --calib recordings/ --samples 1000 --range percentile --out runs/pilotnet-int8")]
pub struct QuantizeArgs {
    /// A training run's folder (written by `pilot train`).
    #[arg(long)]
    pub model: PathBuf,
    /// Calibration data (default: the data the model was trained on; its training split is used).
    #[arg(long, num_args = 1..)]
    pub calib: Vec<PathBuf>,
    /// Calibration examples.
    #[arg(long, default_value_t = 500)]
    pub samples: usize,
    /// How activation ranges are taken from calibration.
    #[arg(long, value_enum, default_value_t = RangeArg::Minmax)]
    pub range: RangeArg,
    /// Percentile for `--range percentile`.
    #[arg(long, default_value_t = 99.99)]
    pub percentile: f64,
    /// Validation examples for the float vs int8 comparison (default: the whole validation split).
    #[arg(long)]
    pub eval_samples: Option<usize>,
    /// Output folder: model.pnn8 (the int8 blob) and quant.toml (the report).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RangeArg {
    Minmax,
    Percentile,
}

/// The float vs int8 comparison, as written to quant.toml.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QuantReport {
    pub float_run: String,
    pub calibration_samples: usize,
    pub range: String,
    pub eval_samples: usize,
    pub metric: String,
    pub float: f64,
    pub int8: f64,
    /// Classification: share of examples where float and int8 predict the same class.
    /// Regression: mean |float - int8| of the outputs.
    pub agreement: f64,
}

pub fn run(args: QuantizeArgs) -> Result<()> {
    let run = RunDir::new(&args.model);
    let spec = run.spec()?;
    let meta = run.meta()?;
    let device = infer_device();
    let net = run.load_best(&device)?;
    let dirs: Vec<PathBuf> = if args.calib.is_empty() { meta.data.iter().map(PathBuf::from).collect() } else { args.calib.clone() };
    let kind = DataKind::parse(&meta.data_kind).with_context(|| format!("{}/meta.toml", run.dir.display()))?;
    let method = match args.range {
        RangeArg::Minmax => RangeMethod::MinMax,
        RangeArg::Percentile => RangeMethod::Percentile(args.percentile),
    };
    let report = match kind {
        DataKind::Driving => {
            let data = load_driving(&dirs, &spec, LabelDefaults::of_run(&meta), None, true)?;
            let split = data.split(&split_options(meta.val_split, meta.seed))?;
            quantize(&args, &run, &spec, &net, &data, &split, method, |out: &[f32], t: f32| (out[0] - t).abs() as f64, "mae")?
        }
        _ => {
            let data = load_classification(kind, &dirs, &spec, false, true)?;
            let split = data.split(&split_options(meta.val_split, meta.seed))?;
            quantize(&args, &run, &spec, &net, &data, &split, method, |out: &[f32], t: u16| (argmax(out) == t as usize) as u8 as f64, "accuracy")?
        }
    };
    atomic_write(&args.out.join("quant.toml"), toml::to_string_pretty(&report)?.as_bytes())?;
    println!("{:<10} {:>10} {:>10} {:>10}", report.metric, "float", "int8", "change");
    let change = if report.metric == "mae" { format!("{:+.1}%", 100.0 * (report.int8 / report.float - 1.0)) } else { format!("{:+.2} pt", 100.0 * (report.int8 - report.float)) };
    println!("{:<10} {:>10.4} {:>10.4} {:>10}", format!("({})", report.eval_samples), report.float, report.int8, change);
    if report.metric == "accuracy" {
        println!("float and int8 predict the same class for {:.2}% of examples", 100.0 * report.agreement);
    } else {
        println!("mean |float - int8| output difference {:.5}", report.agreement);
    }
    println!("int8 model: {}", args.out.join("model.pnn8").display());
    Ok(())
}

fn quantize<D: Examples>(
    args: &QuantizeArgs,
    run: &RunDir,
    spec: &crate::nn::spec::NetSpec,
    net: &Net,
    data: &D,
    split: &Split,
    method: RangeMethod,
    score: impl Fn(&[f32], D::Target) -> f64 + Sync,
    metric: &str,
) -> Result<QuantReport>
where
    D::Target: crate::train::Target,
{
    let meta = run.meta()?;
    let device = infer_device();
    let shape = data.input().shape;
    let scale_exp = data.input().quant.scale_exp;
    let graph = graph::extract(net, &spec.resolve()?)?;

    // Calibration: a random sample of the training split, as recorded (no augmentation).
    let mut calib = split.train.clone();
    Rng::new(meta.seed ^ 0xCA11B).shuffle(&mut calib);
    calib.truncate(args.samples.max(1));
    let mut observer = Observer::new(graph.len(), method);
    let n_in = shape.len();
    for chunk in calib.chunks(64) {
        let (mut x, mut y) = (vec![0i8; chunk.len() * n_in], vec![D::Target::default(); chunk.len()]);
        data.fill_batch(chunk, 0, false, &mut x, &mut y);
        observer.observe(net, &graph, &x, shape, scale_exp, &device);
    }
    let owned = build(&spec.name, spec.task(), spec.input_spec(), &graph, &observer, method)?;
    let blob = owned.to_bytes();
    atomic_write(&args.out.join("model.pnn8"), &blob)?;

    // Float vs int8 on the validation split.
    let mut val = split.val.clone();
    if let Some(n) = args.eval_samples {
        // A random subset: the split is sorted, and image folders are sorted by class.
        Rng::new(meta.seed ^ 0xE7A1).shuffle(&mut val);
        val.truncate(n);
    }
    let model = Model::parse(&blob)?;
    let out_q = model.output().quant;
    let (mut float_sum, mut int8_sum, mut agree_sum) = (0.0, 0.0, 0.0);
    for chunk in val.chunks(64) {
        let (mut x, mut y) = (vec![0i8; chunk.len() * n_in], vec![D::Target::default(); chunk.len()]);
        data.fill_batch(chunk, 0, false, &mut x, &mut y);
        let float_out = net.forward(input_batch(&x, shape, scale_exp, &device));
        let k = float_out.dims()[1];
        let float_out: Vec<f32> = float_out.into_data().try_to_vec::<f32>().unwrap_or_default();
        let int8_out: Vec<Vec<f32>> = x
            .par_chunks(n_in)
            .map(|input| {
                let mut arena = vec![0i8; model.plan().arena_bytes()];
                let q = common::run(&model, input, &mut arena).expect("a validated model runs");
                q.iter().map(|&v| (v as i32 - out_q.zero_point as i32) as f32 * (out_q.scale_exp as f32).exp2()).collect()
            })
            .collect();
        for ((f, i), &t) in float_out.chunks(k).zip(&int8_out).zip(&y) {
            float_sum += score(f, t);
            int8_sum += score(i, t);
            agree_sum += match spec.task() {
                Task::Classification => (argmax(f) == argmax(i)) as u8 as f64,
                Task::Regression => (f[0] - i[0]).abs() as f64,
            };
        }
    }
    let n = val.len().max(1) as f64;
    Ok(QuantReport {
        float_run: run.dir.display().to_string(),
        calibration_samples: calib.len(),
        range: match method {
            RangeMethod::MinMax => "minmax".into(),
            RangeMethod::Percentile(p) => format!("percentile {p}"),
        },
        eval_samples: val.len(),
        metric: metric.into(),
        float: float_sum / n,
        int8: int8_sum / n,
        agreement: agree_sum / n,
    })
}
