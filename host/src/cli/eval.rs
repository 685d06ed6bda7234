//! `pilot eval`: a trained model's metrics on a data set.

use std::path::PathBuf;

use anyhow::{ensure, Result};
use clap::Args;

use crate::data::split_options;
use crate::train::checkpoint::RunDir;
use crate::workflow::eval::{evaluate_run, ClassEval, Evaluation, SteeringEval};
use crate::workflow::score::{score, Scored, Selection};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  pilot eval --model runs/sign                       the validation split it was trained with
  pilot eval --model runs/sign --data GTSRB_test/ --all   every image of another set
  pilot eval --blob models/sign/sign.pnn8 --data GTSRB/Final_Test   the chip's int8 arithmetic on GTSRB's test layout
  pilot eval --blob models/sign/sign.pnn8 --data GTSRB/ --val-split 0.2 --seed 1   its own validation tracks
  pilot eval --onnx models/fastnet/fastnet.float.onnx --data udacity-track1/   float, in tract
  pilot eval --onnx models/fastnet/fastnet.int8.onnx --data udacity-track1/    int8, in tract

--blob and --onnx score every example of --data (with --val-split, only that split's validation
part, drawn as `pilot train` draws it with the same --seed). Data: driving recordings for a
steering model; a GTSRB folder (training or official test layout: Final_Test/Images with
GT-final_test.csv), an image folder or CIFAR-10 batches for a classifier.")]
pub struct EvalArgs {
    /// A training run's folder (written by `pilot train`): its best float checkpoint.
    #[arg(long, required_unless_present_any = ["blob", "onnx"], conflicts_with_all = ["blob", "onnx"])]
    pub model: Option<PathBuf>,
    /// A firmware blob (.pnn8), run by the reference interpreter exactly as the chip computes.
    #[arg(long, conflicts_with = "onnx", requires = "data")]
    pub blob: Option<PathBuf>,
    /// An ONNX file written by `pilot export` (int8 or float), run in tract.
    #[arg(long, requires = "data")]
    pub onnx: Option<PathBuf>,
    /// Data to evaluate on (default for --model: the data the model was trained on).
    #[arg(long, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// --model: evaluate every example instead of the validation split (same seed and fraction
    /// as training).
    #[arg(long, requires = "model")]
    pub all: bool,
    /// --blob/--onnx: score only the validation part of this split of --data.
    #[arg(long, conflicts_with = "model")]
    pub val_split: Option<f32>,
    /// The split's seed (with --val-split).
    #[arg(long, default_value_t = 1, requires = "val_split")]
    pub seed: u64,
    #[arg(long, default_value_t = 128)]
    pub batch: usize,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

pub fn run(args: EvalArgs) -> Result<()> {
    let eval = match (&args.model, args.blob.as_ref().or(args.onnx.as_ref())) {
        (Some(run), _) => evaluate_run(&RunDir::new(run), &args.data, args.all, args.batch)?,
        (None, Some(file)) => {
            let model = Scored::read(file)?;
            if let Some(f) = args.val_split {
                ensure!(f > 0.0 && f < 1.0, "--val-split must be between 0 and 1, got {f}");
            }
            let sel = Selection { val: args.val_split.map(|f| split_options(f, args.seed)), progress: !args.quiet };
            println!("{} ({})", file.display(), model.kind());
            score(&model, &args.data, &sel)?
        }
        (None, None) => unreachable!("clap requires --model, --blob or --onnx"),
    };
    match eval {
        Evaluation::Steering(e) => print_steering(&e),
        Evaluation::Classes(e) => print_classes(&e),
    }
    Ok(())
}

pub fn print_steering(e: &SteeringEval) {
    println!("{} frames", e.frames);
    println!("{:<28} {:>8} {:>8}", "predictor", "MAE", "MSE");
    println!("{:<28} {:>8.4} {:>8.4}", "network", e.mae, e.mse);
    println!("{:<28} {:>8.4} {:>8.4}", "always 0", e.zero.0, e.zero.1);
    println!("{:<28} {:>8.4} {:>8.4}", format!("always the mean ({:.3})", e.mean), e.constant_mean.0, e.constant_mean.1);
}

pub fn print_classes(e: &ClassEval) {
    let loss = if e.loss.is_nan() { String::new() } else { format!(", cross-entropy {:.4}", e.loss) };
    println!("{} images, accuracy {:.4}{loss}", e.images, e.accuracy);
    println!("per class (worst first):");
    for c in e.worst().iter().take(10) {
        println!(
            "  {:<32} {:>6.3} of {:>5}  most confused with {} ({})",
            e.class_names[c.class], c.accuracy, c.images, e.class_names[c.confused_with.0], c.confused_with.1
        );
    }
}
