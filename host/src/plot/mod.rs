//! PNG charts drawn with `plotters`: per-epoch loss and metric curves of a training run, and
//! for steering models predicted against true steering and the steering histogram; plus the
//! colour bars and labels that the simulator's lap map and `pilot explain` draw on pictures.
//! Text is set in DejaVu Sans, compiled into the binary ([`text`]).

pub mod canvas;
pub mod colorbar;
pub mod curves;
pub mod raster;
pub mod steering;
pub mod text;
pub mod tradeoff;

use std::path::Path;

use anyhow::Result;

use crate::train::history::History;
use canvas::save_png;
use curves::Curves;

/// `loss.png` and `metric.png` in `dir`: training and validation per epoch, `best_epoch`
/// (1-based, the one whose weights were kept) marked.
pub fn history(h: &History, loss: &str, metric: &str, best_epoch: usize, dir: &Path) -> Result<()> {
    let best = (best_epoch >= 1).then_some(best_epoch);
    for (file, name, train, val) in [
        ("loss.png", loss, h.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>(), h.epochs.iter().map(|e| e.val_loss).collect::<Vec<_>>()),
        ("metric.png", metric, h.epochs.iter().map(|e| e.train_metric).collect(), h.epochs.iter().map(|e| e.val_metric).collect()),
    ] {
        let title = format!("{name} per epoch");
        let img = curves::chart(&Curves { title: &title, quantity: name, train: &train, val: &val, best_epoch: best })?;
        save_png(&img, &dir.join(file))?;
    }
    Ok(())
}

/// `steering.png` (predicted against true on validation frames) and `steering-histogram.png`
/// (true and predicted) in `dir`.
pub fn steering(truth: &[f32], predicted: &[f32], dir: &Path) -> Result<()> {
    save_png(&steering::scatter(truth, predicted)?, &dir.join("steering.png"))?;
    save_png(&steering::histogram(truth, predicted)?, &dir.join("steering-histogram.png"))
}
