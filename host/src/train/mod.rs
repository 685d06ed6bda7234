//! Training: the run's description ([`config`]), the one training loop ([`engine`]) over
//! images or cached features, where training stands and when it stops ([`state`]), the run
//! directory with its checkpoints ([`checkpoint`]), `history.csv` ([`history`]), and what
//! differs between steering and classification ([`target`]).

pub mod checkpoint;
pub mod config;
pub mod engine;
pub mod history;
pub mod state;
pub mod target;

use anyhow::{ensure, Result};
use burn::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};
use burn::module::{Module, ParamGroup};
use burn::tensor::{Device, Tensor};

use crate::data::{Examples, Rng};
use crate::nn::net::{input_batch, Act, Net};
use crate::nn::spec::NetSpec;
use checkpoint::RunDir;
pub use config::TrainConfig;
pub use engine::FitReport;
use engine::{BatchSource, Schedule, Start};
use history::History;
pub use state::State;
pub use target::{RegressionLoss, Target};

/// How a run is driven, beyond what its [`TrainConfig`] records.
#[derive(Clone, Debug, Default)]
pub struct FitOptions {
    /// Continue the run in the output directory from its last finished epoch.
    pub resume: bool,
    /// Start over in an output directory that already holds a model (else that is an error).
    pub overwrite: bool,
    /// Progress bars and one line per epoch.
    pub progress: bool,
    /// Start from these weights instead of random ones (fine-tuning a transferred network).
    pub init: Option<Net>,
    /// Train the first blocks at a scaled learning rate (fine-tuning a transferred backbone).
    pub backbone_lr: Option<BackboneLr>,
}

/// Blocks `0..blocks` learn at `scale` times the learning rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BackboneLr {
    pub blocks: usize,
    pub scale: f64,
}

/// The training device: flex (CPU) with autodiff.
pub fn train_device() -> Device {
    Device::flex().autodiff()
}

/// The device for inference and validation.
pub fn infer_device() -> Device {
    Device::flex()
}

/// Images of a data set through the chip's preprocessing, as training batches.
pub struct Images<'d, D>(pub &'d D);

impl<D: Examples> BatchSource for Images<'_, D>
where
    D::Target: Target,
{
    type Target = D::Target;
    type Batch = Vec<i8>;

    fn fill(&self, rows: &[usize], seed: u64, train: bool) -> (Vec<i8>, Vec<D::Target>) {
        let (mut x, mut y) = (vec![0i8; rows.len() * self.0.input().shape.len()], vec![D::Target::default(); rows.len()]);
        self.0.fill_batch(rows, seed, train, &mut x, &mut y);
        (x, y)
    }

    fn act(&self, x: Vec<i8>, device: &Device) -> Act {
        let input = self.0.input();
        Act::Image(input_batch(&x, input.shape, input.quant.scale_exp, device))
    }
}

/// The schedule of `config` (a run's epochs, batch, seed, loss and patience).
pub fn schedule(config: &TrainConfig, progress: bool) -> Schedule {
    Schedule {
        epochs: config.epochs,
        batch: config.batch,
        seed: config.seed,
        loss: config.loss,
        patience: config.patience,
        lr_schedule: config.lr_schedule,
        progress,
        log_epochs: progress,
        label: "epoch",
    }
}

/// Trains `spec` on `data` as `config` says: each epoch's examples come from `epoch_rows`
/// (which shuffles and, for driving, balances), validation uses `val` as is. Writes the run
/// into `run` (or continues it with `opts.resume`).
pub fn fit<D>(
    spec: &NetSpec,
    data: &D,
    epoch_rows: impl FnMut(&mut Rng) -> Vec<usize>,
    val: &[usize],
    run: &RunDir,
    config: &TrainConfig,
    opts: &FitOptions,
) -> Result<FitReport>
where
    D: Examples,
    D::Target: Target,
{
    let layers = spec.resolve()?;
    ensure!(data.input().shape == spec.input_shape(), "the data's input {:?} is not the network's {:?}", data.input().shape, spec.input_shape());
    let start = if opts.resume && run.has_run() {
        let (state, net, optim) = run.load_last(&train_device())?;
        let history = History::read(&run.history_path()).unwrap_or_default();
        eprintln!(
            "resuming {} after epoch {} (best {} {:.4} at epoch {})",
            run.dir.display(),
            state.epoch,
            D::Target::METRIC,
            state.best_metric,
            state.best_epoch
        );
        Start { net, optim: Some(optim), state, history }
    } else {
        run.claim(opts.overwrite)?;
        run.start(spec, config)?;
        // The initial weights and dropout masks come from the backend's generator: seeded,
        // the same command gives the same network.
        train_device().seed(config.seed);
        let net = match &opts.init {
            Some(init) => {
                ensure!(init.blocks.len() == layers.len(), "the initial weights have {} blocks, the network {}", init.blocks.len(), layers.len());
                // Weights loaded for inference do not track gradients: fine-tuning trains
                // every layer, so enable them all (and dropout's training mode); `train()`
                // makes that take effect on the autodiff device.
                init.clone().fork(&train_device()).unfreeze().train()
            }
            None => Net::new(&layers, &train_device()),
        };
        Start::fresh(net, D::Target::HIGHER_IS_BETTER)
    };
    let lr = learning_rates(&start.net, config.lr, opts.backbone_lr);
    let mut sink = checkpoint::RunCheckpoints { run, loss: D::Target::loss_name(config.loss), metric: D::Target::METRIC, keep_epochs: config.keep_epochs };
    engine::run(&Images(data), start, lr, epoch_rows, val, &schedule(config, opts.progress), &mut sink)
}

/// One learning rate, or a scaled one for the backbone's parameters. (Scaling the gradients
/// instead would do nothing: Adam's step does not depend on their scale.)
pub fn learning_rates(net: &Net, lr: f64, backbone: Option<BackboneLr>) -> LearningRates {
    let backbone = backbone.map(|BackboneLr { blocks, scale }| {
        let backbone = Net::from_blocks(net.blocks[..blocks.min(net.blocks.len())].to_vec());
        (ParamGroup::ids_from_module(backbone), scale)
    });
    LearningRates { lr, backbone }
}

/// A run's learning rates, to be scaled epoch by epoch ([`config::LrSchedule`]).
#[derive(Clone)]
pub struct LearningRates {
    lr: f64,
    backbone: Option<(ParamGroup, f64)>,
}

impl LearningRates {
    /// The rates times `factor`.
    pub fn scaled(&self, factor: f64) -> ModuleLearningRate {
        let lr = self.lr * factor;
        match &self.backbone {
            None => lr.into(),
            Some((group, scale)) => ModuleLrScheduler::new(lr).with_group(group.clone(), lr * scale).step(),
        }
    }
}

/// Mean loss and mean metric of `net` (in validation mode) over `rows`, without augmentation.
pub fn evaluate<D>(net: &Net, data: &D, rows: &[usize], batch: usize, loss: RegressionLoss) -> (f64, f64)
where
    D: Examples,
    D::Target: Target,
{
    engine::evaluate(net, &Images(data), rows, batch, loss)
}

/// Runs `net` on examples `rows` of `data` as recorded (no augmentation), batch by batch on the
/// inference device, calling `each(outputs [n, k], targets)` for every batch.
pub fn for_each_batch<D>(net: &Net, data: &D, rows: &[usize], batch: usize, each: impl FnMut(Tensor<2>, &[D::Target]))
where
    D: Examples,
    D::Target: Target,
{
    engine::for_each_batch(net, &Images(data), rows, batch, each)
}
