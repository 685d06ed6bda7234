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
    /// How it changes from epoch to epoch.
    #[serde(default)]
    pub lr_schedule: LrSchedule,
    /// Regression only.
    #[serde(default)]
    pub loss: RegressionLoss,
    /// Stop after this many epochs without a better validation metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patience: Option<usize>,
    /// Augmentation of the training examples.
    #[serde(default = "yes")]
    pub augment: bool,
    /// Keep every epoch's weights (`epochs/NNN.bpk`), as candidates for a selection by driving.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_epochs: bool,
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

/// The learning rate over a run's epochs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// The same rate every epoch.
    #[default]
    Constant,
    /// Half a cosine from the rate down to a hundredth of it at the last epoch.
    Cosine,
}

impl LrSchedule {
    /// The factor on the rate in `epoch` (1-based) of `epochs`.
    pub fn factor(self, epoch: usize, epochs: usize) -> f64 {
        match self {
            LrSchedule::Constant => 1.0,
            LrSchedule::Cosine => {
                let t = if epochs > 1 { (epoch.saturating_sub(1)) as f64 / (epochs - 1) as f64 } else { 0.0 };
                0.01 + 0.99 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
        }
    }
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
            lr_schedule: LrSchedule::Constant,
            loss: RegressionLoss::Mse,
            patience: None,
            augment: true,
            keep_epochs: false,
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

#[cfg(test)]
mod tests {
    use super::LrSchedule;

    #[test]
    fn cosine_falls_from_the_rate_to_a_hundredth() {
        assert_eq!(LrSchedule::Constant.factor(7, 10), 1.0);
        assert!((LrSchedule::Cosine.factor(1, 10) - 1.0).abs() < 1e-12);
        assert!((LrSchedule::Cosine.factor(10, 10) - 0.01).abs() < 1e-12);
        let f: Vec<f64> = (1..=10).map(|e| LrSchedule::Cosine.factor(e, 10)).collect();
        assert!(f.windows(2).all(|w| w[1] < w[0]), "{f:?}");
        assert_eq!(LrSchedule::Cosine.factor(1, 1), 1.0);
    }
}
