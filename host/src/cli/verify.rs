//! `pilot verify`: the reference (blob) and tract (ONNX) agree byte for byte, layer by layer;
//! and with `--firmware`, the firmware in QEMU gives the reference's outputs on the same frames.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use common::format::Task;
use common::Model;

use crate::data::{Camera, ClassificationData, ClassificationOptions, DrivingData, DrivingOptions, Examples, ImageAugment, Rng};
use crate::onnx::int8;
use crate::verify::compare;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  pilot verify --onnx models/sign.int8.onnx --blob models/sign.pnn8 --data GTSRB/ --samples 1000
  pilot verify --blob models/pilotnet/pilotnet.pnn8 --firmware --data udacity-track1/ --samples 200")]
pub struct VerifyArgs {
    /// The int8 ONNX model to compare with the reference, layer by layer, in tract.
    #[arg(long, required_unless_present = "firmware")]
    pub onnx: Option<PathBuf>,
    /// The firmware blob: the reference runs it with `common`'s interpreter.
    #[arg(long)]
    pub blob: PathBuf,
    /// Also build the firmware with the blob and run it in QEMU on the same camera frames
    /// (streamed row by row, preprocessed on the chip); its outputs must equal the reference's.
    #[arg(long)]
    pub firmware: bool,
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
    let samples = sample(&model, &args)?;
    if let Some(dir) = &args.dump {
        dump(&model, &samples.inputs, dir)?;
    }
    if let Some(onnx_path) = &args.onnx {
        let onnx = std::fs::read(onnx_path).with_context(|| format!("cannot read {}", onnx_path.display()))?;
        // The layer outputs are named by the exporter's rule; their layouts follow from the blob.
        let (_, outputs) = int8::export(&model)?;
        println!("comparing {} inputs through the reference ({}) and tract ({})", samples.inputs.len(), args.blob.display(), onnx_path.display());
        let cmp = compare(&model, &onnx, &outputs, samples.inputs.iter().cloned())?;
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
    }
    if args.firmware {
        firmware(&model, &args.blob, &samples)?;
    }
    Ok(())
}

/// Runs the firmware in QEMU on the samples' camera frames and compares its outputs with the
/// reference's.
fn firmware(model: &Model<'_>, blob: &Path, samples: &Samples) -> Result<()> {
    let missing = crate::qemu::missing_tools();
    if !missing.is_empty() {
        bail!("--firmware needs: {}", missing.join("; "));
    }
    let pp = model.def().input.preprocess.context("the model has no preprocessing spec: the firmware takes camera frames")?;
    if pp.format != common::preprocess::PixelFormat::Rgb888 {
        bail!("--firmware feeds the data's RGB888 frames; this model takes {:?} frames", pp.format);
    }
    let work = tempfile::tempdir()?;
    println!("building the firmware with {} and running it in QEMU on {} frames", blob.display(), samples.inputs.len());
    let elf = crate::qemu::build(blob, &work.path().join("firmware.elf"))?;
    let run = crate::qemu::run(&elf, &samples.frames, &work.path().join("qemu"))?;
    let mut arena = vec![0i8; model.plan().arena_bytes()];
    let per = model.output().shape.len();
    if run.outputs.len() != per * samples.inputs.len() {
        bail!("the firmware wrote {} output bytes for {} frames of {per}", run.outputs.len(), samples.inputs.len());
    }
    let mut bad_frames = 0;
    let mut bad_bytes = 0;
    for (input, got) in samples.inputs.iter().zip(run.outputs.chunks_exact(per)) {
        let want = common::run(model, input, &mut arena)?;
        let bad = want.iter().zip(got).filter(|(w, g)| **w as u8 != **g).count();
        bad_bytes += bad;
        bad_frames += usize::from(bad > 0);
    }
    if let Some(n) = run.instructions_per_inference() {
        println!("firmware: {n} instructions per inference (QEMU mps2-an386, -icount shift=0)");
    }
    println!("firmware (QEMU) vs reference: {} frames, {bad_frames} differ ({bad_bytes} mismatching output bytes)", samples.inputs.len());
    if bad_frames > 0 {
        bail!("the firmware and the reference differ on {bad_frames} frames");
    }
    Ok(())
}

/// Inputs made by the blob's preprocessing, and the camera frames they come from.
struct Samples {
    inputs: Vec<Vec<i8>>,
    /// The raw RGB888 frames, back to back, in the same order.
    frames: Vec<u8>,
}

/// Up to `samples` examples of the data, made by the blob's own preprocessing.
fn sample(model: &Model<'_>, args: &VerifyArgs) -> Result<Samples> {
    let spec = model.def().input;
    let rows = |n: usize| {
        let mut r: Vec<usize> = (0..n).collect();
        Rng::new(args.seed).shuffle(&mut r);
        r.truncate(args.samples);
        r
    };
    fn take<'d, D: Examples>(data: &'d D, rows: &[usize], frame: impl Fn(usize) -> &'d [u8]) -> Samples {
        let n = data.input().shape.len();
        let mut frames = Vec::new();
        let inputs = rows
            .iter()
            .map(|&i| {
                let mut x = vec![0i8; n];
                data.example(i, &mut Rng::new(0), false, &mut x);
                frames.extend_from_slice(frame(i));
                x
            })
            .collect();
        Samples { inputs, frames }
    }
    if args.data.is_empty() {
        bail!("--data is required");
    }
    match model.def().task {
        Task::Regression => {
            let mut opts = DrivingOptions::new(spec);
            opts.side_cameras = false;
            let data = DrivingData::load(&args.data, &opts)?;
            let rows = rows(data.len());
            Ok(take(&data, &rows, |i| data.frame(i, Camera::Center).expect("the centre camera is always loaded")))
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
            let rows = rows(data.len());
            Ok(take(&data, &rows, |i| data.frame(i)))
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
    dir.join("Final_Training").exists()
        || dir.join("Images").exists()
        || std::fs::read_dir(dir).is_ok_and(|mut d| d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("GT-"))))
}
