//! `pilot eval`: a trained model's metrics on a data set.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::train::checkpoint::RunDir;
use crate::workflow::eval::{evaluate_run, ClassEval, Evaluation, SteeringEval};

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
    match evaluate_run(&RunDir::new(&args.model), &args.data, args.all, args.batch)? {
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
