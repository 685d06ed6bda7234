//! Training: Adam on a [`Net`], one progress bar per epoch, validation after each, best and
//! last checkpoints written atomically, resume, early stopping, `history.csv`.

pub mod checkpoint;
pub mod history;
pub mod target;

use std::sync::mpsc::sync_channel;
use std::time::Instant;

use anyhow::{ensure, Result};
use burn::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
use burn::module::{Module, ParamGroup};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Bytes, Device};
use indicatif::{ProgressBar, ProgressStyle};

use crate::data::{Examples, Rng};
use crate::nn::net::{input_batch, Net};
use crate::nn::spec::NetSpec;
use checkpoint::{Meta, RunDir, State};
use history::{Epoch, History};
pub use target::{RegressionLoss, Target};

#[derive(Clone, Debug)]
pub struct FitOptions {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
    /// Stop after this many epochs without a better validation metric.
    pub patience: Option<usize>,
    /// Continue the run in the output directory from its last finished epoch.
    pub resume: bool,
    /// Start over in an output directory that already holds a model (else that is an error).
    pub overwrite: bool,
    pub progress: bool,
    pub loss: RegressionLoss,
    /// Start from these weights instead of random ones (fine-tuning a transferred network).
    pub init: Option<Net>,
    /// Train the first blocks at a scaled learning rate (fine-tuning a transferred backbone).
    pub backbone_lr: Option<BackboneLr>,
}

impl Default for FitOptions {
    fn default() -> FitOptions {
        FitOptions {
            epochs: 10,
            batch: 64,
            lr: 1e-3,
            seed: 1,
            patience: None,
            resume: false,
            overwrite: false,
            progress: true,
            loss: RegressionLoss::Mse,
            init: None,
            backbone_lr: None,
        }
    }
}

/// Blocks `0..blocks` learn at `scale` times the learning rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BackboneLr {
    pub blocks: usize,
    pub scale: f64,
}

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct FitReport {
    pub history: History,
    pub best_epoch: usize,
    pub best_metric: f64,
    pub stopped_early: bool,
}

/// The training device: flex (CPU) with autodiff.
pub fn train_device() -> Device {
    Device::flex().autodiff()
}

/// The device for inference and validation.
pub fn infer_device() -> Device {
    Device::flex()
}

/// Trains `spec` on `data`: each epoch's examples come from `epoch_rows` (which shuffles and,
/// for driving, balances), validation uses `val` as is. Writes the run into `run`.
pub fn fit<D>(
    spec: &NetSpec,
    data: &D,
    mut epoch_rows: impl FnMut(&mut Rng) -> Vec<usize>,
    val: &[usize],
    run: &RunDir,
    meta: &Meta,
    opts: &FitOptions,
) -> Result<FitReport>
where
    D: Examples,
    D::Target: Target,
{
    ensure!(opts.batch > 0 && opts.epochs > 0, "epochs and batch size must be positive");
    let device = train_device();
    let layers = spec.resolve()?;
    ensure!(data.input().shape == spec.input_shape(), "the data's input {:?} is not the network's {:?}", data.input().shape, spec.input_shape());

    let mut optim = AdamConfig::new().init();
    let (mut net, mut state, mut history) = if opts.resume && run.has_run() {
        let (state, net, optim_bytes) = run.load_last(&device)?;
        optim = optim.from_bytes(Bytes::from_bytes_vec(optim_bytes))?;
        let history = History::read(&run.history_path()).unwrap_or_default();
        eprintln!("resuming {} after epoch {} (best {} {:.4} at epoch {})", run.dir.display(), state.epoch, D::Target::METRIC, state.best_metric, state.best_epoch);
        (net.fork(&device), state, history)
    } else {
        run.claim(opts.overwrite)?;
        run.start(spec, meta)?;
        let worst = if D::Target::HIGHER_IS_BETTER { f64::NEG_INFINITY } else { f64::INFINITY };
        let net = match &opts.init {
            Some(init) => {
                ensure!(init.blocks.len() == layers.len(), "the initial weights have {} blocks, the network {}", init.blocks.len(), layers.len());
                // Weights loaded for inference do not track gradients: fine-tuning trains
                // every layer, so enable them all (and dropout's training mode); `train()`
                // makes that take effect on the autodiff device.
                init.clone().fork(&device).unfreeze().train()
            }
            None => Net::new(&layers, &device),
        };
        (net, State { best_metric: worst, ..State::default() }, History::default())
    };
    let lr = learning_rates(&net, opts);
    let outputs = layers.last().map(|l| l.output.c as usize).unwrap_or(1);
    let mut stopped_early = false;

    while state.epoch < opts.epochs {
        let epoch = state.epoch + 1;
        // Each epoch's draws depend only on (seed, epoch): a resumed run continues identically.
        let mut rng = Rng::keyed(opts.seed, epoch as u64);
        let rows = epoch_rows(&mut rng);
        ensure!(!rows.is_empty(), "no training examples");
        let started = Instant::now();
        let bar = epoch_bar(opts, epoch, rows.len());
        let (mut loss_sum, mut metric_sum, mut seen) = (0.0, 0.0, 0usize);
        let n_in = data.input().shape.len();

        // Batches are made on another thread while the current one trains.
        let mut slot = Some(net);
        std::thread::scope(|scope| -> Result<()> {
            let (tx, rx) = sync_channel::<(Vec<i8>, Vec<D::Target>)>(2);
            let batches: Vec<(Vec<usize>, u64)> = rows.chunks(opts.batch).map(|b| (b.to_vec(), rng.next_u64())).collect();
            scope.spawn(move || {
                for (idx, seed) in batches {
                    let (mut x, mut y) = (vec![0i8; idx.len() * n_in], vec![D::Target::default(); idx.len()]);
                    data.fill_batch(&idx, seed, true, &mut x, &mut y);
                    if tx.send((x, y)).is_err() {
                        return;
                    }
                }
            });
            for (x, y) in rx {
                let input = input_batch(&x, data.input().shape, data.input().quant.scale_exp, &device);
                let current = slot.take().expect("the network is in its slot between steps");
                let out = current.forward(input);
                let loss = D::Target::loss(out.clone(), &y, &device, opts.loss);
                let loss_value: f64 = loss.clone().into_scalar::<f32>() as f64;
                ensure!(loss_value.is_finite(), "the loss became {loss_value} at epoch {epoch}: lower the learning rate");
                let grads = GradientsParams::from_grads(loss.backward(), &current);
                slot = Some(optim.step(lr.clone(), current, grads));
                let out: Vec<f32> = out.into_data().try_to_vec::<f32>().unwrap_or_default();
                loss_sum += loss_value * y.len() as f64;
                metric_sum += D::Target::metric_sum(&out, outputs, &y);
                seen += y.len();
                bar.inc(y.len() as u64);
                bar.set_message(format!("{} {:.4}  {} {:.4}", D::Target::loss_name(opts.loss), loss_sum / seen as f64, D::Target::METRIC, metric_sum / seen as f64));
            }
            Ok(())
        })?;
        net = slot.expect("the network is in its slot after the epoch");
        let train_seconds = started.elapsed().as_secs_f64();
        let (val_loss, val_metric) = evaluate(&net.valid(), data, val, opts.batch, opts.loss);
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
        let improved = if D::Target::HIGHER_IS_BETTER { val_metric > state.best_metric } else { val_metric < state.best_metric };
        state.epoch = epoch;
        if improved || val.is_empty() {
            state.best_epoch = epoch;
            state.best_metric = val_metric;
            state.stale_epochs = 0;
            run.save_best(&net.valid(), &state)?;
        } else {
            state.stale_epochs += 1;
        }
        {
            eprintln!(
                "epoch {epoch:>3}/{}  {} {:.4}  {} {:.4}  val {} {:.4}  val {} {:.4}  {:.0} img/s  {:.0}s{}",
                opts.epochs,
                D::Target::loss_name(opts.loss), record.train_loss, D::Target::METRIC, record.train_metric,
                D::Target::loss_name(opts.loss), val_loss, D::Target::METRIC, val_metric,
                record.images_per_second, record.seconds,
                if state.best_epoch == epoch { "  (best)" } else { "" }
            );
        }
        history.epochs.push(record);
        crate::fsutil::atomic_write(&run.history_path(), history.to_csv().as_bytes())?;
        crate::plot::history(&history, D::Target::loss_name(opts.loss), D::Target::METRIC, state.best_epoch, &run.dir)?;
        run.save_epoch(&net, &optim.into_bytes()?.to_vec(), &state)?;
        if opts.patience.is_some_and(|p| state.stale_epochs >= p) {
            eprintln!("early stop: no better validation {} for {} epochs", D::Target::METRIC, state.stale_epochs);
            stopped_early = true;
            break;
        }
    }
    Ok(FitReport { history, best_epoch: state.best_epoch, best_metric: state.best_metric, stopped_early })
}

/// One learning rate, or a scaled one for the backbone's parameters. (Scaling the gradients
/// instead would do nothing: Adam's step does not depend on their scale.)
fn learning_rates(net: &Net, opts: &FitOptions) -> ModuleLearningRate {
    match opts.backbone_lr {
        None => opts.lr.into(),
        Some(BackboneLr { blocks, scale }) => {
            let backbone = Net { blocks: net.blocks[..blocks.min(net.blocks.len())].to_vec() };
            ModuleLrScheduler::new(opts.lr).with_group(ParamGroup::ids_from_module(backbone), opts.lr * scale).step()
        }
    }
}

fn epoch_bar(opts: &FitOptions, epoch: usize, n: usize) -> ProgressBar {
    if !opts.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(n as u64);
    bar.set_style(
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {per_sec} eta {eta}  {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(format!("{epoch}/{}", opts.epochs));
    bar
}

/// Mean loss and mean metric of `net` (in validation mode) over `rows`, without augmentation.
pub fn evaluate<D>(net: &Net, data: &D, rows: &[usize], batch: usize, loss: RegressionLoss) -> (f64, f64)
where
    D: Examples,
    D::Target: Target,
{
    if rows.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let device = infer_device();
    let (mut loss_sum, mut metric_sum) = (0.0, 0.0);
    for_each_batch(net, data, rows, batch, |out, y| {
        let k = out.dims()[1];
        loss_sum += D::Target::loss(out.clone(), y, &device, loss).into_scalar::<f32>() as f64 * y.len() as f64;
        metric_sum += D::Target::metric_sum(&out.into_data().try_to_vec::<f32>().unwrap_or_default(), k, y);
    });
    (loss_sum / rows.len() as f64, metric_sum / rows.len() as f64)
}

/// Runs `net` on examples `rows` of `data` as recorded (no augmentation), batch by batch on the
/// inference device, calling `each(outputs [n, k], targets)` for every batch.
pub fn for_each_batch<D>(net: &Net, data: &D, rows: &[usize], batch: usize, mut each: impl FnMut(burn::tensor::Tensor<2>, &[D::Target]))
where
    D: Examples,
    D::Target: Target,
{
    let device = infer_device();
    let net = net.clone().fork(&device);
    let n_in = data.input().shape.len();
    for chunk in rows.chunks(batch.max(1)) {
        let (mut x, mut y) = (vec![0i8; chunk.len() * n_in], vec![D::Target::default(); chunk.len()]);
        data.fill_batch(chunk, 0, false, &mut x, &mut y);
        each(net.forward(input_batch(&x, data.input().shape, data.input().quant.scale_exp, &device)), &y);
    }
}
