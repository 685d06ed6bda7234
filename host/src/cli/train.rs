//! `pilot train`: train a network on a data set.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use crate::data::DataKind;
use crate::nn::spec::NetSpec;
use crate::onnx::foreign::{InputHints, Layout};
use crate::train::config::LrSchedule;
use crate::train::{FitOptions, RegressionLoss, TrainConfig};
use crate::transfer::{features, foreign, Backbone, ForeignOptions, Mode, PrepareOptions, Preset, TransferOptions};
use crate::workflow::train::{train, Job, Network, Trained};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  pilot train driving --data recordings/ --arch pilotnet --epochs 10 --out runs/pilotnet
  pilot train signs --data GTSRB/ --arch sign --epochs 15 --out runs/sign
  pilot train classify --data cifar10/train --arch course-conv --epochs 10 --out runs/cifar
  pilot train driving --data recordings/ --out runs/pilotnet --resume    # continue after Ctrl-C
  pilot train signs --data GTSRB/ --init runs/cifar --mode feature-extraction --head \"dense 128, dense N\" --out runs/sign-fe
  pilot train signs --data GTSRB/ --init cifar.float.onnx --mode fine-tune --backbone-lr-scale 0.1 --out runs/sign-ft
  pilot train signs --data GTSRB/ --init bvlcalexnet-12.onnx --preset caffe --out runs/sign-alexnet
  pilot train signs --data GTSRB/ --init resnet50-v1-7.onnx --preset imagenet --cut resnetv17_pool1_fwd --out runs/sign-resnet

A foreign ONNX image network (the model zoo's, a torchvision or Keras export) is run by tract up
to --cut (`pilot report --onnx FILE` lists its nodes), on images resized to its input size and
prepared as --preset or --mean/--std/--scale/--bgr say; only feature extraction, and the result
is a float head on its features, not a chip model.")]
pub struct TrainArgs {
    #[command(subcommand)]
    pub task: TrainTask,
}

#[derive(Subcommand, Debug)]
pub enum TrainTask {
    /// Steering from camera frames (Udacity-format recordings: driving_log.csv + IMG/).
    Driving(DrivingArgs),
    /// Traffic signs from the GTSRB official layout (cropped to each sign's region).
    Signs(CommonArgs),
    /// Any image classification set: one folder per class, or CIFAR-10 binary batches.
    Classify(CommonArgs),
}

#[derive(Args, Debug, Clone)]
pub struct CommonArgs {
    /// Data folder(s).
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// Built-in architecture (pilotnet, sign, course-dense, course-conv) or a TOML file.
    #[arg(long)]
    pub arch: Option<String>,
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// How the learning rate changes over the epochs: constant, or cosine (down to a hundredth
    /// of --lr at the last epoch).
    #[arg(long, value_enum, default_value_t = LrSchedule::Constant)]
    pub lr_schedule: LrSchedule,
    /// Keep every epoch's weights (epochs/NNN.bpk in --out), as candidates for `pilot sim
    /// select`, which picks the one that drives best.
    #[arg(long)]
    pub keep_epochs: bool,
    /// Share of the data held out for validation (by track / time block / image).
    #[arg(long, default_value_t = 0.2)]
    pub val_split: f32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output folder: checkpoints, history.csv, plots.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue the run in --out from its last finished epoch.
    #[arg(long)]
    pub resume: bool,
    /// Replace a model already in --out (without it the command stops and keeps it).
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Stop after this many epochs without a better validation metric.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Train on at most this many examples (quick experiments).
    #[arg(long)]
    pub max_examples: Option<usize>,
    /// Turn off augmentation.
    #[arg(long)]
    pub no_augment: bool,
    /// Hide progress bars.
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub transfer: TransferArgs,
}

/// Transfer learning: start from another trained network.
#[derive(Args, Debug, Clone)]
pub struct TransferArgs {
    /// Reuse this network's layers up to --cut: a training run folder, a float ONNX file
    /// written by `pilot export --float-onnx`, or any ONNX image network (feature extraction
    /// only). Its input (size, colour) is the new network's.
    #[arg(long, value_name = "SOURCE", conflicts_with = "arch")]
    pub init: Option<PathBuf>,
    /// feature-extraction: train only a new head on cached backbone features;
    /// fine-tune: train everything from the backbone's weights; scratch: the same network
    /// from random weights. fine-tune and scratch need pilot's own network (a run folder or
    /// its float ONNX), not a foreign ONNX graph.
    #[arg(long, value_enum, default_value_t = Mode::FeatureExtraction, requires = "init")]
    pub mode: Mode,
    /// The backbone's layer to cut after (conv1, pool2, flatten1, dense1, ...; `pilot report`
    /// lists them). Default: the last flatten. For a foreign ONNX graph, a node name
    /// (`pilot report --onnx FILE` lists them with their output shapes); default: the input of
    /// its last Gemm/MatMul.
    #[arg(long, requires = "init")]
    pub cut: Option<String>,
    /// The new head after the cut: dense layers (ReLU between them) and dropout; N is the
    /// class count (1 for steering).
    #[arg(long, default_value = "dense 128, dense N", requires = "init")]
    pub head: String,
    /// fine-tune: the backbone learns at this times --lr (1 = the same rate).
    #[arg(long, default_value_t = 1.0, requires = "init")]
    pub backbone_lr_scale: f64,
    /// Where bottleneck features are cached (default: $PILOT_CACHE_DIR/features, else
    /// ~/.cache/pilot/features).
    #[arg(long, requires = "init")]
    pub cache_dir: Option<PathBuf>,
    /// Compute bottleneck features without reading or writing the cache.
    #[arg(long, requires = "init")]
    pub no_cache: bool,
    #[command(flatten)]
    pub foreign: ForeignArgs,
}

/// What a foreign ONNX graph does not say about its input: how pixels become its values, and
/// its size and layout where the graph leaves them open.
#[derive(Args, Debug, Clone, Default)]
pub struct ForeignArgs {
    /// Foreign ONNX backbone: the input preparation it was trained with. imagenet: RGB,
    /// (v/255 - mean)/std with ImageNet's mean and std (torchvision; the model zoo's ResNet,
    /// VGG, MobileNet); caffe: BGR, v - (104, 117, 123) (the model zoo's bvlcalexnet,
    /// caffenet, googlenet); tf: v/127.5 - 1 (Keras MobileNet, Inception); unit: v/255, the
    /// default. --mean, --std, --scale and --bgr replace the preset's own values.
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Foreign ONNX backbone: subtracted after --scale; one value, or one per channel in the
    /// network's order (B,G,R with --bgr), e.g. 0.485,0.456,0.406.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub mean: Option<Vec<f32>>,
    /// Foreign ONNX backbone: divides after the mean; one value or one per channel.
    #[arg(long, value_delimiter = ',')]
    pub std: Option<Vec<f32>>,
    /// Foreign ONNX backbone: pixel values 0..255 are multiplied by this first (a number or a
    /// fraction: 1/255, 1/127.5).
    #[arg(long, value_parser = parse_scale, allow_negative_numbers = true)]
    pub scale: Option<f32>,
    /// Foreign ONNX backbone: feed the channels as B, G, R (Caffe and OpenCV networks).
    #[arg(long)]
    pub bgr: bool,
    /// Foreign ONNX backbone: the input's layout, where the graph's dimensions do not show it
    /// (they usually do: a 3 second is NCHW, a 3 last NHWC).
    #[arg(long, value_enum)]
    pub layout: Option<Layout>,
    /// Foreign ONNX backbone: the input size HxW, where the graph leaves it open (e.g. 224x224).
    #[arg(long, value_parser = parse_size)]
    pub input_size: Option<(u16, u16)>,
}

impl ForeignArgs {
    pub fn options(&self) -> ForeignOptions {
        ForeignOptions {
            hints: InputHints { size: self.input_size, layout: self.layout },
            prepare: PrepareOptions { preset: self.preset, scale: self.scale, mean: self.mean.clone(), std: self.std.clone(), bgr: self.bgr },
        }
    }
}

/// `224x224` -> (224, 224).
pub fn parse_size(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("{s:?} is not a size HxW (e.g. 224x224)");
    let (h, w) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let (h, w) = (h.trim().parse::<u16>().map_err(|_| bad())?, w.trim().parse::<u16>().map_err(|_| bad())?);
    if h == 0 || w == 0 {
        return Err(bad());
    }
    Ok((h, w))
}

/// `0.5`, or a fraction `1/255`.
pub fn parse_scale(s: &str) -> Result<f32, String> {
    let bad = || format!("{s:?} is not a number or a fraction (e.g. 0.0039 or 1/255)");
    let v = match s.split_once('/') {
        Some((a, b)) => a.trim().parse::<f64>().map_err(|_| bad())? / b.trim().parse::<f64>().map_err(|_| bad())?,
        None => s.trim().parse::<f64>().map_err(|_| bad())?,
    };
    if !v.is_finite() || v == 0.0 {
        return Err(bad());
    }
    Ok(v as f32)
}

#[derive(Args, Debug, Clone)]
pub struct DrivingArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Loss to minimise.
    #[arg(long, value_enum, default_value_t = RegressionLoss::Mse)]
    pub loss: RegressionLoss,
    /// Steering added for the left camera (subtracted for the right), for recordings whose
    /// recording.toml does not give theirs (`pilot sim record` writes one: 0.235 at its default
    /// speed).
    #[arg(long, default_value_t = 0.2)]
    pub side_correction: f32,
    /// Average each steering label over this many rows centred on it (odd; 1 = as recorded),
    /// for recordings whose recording.toml does not say: keyboard-driven recordings steer in
    /// taps that no single frame can predict (e.g. 5 for the Udacity recording at ~3 frames/s).
    #[arg(long, default_value_t = 1, value_parser = odd)]
    pub smooth_steering: usize,
    /// Share of near-straight rows kept per epoch (1 keeps all).
    #[arg(long, default_value_t = 0.25)]
    pub keep_straight: f32,
}

fn odd(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n % 2 == 1 => Ok(n),
        _ => Err(format!("{s} is not an odd number of rows (1, 3, 5, ...)")),
    }
}

impl CommonArgs {
    /// The run's description: what to train on and how.
    pub fn config(&self, kind: DataKind) -> TrainConfig {
        TrainConfig {
            val_split: self.val_split,
            seed: self.seed,
            epochs: self.epochs,
            batch: self.batch,
            lr: self.lr,
            lr_schedule: self.lr_schedule,
            keep_epochs: self.keep_epochs,
            patience: self.patience,
            augment: !self.no_augment,
            max_examples: self.max_examples,
            ..TrainConfig::new(self.data.clone(), kind)
        }
    }

    pub fn fit_options(&self) -> FitOptions {
        FitOptions { resume: self.resume, overwrite: self.force, progress: !self.quiet, ..FitOptions::default() }
    }

    /// The architecture (`--arch`, else `default_arch`), or the transfer from `--init`.
    fn network(&self, default_arch: &str, driving: bool) -> Result<Network> {
        let t = &self.transfer;
        let foreign_options = t.foreign.options();
        let Some(init) = &t.init else {
            anyhow::ensure!(
                foreign_options.is_empty(),
                "--preset, --mean, --std, --scale, --bgr, --layout and --input-size describe a foreign ONNX backbone: give it with --init"
            );
            return Ok(Network::Arch(NetSpec::load(self.arch.as_deref().unwrap_or(default_arch))?));
        };
        let options = TransferOptions {
            mode: t.mode,
            cut: t.cut.clone(),
            head: t.head.parse()?,
            backbone_lr_scale: t.backbone_lr_scale,
            cache: features::cache_for(t.cache_dir.as_deref(), t.no_cache),
            fit: self.fit_options(),
        };
        let backbone = Backbone::load_with(init, &foreign_options)?;
        // The steering workflow plots the trained run as a pilot network; a head on foreign
        // features is none.
        anyhow::ensure!(
            !(driving && backbone.foreign().is_some()),
            "{} is a foreign ONNX graph: a head on its features trains for classification (`pilot train signs` or `classify`); a steering run must be a pilot network",
            init.display()
        );
        Ok(Network::Transfer(Box::new(backbone), options))
    }
}

impl DrivingArgs {
    pub fn config(&self) -> TrainConfig {
        TrainConfig {
            loss: self.loss,
            side_correction: Some(self.side_correction),
            smooth_steering: Some(self.smooth_steering),
            keep_straight: Some(self.keep_straight),
            ..self.common.config(DataKind::Driving)
        }
    }
}

pub fn run(args: TrainArgs) -> Result<()> {
    let (c, config, default_arch) = match &args.task {
        TrainTask::Driving(d) => (&d.common, d.config(), "pilotnet"),
        TrainTask::Signs(c) => (c, c.config(DataKind::Gtsrb), "sign"),
        TrainTask::Classify(c) => {
            let kind = DataKind::detect_classify(c.data.first().context("--data is required")?);
            (c, c.config(kind), "course-conv")
        }
    };
    let driving = matches!(args.task, TrainTask::Driving(_));
    let job = Job { network: c.network(default_arch, driving)?, config, out: c.out.clone(), fit: c.fit_options() };
    let trained = train(&job)?;
    print_trained(&trained, &job);
    Ok(())
}

fn print_trained(t: &Trained, job: &Job) {
    let out = job.out.display();
    match &t.transfer {
        Some(o) => {
            let mode = job_mode(job);
            println!(
                "{}: best validation {} {:.4} at epoch {}; {} of {} parameters trained; training {:.1} s{}; model in {out}",
                mode.name(),
                t.metric,
                o.metric,
                o.best_epoch,
                o.trainable_params,
                o.total_params,
                o.train_seconds,
                if mode == Mode::FeatureExtraction { format!(", features {:.1} s", o.feature_seconds) } else { String::new() },
            );
        }
        None => println!(
            "best validation {} {:.4} at epoch {} of {}{}; model in {out}",
            t.metric,
            t.best_metric,
            t.best_epoch,
            t.epochs,
            if t.stopped_early { " (stopped early)" } else { "" }
        ),
    }
    if job.config.data_kind.is_driving() {
        println!("plots: loss.png, metric.png, steering.png, steering-histogram.png in {out}");
    }
    if let Network::Transfer(b, _) = &job.network {
        if b.foreign().is_some() {
            println!("{out} holds {} (head.toml describes the backbone, cut and preparation; model.bpk is the head)", foreign::NOT_A_CHIP_MODEL);
        }
    }
}

fn job_mode(job: &Job) -> Mode {
    match &job.network {
        Network::Transfer(_, o) => o.mode,
        Network::Arch(_) => Mode::Scratch,
    }
}
