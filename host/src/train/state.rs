//! Where training stands after each epoch, and when to stop early: what `state.toml` and
//! `best.toml` hold.

use serde::{Deserialize, Serialize};

/// The last finished epoch (1-based) and the best so far.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub epoch: usize,
    pub best_epoch: usize,
    pub best_metric: f64,
    /// Epochs since the best one.
    pub stale_epochs: usize,
}

impl State {
    /// Before the first epoch: any metric will be better.
    pub fn start(higher_is_better: bool) -> State {
        State { best_metric: if higher_is_better { f64::NEG_INFINITY } else { f64::INFINITY }, ..State::default() }
    }

    /// Records the next epoch's validation `metric`; true when it is the best so far. Without
    /// validation data (`metric` NaN) every epoch is the best: the last one is kept.
    pub fn record(&mut self, metric: f64, higher_is_better: bool) -> bool {
        self.epoch += 1;
        let better = if higher_is_better { metric > self.best_metric } else { metric < self.best_metric };
        let best = better || metric.is_nan() || self.best_epoch == 0;
        if best {
            (self.best_epoch, self.best_metric, self.stale_epochs) = (self.epoch, metric, 0);
        } else {
            self.stale_epochs += 1;
        }
        best
    }

    /// Early stopping: `patience` epochs in a row without a better validation metric.
    pub fn exhausted(&self, patience: Option<usize>) -> bool {
        patience.is_some_and(|p| self.stale_epochs >= p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_epochs_and_early_stop() {
        let mut s = State::start(false);
        let bests: Vec<bool> = [0.5, 0.4, 0.45, 0.41, 0.3, 0.35].iter().map(|&m| s.record(m, false)).collect();
        assert_eq!(bests, [true, true, false, false, true, false]);
        assert_eq!((s.epoch, s.best_epoch, s.best_metric, s.stale_epochs), (6, 5, 0.3, 1));
        assert!(!s.exhausted(Some(2)) && s.exhausted(Some(1)) && !s.exhausted(None));

        let mut acc = State::start(true);
        assert!(acc.record(0.1, true) && !acc.record(0.05, true) && acc.record(0.2, true));
        // No validation data: every epoch is kept as the best.
        let mut none = State::start(true);
        assert!(none.record(f64::NAN, true) && none.record(f64::NAN, true));
        assert_eq!(none.best_epoch, 2);
    }
}
