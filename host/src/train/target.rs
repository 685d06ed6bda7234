//! What differs between regression (steering) and classification (signs): the loss and the
//! metric.

use burn::tensor::{Device, Tensor, TensorData};

/// The regression loss (classification always uses cross-entropy).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegressionLoss {
    /// Mean squared error (what Keras PilotNet examples use).
    #[default]
    Mse,
    /// Mean absolute error: the best constant is the median, so on recordings where most rows
    /// steer exactly 0 the network learns to hold 0 on straights.
    Mae,
}

/// A training target type: `f32` steering, or a `u16` class.
pub trait Target: Copy + Default + Send + Sync + 'static {
    /// Name of the loss in logs.
    fn loss_name(kind: RegressionLoss) -> &'static str;
    /// Name of the metric.
    const METRIC: &'static str;
    /// Whether a larger metric is better (accuracy) or worse (error).
    const HIGHER_IS_BETTER: bool;

    /// The mean loss of a batch of network outputs (`[n, k]`).
    fn loss(output: Tensor<2>, targets: &[Self], device: &Device, kind: RegressionLoss) -> Tensor<1>;

    /// The metric summed over a batch: `outputs` are `n` rows of `k` values.
    fn metric_sum(outputs: &[f32], k: usize, targets: &[Self]) -> f64;
}

impl Target for f32 {
    fn loss_name(kind: RegressionLoss) -> &'static str {
        match kind {
            RegressionLoss::Mse => "mse",
            RegressionLoss::Mae => "l1",
        }
    }
    const METRIC: &'static str = "mae";
    const HIGHER_IS_BETTER: bool = false;

    fn loss(output: Tensor<2>, targets: &[f32], device: &Device, kind: RegressionLoss) -> Tensor<1> {
        let y = Tensor::<2>::from_data(TensorData::new(targets.to_vec(), [targets.len(), 1]), device);
        match kind {
            RegressionLoss::Mse => (output - y).powi_scalar(2).mean(),
            RegressionLoss::Mae => (output - y).abs().mean(),
        }
    }

    fn metric_sum(outputs: &[f32], k: usize, targets: &[f32]) -> f64 {
        outputs.chunks(k).zip(targets).map(|(o, t)| (o[0] - t).abs() as f64).sum()
    }
}

impl Target for u16 {
    fn loss_name(_: RegressionLoss) -> &'static str {
        "cross-entropy"
    }
    const METRIC: &'static str = "accuracy";
    const HIGHER_IS_BETTER: bool = true;

    fn loss(output: Tensor<2>, targets: &[u16], device: &Device, _: RegressionLoss) -> Tensor<1> {
        let [n, k] = output.dims();
        let mut onehot = vec![0f32; n * k];
        for (row, &t) in targets.iter().enumerate() {
            onehot[row * k + t as usize] = 1.0;
        }
        let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [n, k]), device);
        burn::tensor::loss::cross_entropy_with_logits(output, onehot)
    }

    fn metric_sum(outputs: &[f32], k: usize, targets: &[u16]) -> f64 {
        outputs.chunks(k).zip(targets).filter(|(o, &t)| argmax(o) == t as usize).count() as f64
    }
}

/// Index of the largest value (the first on ties).
pub fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().fold((0, f32::NEG_INFINITY), |best, (i, &x)| if x > best.1 { (i, x) } else { best }).0
}
