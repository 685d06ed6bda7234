//! Transfer learning: reuse a trained network's early layers (the backbone) for a new task, in
//! the three ways the course's lesson compares:
//!
//! - **feature extraction**: the backbone is frozen; its output at the cut (the "bottleneck"
//!   features) is computed once per example and cached on disk, and only a new head is trained
//!   on it, which takes seconds;
//! - **fine-tuning**: the backbone's weights plus a new head, everything trained, the backbone
//!   optionally at a lower learning rate;
//! - **scratch**: the same network from random weights, for comparison.
//!
//! Every mode writes a normal training run (`arch.toml`, `model.bpk`, `history.csv`), so the
//! transferred network quantizes, exports and runs on the chip like any other. The exception is
//! a foreign ONNX backbone ([`foreign`]): feature extraction only, and the run holds a float
//! head on its features (`head.toml`, `model.bpk`), not a chip model.

pub mod backbone;
pub mod features;
pub mod foreign;
mod hash;
pub mod head;
pub mod head_train;
pub mod prepare;

use std::time::Instant;

use anyhow::Result;
use burn::module::Module;

use crate::data::{Examples, Rng};
use crate::nn::net::Net;
use crate::nn::spec::{NetSpec, TaskKind};
use crate::train::checkpoint::RunDir;
use crate::train::engine::{self, FitReport, Schedule, Start};
use crate::train::{fit, learning_rates, train_device, BackboneLr, FitOptions, Target, TrainConfig};
pub use backbone::{Backbone, Cut, Source};
pub use features::{BurnExtractor, Cache, Extractor, Features, Lookup, TractExtractor};
pub use foreign::{ForeignBackbone, ForeignExtractor, ForeignHead, ForeignOptions};
pub use head::Head;
use head_train::{FeatureBatches, HeadCheckpoints};
pub use prepare::{Preparation, PrepareOptions, Preset};

/// How the backbone is reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Frozen backbone; a new head trained on cached bottleneck features.
    FeatureExtraction,
    /// The backbone's weights and a new head, all trained.
    FineTune,
    /// The same network from random weights.
    Scratch,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::FeatureExtraction => "feature extraction",
            Mode::FineTune => "fine-tune",
            Mode::Scratch => "scratch",
        }
    }

    /// For folder names.
    pub fn slug(self) -> &'static str {
        match self {
            Mode::FeatureExtraction => "feature-extraction",
            Mode::FineTune => "fine-tune",
            Mode::Scratch => "scratch",
        }
    }
}

#[derive(Clone, Debug)]
pub struct TransferOptions {
    pub mode: Mode,
    /// The layer to cut after (default: the last flatten).
    pub cut: Option<String>,
    pub head: Head,
    /// Fine-tuning: the backbone learns at this times the learning rate.
    pub backbone_lr_scale: f64,
    /// Where bottleneck features are cached (`None`: not cached).
    pub cache: Option<Cache>,
    /// Resume, overwrite, progress (the initial weights and learning rates come from the mode).
    pub fit: FitOptions,
}

/// What a transfer run reports.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The transferred network; `None` for a head on a foreign graph's features (not a pilot
    /// network: see [`foreign`]).
    pub spec: Option<NetSpec>,
    pub cut: Cut,
    /// Best validation metric and its epoch.
    pub metric: f64,
    pub best_epoch: usize,
    /// Epochs trained (fewer than asked after an early stop).
    pub epochs: usize,
    /// Seconds of training (of the head alone, in feature extraction).
    pub train_seconds: f64,
    /// Seconds spent computing (or reading) bottleneck features; 0 in the other modes.
    pub feature_seconds: f64,
    /// Whether the training features came from the cache (feature extraction only).
    pub cache: Option<Lookup>,
    pub trainable_params: usize,
    pub total_params: usize,
}

/// The data a transfer run trains on.
pub struct Task<'a, D> {
    pub data: &'a D,
    pub kind: TaskKind,
    /// Classes, or 1 for steering.
    pub outputs: u16,
    /// The training examples as recorded (feature extraction uses these, unaugmented).
    pub train: &'a [usize],
    pub val: &'a [usize],
}

/// Trains the backbone's network with a new head on `task` in `opts.mode`, into `run`.
/// `epoch_rows` gives each epoch's examples for the modes that train the whole network.
/// `config` gives the epochs (of the head, in feature extraction), batch, learning rate, seed,
/// loss and patience, and is saved with the run.
pub fn train<D>(
    backbone: &Backbone,
    task: &Task<'_, D>,
    epoch_rows: impl FnMut(&mut Rng) -> Vec<usize>,
    run: &RunDir,
    config: &TrainConfig,
    opts: &TransferOptions,
) -> Result<Outcome>
where
    D: Examples,
    D::Target: Target,
{
    if let Some(f) = backbone.foreign() {
        return train_foreign(backbone, f, task, run, config, opts);
    }
    // Before any work: a saved model in `run` is kept unless the caller says otherwise.
    if !(opts.fit.resume && opts.mode != Mode::FeatureExtraction) {
        run.claim(opts.fit.overwrite)?;
    }
    let cut = backbone.cut(opts.cut.as_deref())?;
    let name = format!("{}-{}", backbone.spec.name, opts.mode.slug());
    let spec = head::network(backbone, &cut, &opts.head, task.kind, task.outputs, &name)?;
    let total_params = Net::new(&spec.resolve()?, &crate::train::infer_device()).num_params();
    let outcome = |metric, best_epoch, epochs, train_seconds, feature_seconds, cache, trainable_params| Outcome {
        spec: Some(spec.clone()),
        cut: cut.clone(),
        metric,
        best_epoch,
        epochs,
        train_seconds,
        feature_seconds,
        cache,
        trainable_params,
        total_params,
    };
    match opts.mode {
        Mode::Scratch | Mode::FineTune => {
            let fit_opts = match opts.mode {
                Mode::FineTune => FitOptions {
                    init: Some(head::assemble(backbone, &cut, &spec, &train_device())?),
                    backbone_lr: (opts.backbone_lr_scale != 1.0).then_some(BackboneLr { blocks: cut.blocks, scale: opts.backbone_lr_scale }),
                    ..opts.fit.clone()
                },
                _ => FitOptions { init: None, backbone_lr: None, ..opts.fit.clone() },
            };
            let started = Instant::now();
            let report = fit(&spec, task.data, epoch_rows, task.val, run, config, &fit_opts)?;
            let epochs = report.history.epochs.len();
            Ok(outcome(report.best_metric, report.best_epoch, epochs, started.elapsed().as_secs_f64(), 0.0, None, total_params))
        }
        Mode::FeatureExtraction => {
            let mut extractor: Box<dyn Extractor> = match TractExtractor::new(backbone, &cut)? {
                Some(t) => Box::new(t),
                None => Box::new(BurnExtractor::new(backbone, &cut)),
            };
            let bottleneck = bottleneck(backbone, &cut, extractor.as_mut(), task, opts)?;
            train_device().seed(config.seed);
            let fresh = head::assemble(backbone, &cut, &spec, &train_device())?;
            let head_net = Net::from_blocks(fresh.blocks[cut.blocks..].to_vec());
            let trainable = head_net.num_params();
            let started = Instant::now();
            run.start(&spec, config)?;
            let backbone_blocks = backbone.net.blocks[..cut.blocks].to_vec();
            let report = fit_head::<D::Target>(&bottleneck, cut.shape, head_net, backbone_blocks, run, config, opts.fit.progress)?;
            let train_seconds = started.elapsed().as_secs_f64();
            let epochs = report.history.epochs.len();
            Ok(outcome(report.best_metric, report.best_epoch, epochs, train_seconds, bottleneck.seconds, Some(bottleneck.lookup), trainable))
        }
    }
}

/// Feature extraction from a foreign graph: its features, and a float head on them saved with
/// `head.toml` (no `arch.toml`: it is not a pilot network).
fn train_foreign<D>(backbone: &Backbone, f: &ForeignBackbone, task: &Task<'_, D>, run: &RunDir, config: &TrainConfig, opts: &TransferOptions) -> Result<Outcome>
where
    D: Examples,
    D::Target: Target,
{
    anyhow::ensure!(
        opts.mode == Mode::FeatureExtraction,
        "{} is a foreign ONNX graph: from it pilot does feature extraction only (--mode feature-extraction); {} needs a network pilot trains, its own (a training run folder, or a float ONNX written by `pilot export --float-onnx`)",
        backbone.origin.display(),
        opts.mode.name()
    );
    run.claim(opts.fit.overwrite)?;
    let cut = backbone.cut(opts.cut.as_deref())?;
    let (layers, resolved) = foreign::head_layers(&opts.head, cut.shape.c, task.kind, task.outputs)?;
    let head_net = Net::new(&resolved, &train_device());
    let trainable = head_net.num_params();
    let mut extractor = ForeignExtractor::new(f, &cut)?;
    if opts.fit.progress {
        eprintln!(
            "{}: input {}, {} (from {})",
            backbone.origin.display(),
            crate::onnx::foreign::dims_text(&f.graph.geometry.dims()),
            f.preparation.describe(),
            f.preparation_from
        );
    }
    let bottleneck = bottleneck(backbone, &cut, &mut extractor, task, opts)?;

    let g = &f.graph.geometry;
    let record = ForeignHead {
        note: foreign::NOT_A_CHIP_MODEL.into(),
        backbone: backbone.origin.clone(),
        backbone_digest: format!("{:016x}", backbone.digest),
        cut: cut.name.clone(),
        features: cut.shape.c,
        input: foreign::InputRecord { height: g.height, width: g.width, channels: g.channels, layout: g.layout },
        preparation: f.preparation.clone(),
        task: task.kind,
        head: opts.head.text.clone(),
        layers,
    };
    record.save(&run.dir)?;
    crate::fsutil::atomic_write(&run.dir.join("config.toml"), toml::to_string_pretty(config)?.as_bytes())?;
    let started = Instant::now();
    train_device().seed(config.seed);
    let report = fit_head::<D::Target>(&bottleneck, cut.shape, head_net, Vec::new(), run, config, opts.fit.progress)?;
    let train_seconds = started.elapsed().as_secs_f64();
    Ok(Outcome {
        spec: None,
        cut,
        metric: report.best_metric,
        best_epoch: report.best_epoch,
        epochs: report.history.epochs.len(),
        train_seconds,
        feature_seconds: bottleneck.seconds,
        cache: Some(bottleneck.lookup),
        trainable_params: trainable,
        total_params: trainable + f.graph.parameters,
    })
}

/// The bottleneck features of a task's examples: the training ones first, then the validation
/// ones.
struct Bottleneck<T> {
    features: Features,
    targets: Vec<T>,
    n_train: usize,
    lookup: Lookup,
    seconds: f64,
}

fn bottleneck<D>(backbone: &Backbone, cut: &Cut, extractor: &mut dyn Extractor, task: &Task<'_, D>, opts: &TransferOptions) -> Result<Bottleneck<D::Target>>
where
    D: Examples,
    D::Target: Target,
{
    let started = Instant::now();
    let rows: Vec<usize> = task.train.iter().chain(task.val).copied().collect();
    let (cache, progress) = (opts.cache.as_ref(), opts.fit.progress);
    let job = features::Job { backbone, cut, extractor, cache, progress, label: "training and validation" };
    let (features, targets, lookup) = features::features(task.data, &rows, job)?;
    let seconds = started.elapsed().as_secs_f64();
    if progress {
        let how = match (lookup, &opts.cache) {
            (Lookup::Hit, Some(c)) => format!("read from the cache {}", c.dir.display()),
            (Lookup::Miss, Some(c)) => format!("computed and cached in {}", c.dir.display()),
            (_, None) => "computed (cache off)".into(),
        };
        eprintln!(
            "bottleneck features at {} ({} values each) for {} + {} examples: {how} in {seconds:.1} s",
            cut.name,
            cut.shape.len(),
            task.train.len(),
            task.val.len()
        );
    }
    Ok(Bottleneck { features, targets, n_train: task.train.len(), lookup, seconds })
}

/// Trains `head` on the features, saving every best head behind `backbone` (the frozen blocks
/// before the cut; none for a foreign graph) in `run`.
fn fit_head<T: Target>(
    b: &Bottleneck<T>,
    shape: common::Shape,
    head: Net,
    backbone: Vec<crate::nn::net::Block>,
    run: &RunDir,
    config: &TrainConfig,
    progress: bool,
) -> Result<FitReport> {
    let (loss, metric) = (T::loss_name(config.loss), T::METRIC);
    let mut sink = HeadCheckpoints { run, backbone, loss, metric };
    let schedule = Schedule { label: "head epoch", ..crate::train::schedule(config, progress) };
    // Each epoch: every training feature, shuffled (no augmentation: the features were
    // computed once, on the examples as recorded).
    let n_train = b.n_train;
    let epoch_rows = |rng: &mut Rng| {
        let mut rows: Vec<usize> = (0..n_train).collect();
        rng.shuffle(&mut rows);
        rows
    };
    let val: Vec<usize> = (n_train..b.features.rows).collect();
    let source = FeatureBatches { features: &b.features, targets: &b.targets, shape };
    let start = Start::fresh(head, T::HIGHER_IS_BETTER);
    let lr = learning_rates(&start.net, config.lr, None);
    engine::run(&source, start, lr, epoch_rows, &val, &schedule, &mut sink)
}
