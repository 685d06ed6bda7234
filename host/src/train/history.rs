//! Per-epoch numbers, kept in `history.csv`.

use std::fmt::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct Epoch {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_metric: f64,
    pub val_loss: f64,
    pub val_metric: f64,
    pub seconds: f64,
    pub images_per_second: f64,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    pub epochs: Vec<Epoch>,
}

const HEADER: &str = "epoch,train_loss,train_metric,val_loss,val_metric,seconds,images_per_second";

impl History {
    /// The CSV text; the metric columns' meaning is in the header comment of the checkpoint.
    pub fn to_csv(&self) -> String {
        let mut s = format!("{HEADER}\n");
        for e in &self.epochs {
            let _ = writeln!(
                s,
                "{},{:.6},{:.6},{:.6},{:.6},{:.2},{:.1}",
                e.epoch, e.train_loss, e.train_metric, e.val_loss, e.val_metric, e.seconds, e.images_per_second
            );
        }
        s
    }

    pub fn read(path: &Path) -> Result<History> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut epochs = Vec::new();
        for (i, line) in text.lines().enumerate().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 7 {
                bail!("{}:{}: expected 7 columns, found {}", path.display(), i + 1, f.len());
            }
            let num =
                |j: usize| -> Result<f64> { f[j].trim().parse().with_context(|| format!("{}:{}: column {} is not a number", path.display(), i + 1, j + 1)) };
            epochs.push(Epoch {
                epoch: num(0)? as usize,
                train_loss: num(1)?,
                train_metric: num(2)?,
                val_loss: num(3)?,
                val_metric: num(4)?,
                seconds: num(5)?,
                images_per_second: num(6)?,
            });
        }
        Ok(History { epochs })
    }
}
