//! `pilot export`: the int8 network as ONNX (QOperator form) and as a firmware blob.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use common::Model;

use crate::fsutil::atomic_write;
use crate::onnx::int8;

#[derive(Args, Debug)]
#[command(after_help = "Example:
  pilot export --model runs/sign-int8 --onnx models/sign.int8.onnx --blob models/sign.pnn8")]
pub struct ExportArgs {
    /// A quantized model: the folder `pilot quantize` wrote (holding model.pnn8), or a blob.
    #[arg(long)]
    pub model: PathBuf,
    /// Where to write the int8 ONNX model.
    #[arg(long)]
    pub onnx: Option<PathBuf>,
    /// Where to write the firmware blob.
    #[arg(long)]
    pub blob: Option<PathBuf>,
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
    let src = blob_path(&args.model);
    let bytes = std::fs::read(&src).with_context(|| format!("cannot read {}", src.display()))?;
    let model = Model::parse(&bytes).with_context(|| format!("{} is not a valid model blob", src.display()))?;
    anyhow::ensure!(args.onnx.is_some() || args.blob.is_some(), "nothing to do: give --onnx and/or --blob");
    if let Some(path) = &args.onnx {
        let (onnx, _) = int8::export(&model)?;
        atomic_write(path, &onnx)?;
        println!("int8 ONNX: {} ({} bytes)", path.display(), onnx.len());
    }
    if let Some(path) = &args.blob {
        atomic_write(path, &bytes)?;
        println!("firmware blob: {} ({} bytes)", path.display(), bytes.len());
    }
    Ok(())
}
