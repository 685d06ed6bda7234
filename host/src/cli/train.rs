//! `pilot train`: train a network on a data set.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};

use crate::data::{Balance, CifarPart, ClassificationData, ClassificationOptions, DrivingData, DrivingOptions, Examples, Split, SplitOptions};
use crate::nn::spec::NetSpec;
use crate::train::checkpoint::{Meta, RunDir};
use crate::nn::spec::TaskKind;
use crate::train::{fit, FitOptions, FitReport, RegressionLoss, Target};
use crate::transfer::{self, features, Backbone, Mode, TransferOptions};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  pilot train driving --data recordings/ --arch pilotnet --epochs 10 --out runs/pilotnet
  pilot train signs --data GTSRB/ --arch sign --epochs 15 --out runs/sign
  pilot train classify --data cifar10/train --arch course-conv --epochs 10 --out runs/cifar
  pilot train driving --data recordings/ --out runs/pilotnet --resume    # continue after Ctrl-C
  pilot train signs --data GTSRB/ --init runs/cifar --mode feature-extraction --head \"dense 128, dense N\" --out runs/sign-fe
  pilot train signs --data GTSRB/ --init cifar.float.onnx --mode fine-tune --backbone-lr-scale 0.1 --out runs/sign-ft")]
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
    /// Reuse this network's layers up to --cut: a training run folder, or a float ONNX file
    /// written by `pilot export --float-onnx`. Its input (size, colour) is the new network's.
    #[arg(long, value_name = "SOURCE", conflicts_with = "arch")]
    pub init: Option<PathBuf>,
    /// feature-extraction: train only a new head on cached backbone features;
    /// fine-tune: train everything from the backbone's weights; scratch: the same network
    /// from random weights.
    #[arg(long, value_enum, default_value_t = Mode::FeatureExtraction, requires = "init")]
    pub mode: Mode,
    /// The backbone's layer to cut after (conv1, pool2, flatten1, dense1, ...; `pilot report`
    /// lists them). Default: the last flatten.
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
}

impl TransferArgs {
    /// No transfer: train the architecture from random weights.
    pub fn none() -> TransferArgs {
        TransferArgs {
            init: None,
            mode: Mode::FeatureExtraction,
            cut: None,
            head: String::new(),
            backbone_lr_scale: 1.0,
            cache_dir: None,
            no_cache: false,
        }
    }
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

/// The kind of data a run was trained on (recorded in meta.toml for eval and quantize).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DataKind {
    Driving,
    Gtsrb,
    Images,
    Cifar,
}

impl DataKind {
    pub fn name(self) -> &'static str {
        match self {
            DataKind::Driving => "driving",
            DataKind::Gtsrb => "gtsrb",
            DataKind::Images => "images",
            DataKind::Cifar => "cifar",
        }
    }

    pub fn parse(s: &str) -> Result<DataKind> {
        Ok(match s {
            "driving" => DataKind::Driving,
            "gtsrb" => DataKind::Gtsrb,
            "images" => DataKind::Images,
            "cifar" => DataKind::Cifar,
            _ => bail!("unknown data kind {s:?}"),
        })
    }

    /// CIFAR-10 binary batches, or one folder per class.
    fn detect_classify(dir: &Path) -> DataKind {
        if dir.join("data_batch_1.bin").exists() || dir.join("test_batch.bin").exists() {
            DataKind::Cifar
        } else {
            DataKind::Images
        }
    }

    /// As [`Self::detect_classify`], also recognising the GTSRB official layout.
    pub fn detect(dir: &Path) -> DataKind {
        let gtsrb = dir.join("Final_Training").join("Images").is_dir() || dir.join("00000").join("GT-00000.csv").is_file();
        if gtsrb {
            DataKind::Gtsrb
        } else {
            DataKind::detect_classify(dir)
        }
    }
}

/// Loads a classification set of `kind` for `spec`.
pub fn load_classification(kind: DataKind, dirs: &[PathBuf], spec: &NetSpec, augment: bool, progress: bool) -> Result<ClassificationData> {
    let [dir] = dirs else { bail!("classification takes one --data folder, got {}", dirs.len()) };
    let mut opts = ClassificationOptions::new(spec.input_spec());
    opts.progress = progress;
    if !augment {
        opts.augment = crate::data::ImageAugment::none();
    }
    match kind {
        DataKind::Gtsrb => ClassificationData::gtsrb(dir, &opts),
        DataKind::Images => ClassificationData::image_folder(dir, &opts),
        DataKind::Cifar => ClassificationData::cifar10(dir, CifarPart::Train, &opts),
        DataKind::Driving => bail!("driving data is not a classification set"),
    }
    .with_context(|| format!("cannot load {}", dir.display()))
}

/// How driving labels are made for recordings whose `recording.toml` does not say.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LabelDefaults {
    pub side_correction: f32,
    pub smooth_steering: usize,
}

impl LabelDefaults {
    /// The Udacity simulator's customary 0.2, labels as recorded.
    pub const UDACITY: LabelDefaults = LabelDefaults { side_correction: 0.2, smooth_steering: 1 };

    /// What a run was trained with (older runs: [`Self::UDACITY`]).
    pub fn of_run(meta: &Meta) -> LabelDefaults {
        LabelDefaults {
            side_correction: meta.side_correction.unwrap_or(Self::UDACITY.side_correction),
            smooth_steering: meta.smooth_steering.unwrap_or(Self::UDACITY.smooth_steering),
        }
    }
}

/// Loads driving recordings for `spec`.
pub fn load_driving(dirs: &[PathBuf], spec: &NetSpec, labels: LabelDefaults, max_rows: Option<usize>, progress: bool) -> Result<DrivingData> {
    load_driving_with(dirs, spec, labels, true, max_rows, progress)
}

/// As [`load_driving`], with augmentation on or off.
pub fn load_driving_with(dirs: &[PathBuf], spec: &NetSpec, labels: LabelDefaults, augment: bool, max_rows: Option<usize>, progress: bool) -> Result<DrivingData> {
    let mut opts = DrivingOptions::new(spec.input_spec());
    if !augment {
        opts.augment = crate::data::DrivingAugment::none();
        opts.side_cameras = false;
    }
    opts.augment.steering_correction = labels.side_correction;
    opts.smooth_steering = labels.smooth_steering;
    opts.max_rows = max_rows;
    opts.progress = progress;
    DrivingData::load(dirs, &opts)
}

/// One line per recording: rows and how its labels are made.
fn describe_recordings(data: &DrivingData) {
    let mut counts = vec![0usize; data.recordings().len()];
    data.rows().iter().for_each(|r| counts[r.recording] += 1);
    for ((dir, s), n) in data.recordings().iter().zip(data.settings()).zip(counts) {
        println!(
            "  {}: {n} rows, side-camera correction {}, steering averaged over {} row(s) ({})",
            dir.display(),
            s.side_correction,
            s.smooth_steering,
            if s.from_file { "its recording.toml" } else { "command line" }
        );
    }
}

fn meta(c: &CommonArgs, kind: DataKind, classes: Vec<String>) -> Meta {
    Meta {
        classes,
        data: c.data.iter().map(|d| d.display().to_string()).collect(),
        data_kind: kind.name().into(),
        batch: c.batch,
        lr: c.lr,
        seed: c.seed,
        val_split: c.val_split,
        ..Meta::default()
    }
}

fn fit_options(c: &CommonArgs) -> FitOptions {
    FitOptions { epochs: c.epochs, batch: c.batch, lr: c.lr, seed: c.seed, patience: c.patience, resume: c.resume, overwrite: c.force, progress: !c.quiet, ..FitOptions::default() }
}

pub fn split_options(val_split: f32, seed: u64) -> SplitOptions {
    SplitOptions { val_fraction: val_split, seed, ..SplitOptions::default() }
}

/// Keeps a random `max` of the training examples (the split is sorted, often by class).
fn limit(split: &mut Split, max: Option<usize>, seed: u64) {
    if let Some(m) = max {
        crate::data::Rng::keyed(seed, 0x11A1).shuffle(&mut split.train);
        split.train.truncate(m);
        split.train.sort_unstable();
    }
}

fn print_report(report: &FitReport, run: &RunDir, metric: &str) {
    println!(
        "best validation {metric} {:.4} at epoch {} of {}{}; model in {}",
        report.best_metric,
        report.best_epoch,
        report.history.epochs.len(),
        if report.stopped_early { " (stopped early)" } else { "" },
        run.dir.display()
    );
}

pub fn run(args: TrainArgs) -> Result<()> {
    match args.task {
        TrainTask::Driving(d) => {
            let c = &d.common;
            let backbone = c.transfer.init.as_deref().map(Backbone::load).transpose()?;
            let spec = match &backbone {
                Some(b) => b.spec.clone(),
                None => NetSpec::load(c.arch.as_deref().unwrap_or("pilotnet"))?,
            };
            let labels = LabelDefaults { side_correction: d.side_correction, smooth_steering: d.smooth_steering };
            let data = load_driving_with(&c.data, &spec, labels, !c.no_augment, None, !c.quiet)?;
            let mut split = data.split(&split_options(c.val_split, c.seed))?;
            limit(&mut split, c.max_examples, c.seed);
            println!("{} rows: {} for training, {} for validation", data.len(), split.train.len(), split.val.len());
            describe_recordings(&data);
            let balance = Balance { keep_straight: d.keep_straight, ..Balance::default() };
            let run = RunDir::new(&c.out);
            let meta = Meta { side_correction: Some(d.side_correction), smooth_steering: Some(d.smooth_steering), ..meta(c, DataKind::Driving, vec![]) };
            let opts = FitOptions { loss: d.loss, ..fit_options(c) };
            let epoch_rows = |rng: &mut crate::data::Rng| data.epoch(&split.train, &balance, rng);
            match &backbone {
                Some(b) => {
                    let task = transfer::Task { data: &data, kind: TaskKind::Regression, outputs: 1, train: &split.train, val: &split.val };
                    transfer_run(b, &task, epoch_rows, &run, meta, c, opts)?;
                }
                None => {
                    let report = fit(&spec, &data, epoch_rows, &split.val, &run, &meta, &opts)?;
                    print_report(&report, &run, "mae");
                }
            }
            let net = run.load_best(&crate::train::infer_device())?;
            let predicted = crate::nn::driver::predict(&net, &data, &split.val, c.batch);
            let truth: Vec<f32> = split.val.iter().map(|&i| data.rows()[i].steering).collect();
            crate::plot::steering(&truth, &predicted, &run.dir)?;
            println!("plots: loss.png, metric.png, steering.png, steering-histogram.png in {}", run.dir.display());
            Ok(())
        }
        TrainTask::Signs(c) => classify(&c, DataKind::Gtsrb, "sign"),
        TrainTask::Classify(c) => {
            let kind = DataKind::detect_classify(c.data.first().context("--data is required")?);
            classify(&c, kind, "course-conv")
        }
    }
}

fn classify(c: &CommonArgs, kind: DataKind, default_arch: &str) -> Result<()> {
    let backbone = c.transfer.init.as_deref().map(Backbone::load).transpose()?;
    let spec = match &backbone {
        Some(b) => b.spec.clone(),
        None => NetSpec::load(c.arch.as_deref().unwrap_or(default_arch))?,
    };
    let data = load_classification(kind, &c.data, &spec, !c.no_augment, !c.quiet)?;
    let spec = spec.with_classes(data.num_classes() as u16);
    let mut split = data.split(&split_options(c.val_split, c.seed))?;
    limit(&mut split, c.max_examples, c.seed);
    println!("{} images of {} classes: {} for training, {} for validation", data.len(), data.num_classes(), split.train.len(), split.val.len());
    let run = RunDir::new(&c.out);
    let meta = meta(c, kind, data.class_names().to_vec());
    let epoch_rows = shuffled(split.train.clone());
    match &backbone {
        Some(b) => {
            let task = transfer::Task { data: &data, kind: TaskKind::Classification, outputs: data.num_classes() as u16, train: &split.train, val: &split.val };
            transfer_run(b, &task, epoch_rows, &run, meta, c, fit_options(c))
        }
        None => {
            let report = fit(&spec, &data, epoch_rows, &split.val, &run, &meta, &fit_options(c))?;
            print_report(&report, &run, "accuracy");
            Ok(())
        }
    }
}

/// Each epoch: `rows`, shuffled.
pub fn shuffled(rows: Vec<usize>) -> impl FnMut(&mut crate::data::Rng) -> Vec<usize> {
    move |rng| {
        let mut rows = rows.clone();
        rng.shuffle(&mut rows);
        rows
    }
}

/// `pilot train ... --init SOURCE`: one transfer run, and what it did.
fn transfer_run<D>(
    backbone: &Backbone,
    task: &transfer::Task<'_, D>,
    epoch_rows: impl FnMut(&mut crate::data::Rng) -> Vec<usize>,
    run: &RunDir,
    mut meta: Meta,
    c: &CommonArgs,
    fit: FitOptions,
) -> Result<()>
where
    D: crate::data::Examples,
    D::Target: Target,
{
    let t = &c.transfer;
    let opts = TransferOptions {
        mode: t.mode,
        cut: t.cut.clone(),
        head: t.head.parse()?,
        backbone_lr_scale: t.backbone_lr_scale,
        cache: features::cache_for(t.cache_dir.as_deref(), t.no_cache),
        fit,
    };
    let cut = backbone.cut(t.cut.as_deref())?;
    meta.transfer = Some(format!("{} from {}, cut after {}, head \"{}\"", t.mode.name(), backbone.origin.display(), cut.name, opts.head.text));
    let o = transfer::train(backbone, task, epoch_rows, run, &meta, &opts)?;
    println!(
        "{}: best validation {} {:.4} at epoch {}; {} of {} parameters trained; training {:.1} s{}; model in {}",
        t.mode.name(),
        D::Target::METRIC,
        o.metric,
        o.best_epoch,
        o.trainable_params,
        o.total_params,
        o.train_seconds,
        if t.mode == Mode::FeatureExtraction { format!(", features {:.1} s", o.feature_seconds) } else { String::new() },
        run.dir.display()
    );
    Ok(())
}
