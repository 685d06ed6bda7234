//! `pilot verify`: the reference (blob) and tract (ONNX) agree byte for byte, layer by layer.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use common::format::Task;
use common::Model;

use crate::data::{ClassificationData, ClassificationOptions, DrivingData, DrivingOptions, Examples, ImageAugment, Rng};
use crate::onnx::int8;
use crate::verify::compare;

#[derive(Args, Debug)]
#[command(after_help = "Example:
  pilot verify --onnx models/sign.int8.onnx --blob models/sign.pnn8 --data GTSRB/ --samples 1000")]
pub struct VerifyArgs {
    #[arg(long)]
    pub onnx: PathBuf,
    #[arg(long)]
    pub blob: PathBuf,
    /// Real inputs: driving recordings, a GTSRB folder, an image folder or CIFAR-10 batches.
    #[arg(long, num_args = 1..)]
    pub data: Vec<PathBuf>,
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write the inputs (inputs.i8) and the reference outputs (reference.i8) here, raw int8
    /// back to back, for checking other runtimes (host/scripts/onnxruntime_check.py).
    #[arg(long)]
    pub dump: Option<PathBuf>,
}

pub fn run(args: VerifyArgs) -> Result<()> {
    let blob = std::fs::read(&args.blob).with_context(|| format!("cannot read {}", args.blob.display()))?;
    let model = Model::parse(&blob).with_context(|| format!("{} is not a valid model blob", args.blob.display()))?;
    let onnx = std::fs::read(&args.onnx).with_context(|| format!("cannot read {}", args.onnx.display()))?;
    // The layer outputs are named by the exporter's rule; their layouts follow from the blob.
    let (_, outputs) = int8::export(&model)?;
    let inputs = sample_inputs(&model, &args)?;
    if let Some(dir) = &args.dump {
        dump(&model, &inputs, dir)?;
    }
    println!("comparing {} inputs through the reference ({}) and tract ({})", inputs.len(), args.blob.display(), args.onnx.display());
    let cmp = compare(&model, &onnx, &outputs, inputs.into_iter())?;
    println!("{:<12} {:>12} {:>12}", "layer", "bytes", "mismatches");
    for (node, (n, bad)) in model.layers().iter().zip(&cmp.layers) {
        println!("{:<12} {:>12} {:>12}", node.name, n, bad);
    }
    println!("{} samples, {} mismatching bytes", cmp.samples, cmp.mismatches());
    if let Some(f) = &cmp.first {
        let name = model.layers()[f.layer].name;
        println!("first divergence: sample {}, layer {} ({name}); (index, reference, tract): {:?}", f.sample, f.layer, f.values);
        bail!("the reference and tract differ, first at layer {name}");
    }
    Ok(())
}

/// Up to `samples` int8 inputs from the data, made by the blob's own preprocessing.
fn sample_inputs(model: &Model<'_>, args: &VerifyArgs) -> Result<Vec<Vec<i8>>> {
    let spec = model.def().input;
    let rows = |n: usize| {
        let mut r: Vec<usize> = (0..n).collect();
        Rng::new(args.seed).shuffle(&mut r);
        r.truncate(args.samples);
        r
    };
    fn take<D: Examples>(data: &D, rows: &[usize]) -> Vec<Vec<i8>> {
        let n = data.input().shape.len();
        rows.iter()
            .map(|&i| {
                let mut x = vec![0i8; n];
                data.example(i, &mut Rng::new(0), false, &mut x);
                x
            })
            .collect()
    }
    if args.data.is_empty() {
        bail!("--data is required");
    }
    match model.def().task {
        Task::Regression => {
            let mut opts = DrivingOptions::new(spec);
            opts.side_cameras = false;
            let data = DrivingData::load(&args.data, &opts)?;
            Ok(take(&data, &rows(data.len())))
        }
        Task::Classification => {
            let dir = &args.data[0];
            let mut opts = ClassificationOptions::new(spec);
            opts.augment = ImageAugment::none();
            let data = if is_gtsrb(dir) {
                ClassificationData::gtsrb(dir, &opts)?
            } else if dir.join("data_batch_1.bin").exists() {
                ClassificationData::cifar10(dir, crate::data::CifarPart::Train, &opts)?
            } else {
                ClassificationData::image_folder(dir, &opts)?
            };
            Ok(take(&data, &rows(data.len())))
        }
    }
}

fn dump(model: &Model<'_>, inputs: &[Vec<i8>], dir: &Path) -> Result<()> {
    let mut arena = vec![0i8; model.plan().arena_bytes()];
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for input in inputs {
        x.extend(input.iter().map(|&v| v as u8));
        y.extend(common::run(model, input, &mut arena)?.iter().map(|&v| v as u8));
    }
    crate::fsutil::atomic_write(&dir.join("inputs.i8"), &x)?;
    crate::fsutil::atomic_write(&dir.join("reference.i8"), &y)?;
    println!("wrote {} inputs and reference outputs to {}", inputs.len(), dir.display());
    Ok(())
}

fn is_gtsrb(dir: &Path) -> bool {
    dir.join("Final_Training").exists() || dir.join("Images").exists() || std::fs::read_dir(dir).is_ok_and(|mut d| d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("GT-"))))
}
