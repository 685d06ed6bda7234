//! One description of a training run, saved with it (`config.toml`): what it was trained on
//! and how. The command line builds it, the trainer runs it, and `eval`, `quantize` and the
//! demo reopen the run's data and validation split from it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::RegressionLoss;
use crate::data::{split_options, DataKind, LabelDefaults, Source, SplitOptions};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The data folders (one for classification, one or more recordings for driving).
    pub data: Vec<PathBuf>,
    pub data_kind: DataKind,
    /// Class names (classification), in label order.
    #[serde(default)]
    pub classes: Vec<String>,
    /// Share of the data held out for validation (by time block, track or image), drawn with
    /// `seed`.
    pub val_split: f32,
    pub seed: u64,
    #[serde(default)]
    pub epochs: usize,
    pub batch: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Regression only.
    #[serde(default)]
    pub loss: RegressionLoss,
    /// Stop after this many epochs without a better validation metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patience: Option<usize>,
    /// Augmentation of the training examples.
    #[serde(default = "yes")]
    pub augment: bool,
    /// Train on at most this many examples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_examples: Option<usize>,
    /// Driving: the side-camera correction and the steering smoothing for recordings without a
    /// `recording.toml` of their own, and the share of near-straight rows kept per epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side_correction: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smooth_steering: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_straight: Option<f32>,
    /// For a transferred network: from what, how, and where it was cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer: Option<String>,
}

fn yes() -> bool {
    true
}

impl TrainConfig {
    /// A run on `data` of `kind` with the trainer's defaults (10 epochs of batch 64 at
    /// 1e-3, 20 % validation, seed 1).
    pub fn new(data: Vec<PathBuf>, data_kind: DataKind) -> TrainConfig {
        TrainConfig {
            data,
            data_kind,
            classes: Vec::new(),
            val_split: 0.2,
            seed: 1,
            epochs: 10,
            batch: 64,
            lr: 1e-3,
            loss: RegressionLoss::Mse,
            patience: None,
            augment: true,
            max_examples: None,
            side_correction: None,
            smooth_steering: None,
            keep_straight: None,
            transfer: None,
        }
    }

    /// How driving labels were made (runs that did not say: [`LabelDefaults::UDACITY`]).
    pub fn labels(&self) -> LabelDefaults {
        LabelDefaults {
            side_correction: self.side_correction.unwrap_or(LabelDefaults::UDACITY.side_correction),
            smooth_steering: self.smooth_steering.unwrap_or(LabelDefaults::UDACITY.smooth_steering),
        }
    }

    /// The run's data (or `dirs` instead, when given), with or without augmentation.
    pub fn source(&self, dirs: &[PathBuf], augment: bool, progress: bool) -> Source {
        Source {
            dirs: if dirs.is_empty() { self.data.clone() } else { dirs.to_vec() },
            kind: self.data_kind,
            labels: self.labels(),
            augment,
            max_rows: None,
            progress,
        }
    }

    /// The run's validation split.
    pub fn split(&self) -> SplitOptions {
        split_options(self.val_split, self.seed)
    }
}
