//! `pilot transfer-compare`: the transfer-learning lab. Trains feature extraction, fine-tuning
//! and training from scratch, each with every head, on the same split of the new data, and
//! prints one table.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{ensure, Context, Result};
use clap::Args;

use super::train::ForeignArgs;
use crate::data::Examples;
use crate::data::{load_classification, DataKind, LabelDefaults, Source};
use crate::fsutil::atomic_write;
use crate::nn::spec::TaskKind;
use crate::train::checkpoint::RunDir;
use crate::train::{FitOptions, TrainConfig};
use crate::transfer::{self, features, Backbone, Head, Lookup, Mode, Outcome, TransferOptions};
use crate::workflow::train::{limited, shuffled};

#[derive(Args, Debug)]
#[command(after_help = "Example (the course's lab: features learnt on CIFAR-10 reused for traffic signs,
with only 2,000 training images):
  pilot train classify --data cifar10/ --arch cifar-vgg --epochs 10 --out runs/cifar-vgg
  pilot transfer-compare --from runs/cifar-vgg --data GTSRB/ --samples 2000 --out runs/transfer
  pilot export --model runs/cifar-vgg --float-onnx cifar-vgg.onnx
  pilot transfer-compare --from cifar-vgg.onnx --data GTSRB/ --samples 2000 --out runs/transfer-onnx

From an ImageNet network of the ONNX model zoo (feature extraction only):
  pilot report --onnx bvlcalexnet-12.onnx                 # its nodes and output shapes
  pilot transfer-compare --from bvlcalexnet-12.onnx --preset caffe --data GTSRB/ --samples 2000 --out runs/transfer-alexnet
  pilot transfer-compare --from resnet50-v1-7.onnx --preset imagenet --cut resnetv17_pool1_fwd --data GTSRB/ --samples 2000 --out runs/transfer-resnet

Each run is kept in OUT/MODE-HEAD/ (a normal training run: eval, quantize and export work on it;
from a foreign ONNX graph, a float head on its features that is not a chip model); the table is
also written to OUT/compare.md and OUT/compare.csv.")]
pub struct CompareArgs {
    /// The network to transfer from: a training run folder, a float ONNX file written by
    /// `pilot export --float-onnx`, or any ONNX image network (feature extraction only: pilot
    /// fine-tunes and trains from scratch only its own networks).
    #[arg(long)]
    pub from: PathBuf,
    /// The new task's images: GTSRB (official layout), one folder per class, or CIFAR-10
    /// binary batches.
    #[arg(long)]
    pub data: PathBuf,
    /// Train on this many images, drawn at random from the training split (default: all).
    #[arg(long)]
    pub samples: Option<usize>,
    /// The heads to compare (repeat the flag); N is the class count.
    #[arg(long = "head", default_values = ["dense N", "dense 128, dense N"])]
    pub heads: Vec<String>,
    /// The modes to compare (default: all three; from a foreign ONNX graph only feature
    /// extraction, the one mode it allows).
    #[arg(long, value_enum, num_args = 1.., value_delimiter = ',')]
    pub modes: Option<Vec<Mode>>,
    /// The backbone's layer to cut after (default: the last flatten); for a foreign ONNX graph
    /// a node (`pilot report --onnx FILE` lists them; default: the input of its last Gemm).
    #[arg(long)]
    pub cut: Option<String>,
    /// Epochs for fine-tuning and scratch.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Epochs for a head on bottleneck features (each takes a fraction of a second).
    #[arg(long, default_value_t = 50)]
    pub head_epochs: usize,
    /// Stop a run after this many epochs without a better validation accuracy.
    #[arg(long)]
    pub patience: Option<usize>,
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Fine-tuning: the backbone learns at this times --lr.
    #[arg(long, default_value_t = 0.1)]
    pub backbone_lr_scale: f64,
    #[arg(long, default_value_t = 0.2)]
    pub val_split: f32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Augment the images for fine-tuning and scratch (feature extraction never sees
    /// augmented images: its features are computed once). Off by default, as in the lab.
    #[arg(long)]
    pub augment: bool,
    /// Where bottleneck features are cached (default: $PILOT_CACHE_DIR/features, else
    /// ~/.cache/pilot/features).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Do not read or write the feature cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Output folder: one run per mode and head, and the table.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace the runs of an earlier comparison in --out (without it the command stops).
    #[arg(long)]
    pub force: bool,
    /// Hide progress bars and per-epoch lines.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub foreign: ForeignArgs,
}

/// One line of the table.
struct Row {
    mode: Mode,
    head: Head,
    outcome: Outcome,
    run: PathBuf,
}

pub fn run(args: CompareArgs) -> Result<()> {
    let heads: Vec<Head> = args.heads.iter().map(|h| h.parse()).collect::<Result<_>>()?;
    let backbone = Backbone::load_with(&args.from, &args.foreign.options())?;
    let modes = match (&args.modes, backbone.foreign()) {
        (Some(m), _) => m.clone(),
        (None, None) => vec![Mode::FeatureExtraction, Mode::FineTune, Mode::Scratch],
        (None, Some(_)) => {
            println!(
                "{} is a foreign ONNX graph: comparing feature extraction only (pilot fine-tunes and trains from scratch only its own networks)",
                args.from.display()
            );
            vec![Mode::FeatureExtraction]
        }
    };
    ensure!(!heads.is_empty() && !modes.is_empty(), "nothing to compare: give at least one --head and one mode");
    let cut = backbone.cut(args.cut.as_deref())?;
    if let Some(f) = backbone.foreign() {
        println!(
            "input {}x{} {}: {} (from {})",
            f.graph.geometry.height,
            f.graph.geometry.width,
            f.graph.geometry.layout.name(),
            f.preparation.describe(),
            f.preparation_from
        );
    }
    let kind = DataKind::detect(&args.data);
    let base = TrainConfig {
        val_split: args.val_split,
        seed: args.seed,
        batch: args.batch,
        lr: args.lr,
        patience: args.patience,
        augment: args.augment,
        max_examples: args.samples,
        ..TrainConfig::new(vec![args.data.clone()], kind)
    };
    let source = Source { dirs: base.data.clone(), kind, labels: LabelDefaults::UDACITY, augment: args.augment, max_rows: None, progress: !args.quiet };
    let data = load_classification(&source, backbone.spec.input_spec())?;
    let split = limited(data.split(&base.split())?, args.samples, args.seed);
    println!(
        "transfer from {} ({}, cut after {}: {} features) to {} ({} classes): {} training images, {} validation images",
        args.from.display(),
        backbone.spec.name,
        cut.name,
        cut.shape.len(),
        args.data.display(),
        data.num_classes(),
        split.train.len(),
        split.val.len()
    );
    let task = transfer::Task { data: &data, kind: TaskKind::Classification, outputs: data.num_classes() as u16, train: &split.train, val: &split.val };
    let cache = features::cache_for(args.cache_dir.as_deref(), args.no_cache);
    let mut rows = Vec::new();
    for &mode in &modes {
        for head in &heads {
            let dir = args.out.join(format!("{}-{}dense", mode.slug(), head.dense_layers()));
            println!("\n== {} with head \"{}\" -> {}", mode.name(), head.text, dir.display());
            let opts = TransferOptions {
                mode,
                cut: Some(cut.name.clone()),
                head: head.clone(),
                backbone_lr_scale: args.backbone_lr_scale,
                cache: cache.clone(),
                fit: FitOptions { overwrite: args.force, progress: !args.quiet, ..FitOptions::default() },
            };
            let config = TrainConfig {
                epochs: if mode == Mode::FeatureExtraction { args.head_epochs } else { args.epochs },
                classes: data.class_names().to_vec(),
                transfer: Some(format!("{} from {}, cut after {}, head \"{}\"", mode.name(), args.from.display(), cut.name, head.text)),
                ..base.clone()
            };
            let run = RunDir::new(&dir);
            let outcome = transfer::train(&backbone, &task, shuffled(split.train.clone()), &run, &config, &opts)?;
            println!("{}: validation accuracy {:.4} (epoch {})", mode.name(), outcome.metric, outcome.best_epoch);
            rows.push(Row { mode, head: head.clone(), outcome, run: dir });
        }
    }

    let (md, csv) = table(&rows, &args, &modes, &backbone, &cut.name, split.train.len(), split.val.len(), data.len());
    println!("\n{md}");
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    atomic_write(&args.out.join("compare.md"), md.as_bytes())?;
    atomic_write(&args.out.join("compare.csv"), csv.as_bytes())?;
    println!("table written to {} and compare.csv", args.out.join("compare.md").display());
    if backbone.foreign().is_some() {
        println!("each run holds {}", transfer::foreign::NOT_A_CHIP_MODEL);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn table(rows: &[Row], args: &CompareArgs, modes: &[Mode], backbone: &Backbone, cut: &str, train: usize, val: usize, all: usize) -> (String, String) {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Transfer from `{}` ({}, cut after `{cut}`) to `{}`: {train} training images, {val} validation images (of {all}), {} epochs ({} for a head on features){}, batch {}, lr {}{}, augmentation {}.\n",
        args.from.display(),
        backbone.spec.name,
        args.data.display(),
        args.epochs,
        args.head_epochs,
        args.patience.map(|p| format!(", early stop after {p} epochs without progress")).unwrap_or_default(),
        args.batch,
        args.lr,
        if modes.contains(&Mode::FineTune) { format!(" (backbone x{} when fine-tuning)", args.backbone_lr_scale) } else { String::new() },
        if args.augment { "on for fine-tune and scratch" } else { "off" },
    );
    if let Some(f) = backbone.foreign() {
        let g = &f.graph.geometry;
        let _ = writeln!(
            md,
            "Foreign ONNX backbone, run by tract on {}x{} {} input: {} (from {}). Its runs are float heads on its features, not chip models.\n",
            g.height,
            g.width,
            g.layout.name(),
            f.preparation.describe(),
            f.preparation_from
        );
    }
    md.push_str("| mode | head | val accuracy | best epoch / epochs | training s | features s | trainable params | total params |\n");
    md.push_str("|---|---|---:|---:|---:|---:|---:|---:|\n");
    let mut csv = String::from("mode,head,val_accuracy,best_epoch,epochs,train_seconds,feature_seconds,feature_cache,trainable_params,total_params,run\n");
    for r in rows {
        let o = &r.outcome;
        let features = match o.cache {
            Some(Lookup::Hit) => format!("{:.1} (cached)", o.feature_seconds),
            Some(Lookup::Miss) => format!("{:.1}", o.feature_seconds),
            None => "-".into(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {:.4} | {} / {} | {:.1} | {features} | {} | {} |",
            r.mode.name(),
            r.head.text,
            o.metric,
            o.best_epoch,
            o.epochs,
            o.train_seconds,
            o.trainable_params,
            o.total_params
        );
        let cache = match o.cache {
            Some(Lookup::Hit) => "hit",
            Some(Lookup::Miss) => "miss",
            None => "",
        };
        let _ = writeln!(
            csv,
            "{},\"{}\",{:.6},{},{},{:.2},{:.2},{cache},{},{},{}",
            r.mode.slug(),
            r.head.text,
            o.metric,
            o.best_epoch,
            o.epochs,
            o.train_seconds,
            o.feature_seconds,
            o.trainable_params,
            o.total_params,
            r.run.display()
        );
    }
    (md, csv)
}
