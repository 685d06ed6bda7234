//! The one training loop: Adam on a [`Net`] over the batches of a [`BatchSource`] (images
//! through the chip's preprocessing, or cached bottleneck features), one progress bar per
//! epoch, validation after each, the best and the last epoch handed to a [`Checkpoints`] sink,
//! early stopping ([`State::exhausted`]).

use std::sync::mpsc::sync_channel;
use std::time::Instant;

use anyhow::{ensure, Result};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Bytes, Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};

use super::config::LrSchedule;
use super::history::{Epoch, History};
use super::state::State;
use super::{infer_device, train_device, LearningRates, RegressionLoss, Target};
use crate::data::Rng;
use crate::nn::net::{Act, Net};

/// Where a training loop's batches come from.
pub trait BatchSource: Sync {
    type Target: Target;
    /// One batch as the loader thread makes it (host memory).
    type Batch: Send;
    /// The examples `rows`; training batches are augmented with `seed`.
    fn fill(&self, rows: &[usize], seed: u64, train: bool) -> (Self::Batch, Vec<Self::Target>);
    /// The batch as the network's input on `device`.
    fn act(&self, batch: Self::Batch, device: &Device) -> Act;
}

/// What the loop saves as it goes.
pub trait Checkpoints {
    /// A new best epoch (`net` in validation mode).
    fn best(&mut self, net: &Net, state: &State) -> Result<()>;
    /// Every finished epoch: the network (training mode), Adam's state and the history, so a run
    /// can resume after it.
    fn epoch(&mut self, net: &Net, optim: &[u8], state: &State, history: &History) -> Result<()>;
}

/// How long and how fast to train.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub epochs: usize,
    pub batch: usize,
    pub seed: u64,
    pub loss: RegressionLoss,
    pub patience: Option<usize>,
    /// How the learning rate changes from epoch to epoch.
    pub lr_schedule: LrSchedule,
    pub progress: bool,
    /// Print one line per epoch (with or without the bar).
    pub log_epochs: bool,
    /// Prefix of the epoch lines ("epoch", "head epoch").
    pub label: &'static str,
}

/// Where the loop starts: a fresh network, or a run's last epoch.
pub struct Start {
    /// On the training device.
    pub net: Net,
    /// Adam's saved state (resuming), or a fresh optimizer.
    pub optim: Option<Vec<u8>>,
    pub state: State,
    pub history: History,
}

impl Start {
    /// Epoch 0 of `net` (moved to the training device).
    pub fn fresh(net: Net, higher_is_better: bool) -> Start {
        Start { net: net.fork(&train_device()), optim: None, state: State::start(higher_is_better), history: History::default() }
    }
}

/// What a finished loop reports.
#[derive(Clone, Debug)]
pub struct FitReport {
    pub history: History,
    pub best_epoch: usize,
    pub best_metric: f64,
    pub stopped_early: bool,
    /// The last epoch's network (training device).
    pub net: Net,
}

/// Trains from `start` until `schedule.epochs` (or an early stop): each epoch's examples come
/// from `epoch_rows` (which shuffles and, for driving, balances; its generator depends only on
/// the seed and the epoch, so a resumed run continues identically), validation uses `val`.
pub fn run<S: BatchSource>(
    source: &S,
    start: Start,
    lr: LearningRates,
    mut epoch_rows: impl FnMut(&mut Rng) -> Vec<usize>,
    val: &[usize],
    schedule: &Schedule,
    sink: &mut dyn Checkpoints,
) -> Result<FitReport> {
    ensure!(schedule.batch > 0 && schedule.epochs > 0, "epochs and batch size must be positive");
    let device = train_device();
    let Start { mut net, optim, mut state, mut history } = start;
    let mut optim_state = AdamConfig::new().init();
    if let Some(bytes) = optim {
        optim_state = optim_state.from_bytes(Bytes::from_bytes_vec(bytes))?;
    }
    let mut stopped_early = false;
    let higher = S::Target::HIGHER_IS_BETTER;
    let loss_name = S::Target::loss_name(schedule.loss);

    while state.epoch < schedule.epochs {
        let epoch = state.epoch + 1;
        let epoch_lr = lr.scaled(schedule.lr_schedule.factor(epoch, schedule.epochs));
        let mut rng = Rng::keyed(schedule.seed, epoch as u64);
        let rows = epoch_rows(&mut rng);
        ensure!(!rows.is_empty(), "no training examples");
        let started = Instant::now();
        let bar = epoch_bar(schedule, epoch, rows.len());
        let (mut loss_sum, mut metric_sum, mut seen) = (0.0, 0.0, 0usize);

        // Batches are made on another thread while the current one trains.
        let mut slot = Some(net);
        std::thread::scope(|scope| -> Result<()> {
            let (tx, rx) = sync_channel::<(S::Batch, Vec<S::Target>)>(2);
            let batches: Vec<(Vec<usize>, u64)> = rows.chunks(schedule.batch).map(|b| (b.to_vec(), rng.next_u64())).collect();
            scope.spawn(move || {
                for (idx, seed) in batches {
                    if tx.send(source.fill(&idx, seed, true)).is_err() {
                        return;
                    }
                }
            });
            for (x, y) in rx {
                let current = slot.take().expect("the network is in its slot between steps");
                let out = current.forward_act(source.act(x, &device));
                let loss = S::Target::loss(out.clone(), &y, &device, schedule.loss);
                let loss_value = loss.clone().into_scalar::<f32>() as f64;
                ensure!(loss_value.is_finite(), "the loss became {loss_value} at epoch {epoch}: lower the learning rate");
                let grads = GradientsParams::from_grads(loss.backward(), &current);
                slot = Some(optim_state.step(epoch_lr.clone(), current, grads));
                let k = out.dims()[1];
                metric_sum += S::Target::metric_sum(&out.into_data().try_to_vec::<f32>().unwrap_or_default(), k, &y);
                loss_sum += loss_value * y.len() as f64;
                seen += y.len();
                bar.inc(y.len() as u64);
                bar.set_message(format!("{loss_name} {:.4}  {} {:.4}", loss_sum / seen as f64, S::Target::METRIC, metric_sum / seen as f64));
            }
            Ok(())
        })?;
        net = slot.expect("the network is in its slot after the epoch");
        let train_seconds = started.elapsed().as_secs_f64();
        let valid = net.valid();
        let (val_loss, val_metric) = evaluate(&valid, source, val, schedule.batch, schedule.loss);
        bar.finish_and_clear();

        let record = Epoch {
            epoch,
            train_loss: loss_sum / seen as f64,
            train_metric: metric_sum / seen as f64,
            val_loss,
            val_metric,
            seconds: started.elapsed().as_secs_f64(),
            images_per_second: seen as f64 / train_seconds,
        };
        let best = state.record(val_metric, higher);
        if best {
            sink.best(&valid, &state)?;
        }
        if schedule.log_epochs {
            eprintln!(
                "{} {epoch:>3}/{}  {loss_name} {:.4}  {} {:.4}  val {loss_name} {:.4}  val {} {:.4}  {:.0} img/s  {:.0}s{}",
                schedule.label,
                schedule.epochs,
                record.train_loss,
                S::Target::METRIC,
                record.train_metric,
                val_loss,
                S::Target::METRIC,
                val_metric,
                record.images_per_second,
                record.seconds,
                if best { "  (best)" } else { "" }
            );
        }
        history.epochs.push(record);
        sink.epoch(&net, &optim_state.into_bytes()?, &state, &history)?;
        if state.exhausted(schedule.patience) {
            if schedule.log_epochs {
                eprintln!("early stop: no better validation {} for {} epochs", S::Target::METRIC, state.stale_epochs);
            }
            stopped_early = true;
            break;
        }
    }
    Ok(FitReport { history, best_epoch: state.best_epoch, best_metric: state.best_metric, stopped_early, net })
}

fn epoch_bar(schedule: &Schedule, epoch: usize, n: usize) -> ProgressBar {
    if !schedule.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(n as u64);
    bar.set_style(ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {per_sec} eta {eta}  {msg}").expect("valid template").progress_chars("=> "));
    bar.set_prefix(format!("{} {epoch}/{}", schedule.label, schedule.epochs));
    bar
}

/// Runs `net` on examples `rows` of `source` as recorded (no augmentation), batch by batch on
/// the inference device, calling `each(outputs [n, k], targets)` for every batch.
pub fn for_each_batch<S: BatchSource>(net: &Net, source: &S, rows: &[usize], batch: usize, mut each: impl FnMut(Tensor<2>, &[S::Target])) {
    let device = infer_device();
    let net = net.clone().fork(&device);
    for chunk in rows.chunks(batch.max(1)) {
        let (x, y) = source.fill(chunk, 0, false);
        each(net.forward_act(source.act(x, &device)), &y);
    }
}

/// Mean loss and mean metric of `net` (in validation mode) over `rows`, without augmentation
/// (NaN for no rows).
pub fn evaluate<S: BatchSource>(net: &Net, source: &S, rows: &[usize], batch: usize, loss: RegressionLoss) -> (f64, f64) {
    if rows.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let device = infer_device();
    let (mut loss_sum, mut metric_sum) = (0.0, 0.0);
    for_each_batch(net, source, rows, batch, |out, y| {
        let k = out.dims()[1];
        loss_sum += S::Target::loss(out.clone(), y, &device, loss).into_scalar::<f32>() as f64 * y.len() as f64;
        metric_sum += S::Target::metric_sum(&out.into_data().try_to_vec::<f32>().unwrap_or_default(), k, y);
    });
    (loss_sum / rows.len() as f64, metric_sum / rows.len() as f64)
}
