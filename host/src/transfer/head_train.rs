//! Training a head on cached bottleneck features: Adam, mini-batches, validation after each
//! epoch, the best epoch kept. Without the backbone in the loop an epoch takes moments.

use std::time::Instant;

use anyhow::{ensure, Result};
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use common::Shape;

use super::features::Features;
use crate::data::Rng;
use crate::nn::net::{Act, Net};
use crate::train::history::{Epoch, History};
use crate::train::{infer_device, train_device, RegressionLoss, Target};

#[derive(Clone, Debug)]
pub struct HeadOptions {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
    pub loss: RegressionLoss,
    /// Stop after this many epochs without a better validation metric.
    pub patience: Option<usize>,
    /// Print one line per epoch.
    pub verbose: bool,
}

pub struct HeadReport {
    /// The head of the best epoch (inference device).
    pub head: Net,
    pub history: History,
    pub best_epoch: usize,
    pub best_metric: f64,
}

/// A batch of feature rows as the head's input: an image (the head starts with flatten) or
/// flat.
fn act(f: &Features, rows: &[usize], shape: Shape, device: &Device) -> Act {
    let mut v = Vec::with_capacity(rows.len() * f.dim);
    for &r in rows {
        v.extend_from_slice(f.row(r));
    }
    if shape.is_flat() {
        Act::Flat(Tensor::from_data(TensorData::new(v, [rows.len(), f.dim]), device))
    } else {
        // Rows are already in burn's (channel, row, column) order.
        Act::Image(Tensor::from_data(TensorData::new(v, [rows.len(), shape.c as usize, shape.h as usize, shape.w as usize]), device))
    }
}

/// Trains `head` (made on the training device) on features of shape `shape`.
pub fn train_head<T: Target>(head: Net, shape: Shape, train: (&Features, &[T]), val: (&Features, &[T]), opts: &HeadOptions) -> Result<HeadReport> {
    ensure!(opts.epochs > 0 && opts.batch > 0, "epochs and batch size must be positive");
    ensure!(train.0.rows == train.1.len() && val.0.rows == val.1.len() && train.0.rows > 0, "features and targets disagree");
    let device = train_device();
    let blocks = head.blocks.len();
    let mut head = head.fork(&device);
    let mut optim = AdamConfig::new().init();
    let mut history = History::default();
    let worst = if T::HIGHER_IS_BETTER { f64::NEG_INFINITY } else { f64::INFINITY };
    let (mut best, mut best_epoch, mut best_metric) = (head.valid(), 0, worst);

    for epoch in 1..=opts.epochs {
        let started = Instant::now();
        let mut order: Vec<usize> = (0..train.0.rows).collect();
        Rng::keyed(opts.seed, epoch as u64).shuffle(&mut order);
        let (mut loss_sum, mut metric_sum) = (0.0, 0.0);
        for rows in order.chunks(opts.batch) {
            let y: Vec<T> = rows.iter().map(|&r| train.1[r]).collect();
            let out = head.forward_range(act(train.0, rows, shape, &device), 0..blocks).flat();
            let k = out.dims()[1];
            let loss = T::loss(out.clone(), &y, &device, opts.loss);
            let value = loss.clone().into_scalar::<f32>() as f64;
            ensure!(value.is_finite(), "the loss became {value} at epoch {epoch}: lower the learning rate");
            let grads = GradientsParams::from_grads(loss.backward(), &head);
            head = optim.step(opts.lr, head, grads);
            loss_sum += value * y.len() as f64;
            metric_sum += T::metric_sum(&out.into_data().try_to_vec::<f32>().unwrap_or_default(), k, &y);
        }
        let train_seconds = started.elapsed().as_secs_f64();
        let valid = head.valid();
        let (val_loss, val_metric) = evaluate(&valid, shape, val, opts.loss);
        let n = train.0.rows as f64;
        let record = Epoch {
            epoch,
            train_loss: loss_sum / n,
            train_metric: metric_sum / n,
            val_loss,
            val_metric,
            seconds: started.elapsed().as_secs_f64(),
            images_per_second: n / train_seconds,
        };
        let improved = if T::HIGHER_IS_BETTER { val_metric > best_metric } else { val_metric < best_metric };
        if improved || best_epoch == 0 {
            (best, best_epoch, best_metric) = (valid, epoch, val_metric);
        }
        if opts.verbose {
            eprintln!(
                "head epoch {epoch:>3}/{}  {} {:.4}  {} {:.4}  val {} {:.4}{}",
                opts.epochs,
                T::loss_name(opts.loss), record.train_loss, T::METRIC, record.train_metric, T::METRIC, val_metric,
                if best_epoch == epoch { "  (best)" } else { "" }
            );
        }
        history.epochs.push(record);
        if opts.patience.is_some_and(|p| epoch - best_epoch >= p) {
            if opts.verbose {
                eprintln!("early stop: no better validation {} for {} epochs", T::METRIC, epoch - best_epoch);
            }
            break;
        }
    }
    Ok(HeadReport { head: best.fork(&infer_device()), history, best_epoch, best_metric })
}

/// Mean loss and metric of `head` on features.
fn evaluate<T: Target>(head: &Net, shape: Shape, (f, y): (&Features, &[T]), loss: RegressionLoss) -> (f64, f64) {
    if f.rows == 0 {
        return (f64::NAN, f64::NAN);
    }
    let device = infer_device();
    let head = head.clone().fork(&device);
    let (mut loss_sum, mut metric_sum) = (0.0, 0.0);
    let all: Vec<usize> = (0..f.rows).collect();
    for rows in all.chunks(256) {
        let out = head.forward_range(act(f, rows, shape, &device), 0..head.blocks.len()).flat();
        let k = out.dims()[1];
        let targets = &y[rows[0]..rows[0] + rows.len()];
        loss_sum += T::loss(out.clone(), targets, &device, loss).into_scalar::<f32>() as f64 * rows.len() as f64;
        metric_sum += T::metric_sum(&out.into_data().try_to_vec::<f32>().unwrap_or_default(), k, targets);
    }
    (loss_sum / f.rows as f64, metric_sum / f.rows as f64)
}
