//! A trained model's metrics on a data set: steering error against the trivial baselines, or
//! accuracy with the confusions.

use std::path::PathBuf;

use anyhow::Result;

use crate::data::{ClassificationData, DataSet, DrivingData};
use crate::nn::net::Net;
use crate::train::checkpoint::RunDir;
use crate::train::target::argmax;
use crate::train::{evaluate, for_each_batch, infer_device, RegressionLoss};

/// A steering model's errors on `frames` frames, and those of predicting a constant.
#[derive(Clone, Debug, PartialEq)]
pub struct SteeringEval {
    pub frames: usize,
    pub mae: f64,
    pub mse: f64,
    /// The labels' mean, and the errors of always predicting 0 and always the mean.
    pub mean: f32,
    pub zero: (f64, f64),
    pub constant_mean: (f64, f64),
}

/// A classifier's accuracy and confusions.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassEval {
    pub images: usize,
    pub accuracy: f64,
    /// Mean cross-entropy (NaN where the model gives no logits, e.g. an int8 blob).
    pub loss: f64,
    pub class_names: Vec<String>,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<usize>>,
}

/// One class's row of the confusion matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassScore {
    pub class: usize,
    pub images: usize,
    pub accuracy: f64,
    /// The class it is most often taken for, and how often.
    pub confused_with: (usize, usize),
}

impl ClassEval {
    /// Every class with images, worst accuracy first.
    pub fn worst(&self) -> Vec<ClassScore> {
        let mut per: Vec<ClassScore> = (0..self.confusion.len())
            .filter_map(|c| {
                let row = &self.confusion[c];
                let n: usize = row.iter().sum();
                let (most, count) = row.iter().enumerate().filter(|(j, _)| *j != c).max_by_key(|(_, &v)| v).map(|(j, &v)| (j, v)).unwrap_or((c, 0));
                (n > 0).then(|| ClassScore { class: c, images: n, accuracy: row[c] as f64 / n as f64, confused_with: (most, count) })
            })
            .collect();
        per.sort_by(|a, b| a.accuracy.total_cmp(&b.accuracy));
        per
    }

    /// Builds the confusions from (true, predicted) pairs.
    pub fn from_predictions(class_names: Vec<String>, pairs: impl Iterator<Item = (usize, usize)>, loss: f64) -> ClassEval {
        let k = class_names.len();
        let mut confusion = vec![vec![0usize; k]; k];
        let mut images = 0;
        for (t, p) in pairs {
            confusion[t][p.min(k - 1)] += 1;
            images += 1;
        }
        let right: usize = (0..k).map(|c| confusion[c][c]).sum();
        ClassEval { images, accuracy: right as f64 / images.max(1) as f64, loss, class_names, confusion }
    }
}

/// What an evaluation found.
#[derive(Clone, Debug, PartialEq)]
pub enum Evaluation {
    Steering(SteeringEval),
    Classes(ClassEval),
}

/// Evaluates the best checkpoint of `run` on its validation split (or, with `all`, every
/// example) of its data or of `dirs`.
pub fn evaluate_run(run: &RunDir, dirs: &[PathBuf], all: bool, batch: usize) -> Result<Evaluation> {
    let reopened = run.open_data(dirs, true)?;
    let net = run.load_best(&infer_device())?;
    let rows = if all { (0..reopened.data.len()).collect() } else { reopened.split.val.clone() };
    Ok(match &reopened.data {
        DataSet::Driving(d) => Evaluation::Steering(steering(&net, d, &rows, batch)),
        DataSet::Classification(c) => Evaluation::Classes(classes(&net, c, &rows, batch)),
    })
}

/// The errors of a float steering network and of the constant baselines.
pub fn steering(net: &Net, data: &DrivingData, rows: &[usize], batch: usize) -> SteeringEval {
    let (mse, mae) = evaluate(net, data, rows, batch, RegressionLoss::Mse);
    let truth: Vec<f32> = rows.iter().map(|&i| data.rows()[i].steering).collect();
    SteeringEval { mae, mse, ..baselines(&truth) }
}

/// The constant predictors' errors on `truth` (the model's fields left at 0).
pub fn baselines(truth: &[f32]) -> SteeringEval {
    let n = truth.len().max(1) as f64;
    let mean = truth.iter().sum::<f32>() / truth.len().max(1) as f32;
    let mae_of = |p: f32| truth.iter().map(|t| (t - p).abs() as f64).sum::<f64>() / n;
    let mse_of = |p: f32| truth.iter().map(|t| ((t - p) as f64).powi(2)).sum::<f64>() / n;
    SteeringEval { frames: truth.len(), mae: 0.0, mse: 0.0, mean, zero: (mae_of(0.0), mse_of(0.0)), constant_mean: (mae_of(mean), mse_of(mean)) }
}

/// The accuracy and confusions of a float classifier.
pub fn classes(net: &Net, data: &ClassificationData, rows: &[usize], batch: usize) -> ClassEval {
    let (loss, _) = evaluate(net, data, rows, batch, RegressionLoss::Mse);
    let predictions = predict_classes(net, data, rows, batch);
    let pairs = rows.iter().zip(predictions).map(|(&i, p)| (data.labels()[i] as usize, p));
    ClassEval::from_predictions(data.class_names().to_vec(), pairs, loss)
}

/// Arg-max class of each example.
pub fn predict_classes(net: &Net, data: &ClassificationData, rows: &[usize], batch: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(rows.len());
    for_each_batch(net, data, rows, batch, |logits, _| {
        let k = logits.dims()[1];
        out.extend(logits.into_data().try_to_vec::<f32>().unwrap_or_default().chunks(k).map(argmax));
    });
    out
}
