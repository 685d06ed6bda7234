//! `pilot export`: the int8 network as ONNX (QOperator form) and as a firmware blob.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use common::Model;

use super::quantize::QuantReport;
use crate::fsutil::atomic_write;
use crate::onnx::{float, int8};
use crate::train::checkpoint::RunDir;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  pilot export --model runs/sign-int8 --onnx models/sign.int8.onnx --blob models/sign.pnn8 --float-onnx models/sign.float.onnx
  pilot export --model runs/cifar --float-onnx cifar.float.onnx     # a training run: float only")]
pub struct ExportArgs {
    /// A quantized model: the folder `pilot quantize` wrote (holding model.pnn8), or a blob.
    /// With only --float-onnx, a training run folder works too.
    #[arg(long)]
    pub model: PathBuf,
    /// Where to write the int8 ONNX model.
    #[arg(long)]
    pub onnx: Option<PathBuf>,
    /// Where to write the firmware blob.
    #[arg(long)]
    pub blob: Option<PathBuf>,
    /// Where to write the float network (the run `pilot quantize` started from) as ONNX.
    #[arg(long)]
    pub float_onnx: Option<PathBuf>,
}

/// The blob path of a quantized model folder (or the path itself when it is a file).
pub fn blob_path(model: &std::path::Path) -> PathBuf {
    if model.is_dir() {
        model.join("model.pnn8")
    } else {
        model.to_path_buf()
    }
}

pub fn run(args: ExportArgs) -> Result<()> {
    anyhow::ensure!(args.onnx.is_some() || args.blob.is_some() || args.float_onnx.is_some(), "nothing to do: give --onnx, --blob and/or --float-onnx");
    // A training run (float only): just the float ONNX, e.g. as a transfer-learning backbone.
    let training_run = RunDir::new(&args.model);
    if args.model.is_dir() && training_run.arch_path().exists() && !blob_path(&args.model).exists() {
        anyhow::ensure!(
            args.onnx.is_none() && args.blob.is_none(),
            "{} is a float training run: quantize it first (`pilot quantize --model {} --out DIR`) for --onnx and --blob; --float-onnx works on it directly",
            args.model.display(),
            args.model.display()
        );
        return write_float(&training_run, args.float_onnx.as_deref().expect("checked above"));
    }
    let src = blob_path(&args.model);
    let bytes = std::fs::read(&src).with_context(|| format!("cannot read {}", src.display()))?;
    let model = Model::parse(&bytes).with_context(|| format!("{} is not a valid model blob", src.display()))?;
    if let Some(path) = &args.onnx {
        let (onnx, _) = int8::export(&model)?;
        atomic_write(path, &onnx)?;
        println!("int8 ONNX: {} ({} bytes)", path.display(), onnx.len());
    }
    if let Some(path) = &args.float_onnx {
        let report = args.model.join("quant.toml");
        let text = std::fs::read_to_string(&report)
            .with_context(|| format!("cannot read {} (the float export needs the folder `pilot quantize` wrote, or a training run)", report.display()))?;
        let report: QuantReport = toml::from_str(&text).with_context(|| format!("{} is not valid", report.display()))?;
        write_float(&RunDir::new(&report.float_run), path)?;
    }
    if let Some(path) = &args.blob {
        atomic_write(path, &bytes)?;
        println!("firmware blob: {} ({} bytes)", path.display(), bytes.len());
    }
    Ok(())
}

/// The float network of a training run as ONNX.
fn write_float(run: &RunDir, path: &std::path::Path) -> Result<()> {
    let onnx = float::export_run(run)?;
    atomic_write(path, &onnx)?;
    println!("float ONNX: {} ({} bytes)", path.display(), onnx.len());
    Ok(())
}
