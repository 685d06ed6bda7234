//! A training run's directory, written so that nothing finished is ever lost.
//!
//! ```text
//! DIR/arch.toml        the network, with the class count filled in
//! DIR/config.toml      what was trained on what, and how (`TrainConfig`; older runs: meta.toml)
//! DIR/model.bpk        the best weights so far (burnpack)
//! DIR/best.toml        which epoch they are from, and its validation numbers
//! DIR/history.csv      one row per finished epoch
//! DIR/last/            the last finished epoch: model.bpk, optim.bpk (Adam state), state.toml
//! DIR/epochs/NNN.bpk   every epoch's weights, when the run keeps them (`--keep-epochs`)
//! ```
//!
//! Every file is written atomically (temporary + rename). `last/` is replaced as a whole: the
//! new epoch is written to `last.new/`, the old one moved to `last.old/`, the new one renamed in,
//! the old one removed; an interrupted switch is repaired on the next open.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::module::Module;
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use super::engine::Checkpoints;
use super::history::History;
use super::state::State;
use crate::data::{DataSet, Split};
use crate::fsutil::atomic_write;
use crate::nn::net::Net;
use crate::nn::spec::NetSpec;

pub struct RunDir {
    pub dir: PathBuf,
}

fn to_bytes(net: &Net) -> Result<Vec<u8>> {
    let bytes = net.clone().into_record().into_bytes().context("cannot serialize the network")?;
    Ok(bytes.to_vec())
}

fn read_toml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}

fn write_toml<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    atomic_write(path, toml::to_string_pretty(value)?.as_bytes())
}

impl RunDir {
    pub fn new(dir: impl Into<PathBuf>) -> RunDir {
        RunDir { dir: dir.into() }
    }

    pub fn arch_path(&self) -> PathBuf {
        self.dir.join("arch.toml")
    }

    pub fn best_path(&self) -> PathBuf {
        self.dir.join("model.bpk")
    }

    pub fn history_path(&self) -> PathBuf {
        self.dir.join("history.csv")
    }

    fn last(&self) -> PathBuf {
        self.dir.join("last")
    }

    /// True when a run has finished at least one epoch here.
    pub fn has_run(&self) -> bool {
        self.repair().is_ok() && self.last().join("state.toml").exists()
    }

    /// True when a model was saved here (a finished epoch, or a best checkpoint).
    pub fn has_model(&self) -> bool {
        self.best_path().exists() || self.has_run()
    }

    /// Refuses to start a new run over a saved one unless `overwrite`: what the user trained is
    /// never replaced by accident.
    pub fn claim(&self, overwrite: bool) -> Result<()> {
        if self.has_model() && !overwrite {
            bail!("{} already holds a trained model: continue its run with --resume, choose another --out, or pass --force to replace it", self.dir.display());
        }
        Ok(())
    }

    /// Finishes an interrupted switch of `last/` (see the module docs).
    fn repair(&self) -> Result<()> {
        let (last, old, new) = (self.last(), self.dir.join("last.old"), self.dir.join("last.new"));
        if !last.exists() && old.exists() {
            std::fs::rename(&old, &last).with_context(|| format!("cannot restore {}", last.display()))?;
        }
        for stale in [old, new] {
            if stale.exists() {
                std::fs::remove_dir_all(&stale).with_context(|| format!("cannot remove {}", stale.display()))?;
            }
        }
        Ok(())
    }

    /// Starts a run: writes the network and the run's description.
    pub fn start(&self, spec: &NetSpec, config: &TrainConfig) -> Result<()> {
        std::fs::create_dir_all(&self.dir).with_context(|| format!("cannot create {}", self.dir.display()))?;
        atomic_write(&self.arch_path(), spec.to_toml().as_bytes())?;
        write_toml(&self.dir.join("config.toml"), config)
    }

    pub fn spec(&self) -> Result<NetSpec> {
        NetSpec::load(&self.arch_path().to_string_lossy())
    }

    /// What the run was trained on and how (runs of earlier versions kept it in `meta.toml`,
    /// with the same fields).
    pub fn config(&self) -> Result<TrainConfig> {
        let path = self.dir.join("config.toml");
        let legacy = self.dir.join("meta.toml");
        read_toml(if !path.exists() && legacy.exists() { &legacy } else { &path })
    }

    /// The best epoch's state (what `best.toml` says).
    pub fn best_state(&self) -> Result<State> {
        read_toml(&self.dir.join("best.toml"))
    }

    /// Reopens the run's data (or `dirs` instead, when given; without augmentation) and its
    /// validation split.
    pub fn open_data(&self, dirs: &[PathBuf], progress: bool) -> Result<RunData> {
        self.open(dirs, false, progress)
    }

    /// Reopens the run's data as its training saw it: with the run's augmentation (and, for
    /// driving, the side cameras it draws from) unless the run was trained without. For
    /// fine-tuning the run further; examples read without augmentation are the same as
    /// [`RunDir::open_data`]'s.
    pub fn open_training_data(&self, dirs: &[PathBuf], progress: bool) -> Result<RunData> {
        self.open(dirs, self.config()?.augment, progress)
    }

    fn open(&self, dirs: &[PathBuf], augment: bool, progress: bool) -> Result<RunData> {
        let (spec, config) = (self.spec()?, self.config()?);
        let data = crate::data::open(&config.source(dirs, augment, progress), spec.input_spec())?;
        let split = data.split(&config.split())?;
        Ok(RunData { spec, config, data, split })
    }

    /// Saves a finished epoch: weights, optimizer state and the training state, as one unit.
    pub fn save_epoch(&self, net: &Net, optim_bytes: &[u8], state: &State) -> Result<()> {
        self.repair()?;
        let new = self.dir.join("last.new");
        std::fs::create_dir_all(&new).with_context(|| format!("cannot create {}", new.display()))?;
        atomic_write(&new.join("model.bpk"), &to_bytes(net)?)?;
        atomic_write(&new.join("optim.bpk"), optim_bytes)?;
        write_toml(&new.join("state.toml"), state)?;
        let (last, old) = (self.last(), self.dir.join("last.old"));
        if last.exists() {
            std::fs::rename(&last, &old).with_context(|| format!("cannot move {}", last.display()))?;
        }
        std::fs::rename(&new, &last).with_context(|| format!("cannot move {}", new.display()))?;
        if old.exists() {
            std::fs::remove_dir_all(&old).with_context(|| format!("cannot remove {}", old.display()))?;
        }
        Ok(())
    }

    /// Saves the best weights so far.
    pub fn save_best(&self, net: &Net, state: &State) -> Result<()> {
        atomic_write(&self.best_path(), &to_bytes(net)?)?;
        write_toml(&self.dir.join("best.toml"), state)
    }

    /// The last finished epoch: state, network weights and optimizer state bytes.
    pub fn load_last(&self, device: &Device) -> Result<(State, Net, Vec<u8>)> {
        self.repair()?;
        let last = self.last();
        if !last.join("state.toml").exists() {
            bail!("{} has no finished epoch to resume from", self.dir.display());
        }
        let state: State = read_toml(&last.join("state.toml"))?;
        let net = self.load_weights(&last.join("model.bpk"), device)?;
        let optim = std::fs::read(last.join("optim.bpk")).with_context(|| format!("cannot read {}", last.join("optim.bpk").display()))?;
        Ok((state, net, optim))
    }

    /// The best network (what `eval`, `quantize` and `sim drive` use).
    pub fn load_best(&self, device: &Device) -> Result<Net> {
        self.load_weights(&self.best_path(), device)
    }

    /// Where epoch `epoch`'s weights are kept (runs with `keep_epochs`).
    pub fn epoch_path(&self, epoch: usize) -> PathBuf {
        self.dir.join("epochs").join(format!("{epoch:03}.bpk"))
    }

    /// The epochs whose weights the run kept, in order.
    pub fn kept_epochs(&self) -> Vec<usize> {
        let mut epochs: Vec<usize> = std::fs::read_dir(self.dir.join("epochs"))
            .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".bpk")?.parse().ok()).collect())
            .unwrap_or_default();
        epochs.sort_unstable();
        epochs
    }

    /// Epoch `epoch`'s network.
    pub fn load_epoch(&self, epoch: usize, device: &Device) -> Result<Net> {
        self.load_weights(&self.epoch_path(epoch), device)
    }

    /// Makes epoch `epoch`'s kept weights the run's best, keeping the previous best as
    /// `model.<previous>.bpk` (nothing is lost); `state` says why, in `best.toml`.
    pub fn promote_epoch(&self, epoch: usize, state: &State, previous: &str) -> Result<()> {
        let best = self.best_path();
        let keep = self.dir.join(format!("model.{previous}.bpk"));
        // The first promotion keeps the original; later ones replace only promoted weights.
        if best.exists() && !keep.exists() {
            std::fs::copy(&best, &keep).with_context(|| format!("cannot keep {} as {}", best.display(), keep.display()))?;
            let toml = self.dir.join("best.toml");
            if toml.exists() {
                std::fs::copy(&toml, self.dir.join(format!("best.{previous}.toml"))).with_context(|| format!("cannot keep {}", toml.display()))?;
            }
        }
        let bytes = std::fs::read(self.epoch_path(epoch)).with_context(|| format!("cannot read {}", self.epoch_path(epoch).display()))?;
        atomic_write(&best, &bytes)?;
        write_toml(&self.dir.join("best.toml"), state)
    }

    fn load_weights(&self, path: &Path, device: &Device) -> Result<Net> {
        let spec = self.spec()?;
        let layers = spec.resolve()?;
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let record =
            burn::store::ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).with_context(|| format!("{} is not a burnpack file", path.display()))?;
        Net::new(&layers, device).try_load_record(record).with_context(|| format!("{} does not match {}", path.display(), self.arch_path().display()))
    }
}

/// A run's data reopened: the network, the run's description, the data and its split.
pub struct RunData {
    pub spec: NetSpec,
    pub config: TrainConfig,
    pub data: DataSet,
    pub split: Split,
}

/// The training loop's checkpoints in a run directory: the best weights, then after every
/// epoch `last/` (resume), `history.csv` and the plots.
pub struct RunCheckpoints<'r> {
    pub run: &'r RunDir,
    /// Names of the loss and the metric in the plots.
    pub loss: &'static str,
    pub metric: &'static str,
    /// Also keep each epoch's weights (`epochs/NNN.bpk`).
    pub keep_epochs: bool,
}

impl Checkpoints for RunCheckpoints<'_> {
    fn best(&mut self, net: &Net, state: &State) -> Result<()> {
        self.run.save_best(net, state)
    }

    fn epoch(&mut self, net: &Net, optim: &[u8], state: &State, history: &History) -> Result<()> {
        if self.keep_epochs {
            atomic_write(&self.run.epoch_path(state.epoch), &to_bytes(net)?)?;
        }
        atomic_write(&self.run.history_path(), history.to_csv().as_bytes())?;
        crate::plot::history(history, self.loss, self.metric, state.best_epoch, &self.run.dir)?;
        self.run.save_epoch(net, optim, state)
    }
}
