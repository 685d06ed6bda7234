//! Closed-loop model selection: a steering run's kept epochs, each quantized to int8 as it will
//! ship and driven on validation tracks at a board's timing; the one that drives best becomes
//! the run's best. Validation MAE alone does not predict driving (a per-frame error says
//! nothing about how errors add up over a lap), so it only breaks ties.

use anyhow::{bail, ensure, Result};
use indicatif::ProgressBar;

use crate::data::DataSet;
use crate::fsutil::atomic_write;
use crate::quant::ptq::{quantize_net, PtqOptions};
use crate::sim::compare::{candidate, CompareOptions};
use crate::train::checkpoint::RunDir;
use crate::train::{infer_device, State};

/// One kept epoch's scores.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochScore {
    pub epoch: usize,
    /// Validation MAE of the float network and of its int8 model.
    pub float_mae: f64,
    pub int8_mae: f64,
    /// Percent, int8, on the validation tracks at the board's timing.
    pub autonomy: f64,
    pub interventions: usize,
}

/// What the selection found.
#[derive(Clone, Debug)]
pub struct Selection {
    /// Every kept epoch, in order.
    pub scores: Vec<EpochScore>,
    /// The chosen epoch, and the one validation MAE had chosen.
    pub chosen: usize,
    pub by_mae: usize,
}

/// Scores every kept epoch of `run` by driving (`drive.seeds` must be tracks the run never
/// trained on, and not the tracks it will be tested on) and makes the best one the run's
/// best, keeping the previous best as `model.by-mae.bpk`. Writes `selection.csv`.
pub fn select(run: &RunDir, drive: &CompareOptions, ptq: &PtqOptions, progress: bool) -> Result<Selection> {
    let epochs = run.kept_epochs();
    ensure!(!epochs.is_empty(), "{} kept no epochs: train it with --keep-epochs", run.dir.display());
    ensure!(!drive.seeds.is_empty(), "give the validation tracks' seeds");
    let reopened = run.open_data(&ptq.calib, progress)?;
    if !matches!(reopened.data, DataSet::Driving(_)) {
        bail!("{} is not a steering run: selection by driving needs one", run.dir.display());
    }
    let bar = if progress { ProgressBar::new(epochs.len() as u64) } else { ProgressBar::hidden() };
    let mut scores = Vec::new();
    for &epoch in &epochs {
        bar.set_message(format!("epoch {epoch}"));
        let net = run.load_epoch(epoch, &infer_device())?;
        let q = quantize_net(run, &reopened, &net, &PtqOptions { progress: false, ..ptq.clone() })?;
        let c = candidate(&format!("epoch {epoch}"), &q.blob(), drive)?;
        scores.push(EpochScore { epoch, float_mae: q.report.float, int8_mae: q.report.int8, autonomy: c.autonomy, interventions: c.interventions });
        bar.inc(1);
    }
    bar.finish_and_clear();
    let by_mae = scores.iter().min_by(|a, b| a.float_mae.total_cmp(&b.float_mae)).expect("at least one epoch").epoch;
    let best = best_by_driving(&scores).expect("at least one epoch");
    let mut csv = String::from("epoch,float_mae,int8_mae,autonomy_percent,interventions\n");
    for s in &scores {
        csv += &format!("{},{:.6},{:.6},{:.2},{}\n", s.epoch, s.float_mae, s.int8_mae, s.autonomy, s.interventions);
    }
    atomic_write(&run.dir.join("selection.csv"), csv.as_bytes())?;
    let state = State { epoch: best.epoch, best_epoch: best.epoch, best_metric: best.float_mae, stale_epochs: 0 };
    run.promote_epoch(best.epoch, &state, "by-mae")?;
    Ok(Selection { chosen: best.epoch, by_mae, scores })
}

/// The epoch that drives best: fewest interventions (the highest autonomy), then the lowest
/// int8 validation MAE.
pub fn best_by_driving(scores: &[EpochScore]) -> Option<&EpochScore> {
    scores.iter().min_by(|a, b| a.interventions.cmp(&b.interventions).then(a.int8_mae.total_cmp(&b.int8_mae)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(epoch: usize, int8_mae: f64, interventions: usize) -> EpochScore {
        EpochScore { epoch, float_mae: int8_mae, int8_mae, autonomy: 100.0 - interventions as f64, interventions }
    }

    #[test]
    fn driving_decides_and_mae_breaks_ties() {
        let s = [score(1, 0.030, 4), score(2, 0.040, 1), score(3, 0.035, 1), score(4, 0.020, 9)];
        assert_eq!(best_by_driving(&s).unwrap().epoch, 3);
        assert!(best_by_driving(&[]).is_none());
    }
}
