//! A whole training job, as `pilot train` and the demo run it: load the data the
//! [`TrainConfig`] names, split it without leaks, train the network (or transfer a backbone)
//! into a run directory, and for steering write the validation plots.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::data::{load_classification, load_driving, Balance, Examples, Rng, Split};
use crate::nn::spec::{NetSpec, TaskKind};
use crate::train::checkpoint::RunDir;
use crate::train::config::TrainConfig;
use crate::train::{fit, infer_device, FitOptions, Target};
use crate::transfer::{self, Backbone, TransferOptions};

/// What is trained.
pub enum Network {
    /// An architecture from random weights.
    Arch(NetSpec),
    /// A backbone's layers reused as `options` says.
    Transfer(Box<Backbone>, TransferOptions),
}

impl Network {
    /// The network's input (a transfer keeps its backbone's).
    pub fn spec(&self) -> &NetSpec {
        match self {
            Network::Arch(spec) => spec,
            Network::Transfer(backbone, _) => &backbone.spec,
        }
    }
}

/// One run to train.
pub struct Job {
    pub network: Network,
    pub config: TrainConfig,
    pub out: PathBuf,
    pub fit: FitOptions,
}

/// What a finished job reports.
#[derive(Clone, Debug)]
pub struct Trained {
    /// The validation metric's name ("mae", "accuracy") and its best value and epoch.
    pub metric: &'static str,
    pub best_metric: f64,
    pub best_epoch: usize,
    pub epochs: usize,
    pub stopped_early: bool,
    /// Examples in the data, and in each part of the split.
    pub examples: usize,
    pub train: usize,
    pub val: usize,
    /// Driving: one line per recording (rows and how its labels were made).
    pub recordings: Vec<String>,
    /// Classification: the class count.
    pub classes: usize,
    /// Transfer: what the transfer did.
    pub transfer: Option<transfer::Outcome>,
}

/// Runs `job`: its data, split and training, into `job.out`.
pub fn train(job: &Job) -> Result<Trained> {
    let c = &job.config;
    let source = c.source(&[], c.augment, job.fit.progress);
    let input = job.network.spec().input_spec();
    let run = RunDir::new(&job.out);
    if c.data_kind.is_driving() {
        let data = load_driving(&source, input)?;
        let split = limited(data.split(&c.split())?, c.max_examples, c.seed);
        let recordings = describe_recordings(&data);
        if job.fit.progress {
            eprintln!("{} rows: {} for training, {} for validation", data.len(), split.train.len(), split.val.len());
            recordings.iter().for_each(|r| eprintln!("  {r}"));
        }
        let balance = Balance { keep_straight: c.keep_straight.unwrap_or(Balance::default().keep_straight), ..Balance::default() };
        let epoch_rows = |rng: &mut Rng| data.epoch(&split.train, &balance, rng);
        let mut trained = run_network(job, &run, &data, &split, TaskKind::Regression, 1, epoch_rows)?;
        trained.recordings = recordings;
        let net = run.load_best(&infer_device())?;
        let predicted = crate::nn::driver::predict(&net, &data, &split.val, c.batch);
        let truth: Vec<f32> = split.val.iter().map(|&i| data.rows()[i].steering).collect();
        crate::plot::steering(&truth, &predicted, &run.dir)?;
        Ok(trained)
    } else {
        let data = load_classification(&source, input)?;
        let split = limited(data.split(&c.split())?, c.max_examples, c.seed);
        if job.fit.progress {
            eprintln!("{} images of {} classes: {} for training, {} for validation", data.len(), data.num_classes(), split.train.len(), split.val.len());
        }
        let classes = data.num_classes();
        let mut trained = run_network(job, &run, &data, &split, TaskKind::Classification, classes as u16, shuffled(split.train.clone()))?;
        trained.classes = classes;
        Ok(trained)
    }
}

/// Trains the job's network on `data` with its split.
fn run_network<D>(
    job: &Job,
    run: &RunDir,
    data: &D,
    split: &Split,
    kind: TaskKind,
    outputs: u16,
    epoch_rows: impl FnMut(&mut Rng) -> Vec<usize>,
) -> Result<Trained>
where
    D: Examples + ClassNames,
    D::Target: Target,
{
    let mut config = job.config.clone();
    config.classes = data.class_names();
    let summary = |(best_metric, best_epoch, epochs, stopped_early), transfer| Trained {
        metric: D::Target::METRIC,
        best_metric,
        best_epoch,
        epochs,
        stopped_early,
        examples: data.len(),
        train: split.train.len(),
        val: split.val.len(),
        recordings: Vec::new(),
        classes: 0,
        transfer,
    };
    match &job.network {
        Network::Arch(spec) => {
            let spec = if kind == TaskKind::Classification { spec.clone().with_classes(outputs) } else { spec.clone() };
            let r = fit(&spec, data, epoch_rows, &split.val, run, &config, &job.fit)?;
            Ok(summary((r.best_metric, r.best_epoch, r.history.epochs.len(), r.stopped_early), None))
        }
        Network::Transfer(backbone, options) => {
            let cut = backbone.cut(options.cut.as_deref())?;
            config.transfer =
                Some(format!("{} from {}, cut after {}, head \"{}\"", options.mode.name(), backbone.origin.display(), cut.name, options.head.text));
            let task = transfer::Task { data, kind, outputs, train: &split.train, val: &split.val };
            let o = transfer::train(backbone, &task, epoch_rows, run, &config, options).context("transfer learning")?;
            Ok(summary((o.metric, o.best_epoch, o.epochs, o.epochs < config.epochs), Some(o)))
        }
    }
}

/// The class names a run records (none for steering).
pub trait ClassNames {
    fn class_names(&self) -> Vec<String>;
}

impl ClassNames for crate::data::DrivingData {
    fn class_names(&self) -> Vec<String> {
        Vec::new()
    }
}

impl ClassNames for crate::data::ClassificationData {
    fn class_names(&self) -> Vec<String> {
        crate::data::ClassificationData::class_names(self).to_vec()
    }
}

/// One line per recording: rows and how its labels are made.
fn describe_recordings(data: &crate::data::DrivingData) -> Vec<String> {
    let mut counts = vec![0usize; data.recordings().len()];
    data.rows().iter().for_each(|r| counts[r.recording] += 1);
    data.recordings()
        .iter()
        .zip(data.settings())
        .zip(counts)
        .map(|((dir, s), n)| {
            format!(
                "{}: {n} rows, side-camera correction {}, steering averaged over {} row(s) ({})",
                dir.display(),
                s.side_correction,
                s.smooth_steering,
                if s.from_file { "its recording.toml" } else { "command line" }
            )
        })
        .collect()
}

/// Keeps a random `max` of the training examples (the split is sorted, often by class).
pub fn limited(mut split: Split, max: Option<usize>, seed: u64) -> Split {
    if let Some(m) = max {
        Rng::keyed(seed, 0x11A1).shuffle(&mut split.train);
        split.train.truncate(m);
        split.train.sort_unstable();
    }
    split
}

/// Each epoch: `rows`, shuffled.
pub fn shuffled(rows: Vec<usize>) -> impl FnMut(&mut Rng) -> Vec<usize> {
    move |rng| {
        let mut rows = rows.clone();
        rng.shuffle(&mut rows);
        rows
    }
}
