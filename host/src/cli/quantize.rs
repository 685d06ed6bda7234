//! `pilot quantize`: int8 quantization of a trained run: post-training, and optionally
//! quantization-aware fine-tuning after it.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::quant::calibrate::RangeMethod;
pub use crate::quant::ptq::QuantReport;
use crate::quant::ptq::{quantize_run, PtqOptions, QatOptions};
use crate::train::checkpoint::RunDir;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  pilot quantize --model runs/sign --out runs/sign-int8
  pilot quantize --model runs/pilotnet --calib recordings/ --samples 1000 --range percentile --out runs/pilotnet-int8
  pilot quantize --model runs/sign --qat 3 --out runs/sign-qat     post-training, then 3 epochs quantization-aware
  pilot quantize --model runs/demo/train --qat 2 --qat-no-augment --out runs/demo-qat   fine-tuning on the frames as recorded

--qat fine-tunes the run's best network with the int8 scheme simulated in its forward pass
(weights rounded per channel, biases and every layer output to the scales calibration chose,
gradients passed straight through the rounding), on the calibration data's training split with
the run's own training augmentation (--qat-no-augment: as recorded), then quantizes it with the
same scales. Its checkpoints go to OUT/qat; the report gives float, post-training and
quantization-aware int8 side by side. Batch norm is folded first.")]
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
    /// Then fine-tune this many epochs quantization-aware (0: post-training only).
    #[arg(long, default_value_t = 0)]
    pub qat: usize,
    /// The quantization-aware fine-tuning's learning rate.
    #[arg(long, default_value_t = 1e-4)]
    pub qat_lr: f64,
    /// Fine-tune on the examples as recorded, without the run's training augmentation (better
    /// for the demo's PilotNet, worse for the sign classifier: see README.md).
    #[arg(long, requires = "qat")]
    pub qat_no_augment: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RangeArg {
    Minmax,
    Percentile,
}

impl QuantizeArgs {
    pub fn options(&self) -> PtqOptions {
        let range = match self.range {
            RangeArg::Minmax => RangeMethod::MinMax,
            RangeArg::Percentile => RangeMethod::Percentile(self.percentile),
        };
        let qat = (self.qat > 0).then(|| QatOptions { epochs: self.qat, lr: self.qat_lr, run: self.out.join("qat"), augment: !self.qat_no_augment });
        PtqOptions { calib: self.calib.clone(), samples: self.samples, range, eval_samples: self.eval_samples, progress: true, qat }
    }
}

pub fn run(args: QuantizeArgs) -> Result<()> {
    let q = quantize_run(&RunDir::new(&args.model), &args.options())?;
    q.save(&args.out)?;
    let r = &q.report;
    match r.ptq_int8 {
        None => {
            println!("{:<10} {:>10} {:>10} {:>10}", r.metric, "float", "int8", "change");
            println!("{:<10} {:>10.4} {:>10.4} {:>10}", format!("({})", r.eval_samples), r.float, r.int8, r.change());
        }
        Some(ptq) => {
            println!("{:<10} {:>10} {:>10} {:>10} {:>10}", r.metric, "float", "PTQ int8", "QAT int8", "change");
            println!("{:<10} {:>10.4} {:>10.4} {:>10.4} {:>10}", format!("({})", r.eval_samples), r.float, ptq, r.int8, r.change());
        }
    }
    if r.metric == "accuracy" {
        println!("float and int8 predict the same class for {:.2}% of examples", 100.0 * r.agreement);
    } else {
        println!("mean |float - int8| output difference {:.5}", r.agreement);
    }
    println!("int8 model: {}", args.out.join("model.pnn8").display());
    Ok(())
}
