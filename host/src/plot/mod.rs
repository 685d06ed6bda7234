//! PNG plots for training runs: loss and metric curves, and for steering models predicted vs
//! true steering and the steering histogram. Drawn with a built-in pixel font, so they need no
//! font files.

pub mod chart;
pub mod font;

use std::path::Path;

use anyhow::{Context, Result};

use crate::fsutil::atomic_write;
use crate::train::history::History;
use chart::{Chart, Series, BLUE, GREY, ORANGE};

fn save(img: image::RgbImage, path: &Path) -> Result<()> {
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).with_context(|| format!("cannot encode {}", path.display()))?;
    atomic_write(path, &png)
}

fn range(v: impl Iterator<Item = f64>) -> (f64, f64) {
    v.filter(|x| x.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| (lo.min(x), hi.max(x)))
}

/// `loss.png` and `metric.png` (training and validation per epoch).
pub fn history(h: &History, loss: &str, metric: &str, dir: &Path) -> Result<()> {
    let epochs = (1.0, h.epochs.len().max(2) as f64);
    for (file, name, train, val) in [
        ("loss.png", loss, h.epochs.iter().map(|e| e.train_loss).collect::<Vec<_>>(), h.epochs.iter().map(|e| e.val_loss).collect::<Vec<_>>()),
        ("metric.png", metric, h.epochs.iter().map(|e| e.train_metric).collect(), h.epochs.iter().map(|e| e.val_metric).collect()),
    ] {
        let y = range(train.iter().chain(&val).copied());
        let mut c = Chart::new(&format!("{name} per epoch"), "epoch", name, epochs, (y.0.min(0.0), y.1));
        let pts = |v: &[f64]| v.iter().enumerate().filter(|(_, x)| x.is_finite()).map(|(i, &x)| ((i + 1) as f64, x)).collect();
        c.series(&[Series { name: "training", color: BLUE, points: pts(&train) }, Series { name: "validation", color: ORANGE, points: pts(&val) }]);
        save(c.into_image(), &dir.join(file))?;
    }
    Ok(())
}

/// `steering.png` (predicted against true on validation frames) and `steering-histogram.png`.
pub fn steering(truth: &[f32], predicted: &[f32], dir: &Path) -> Result<()> {
    let (lo, hi) = range(truth.iter().chain(predicted).map(|&v| v as f64));
    let r = (lo.min(-0.5), hi.max(0.5));
    let mut c = Chart::new("predicted vs true steering (validation)", "true steering", "predicted", r, r);
    c.line((r.0, r.0), (r.1, r.1), GREY);
    let pts: Vec<(f64, f64)> = truth.iter().zip(predicted).map(|(&t, &p)| (t as f64, p as f64)).collect();
    c.points(&pts, BLUE);
    save(c.into_image(), &dir.join("steering.png"))?;

    let bins = 41;
    let mut counts = vec![0usize; bins];
    for &t in truth {
        let b = (((t as f64 + 1.0) / 2.0) * bins as f64).floor().clamp(0.0, bins as f64 - 1.0) as usize;
        counts[b] += 1;
    }
    let top = *counts.iter().max().unwrap_or(&1) as f64;
    let mut c = Chart::new("steering histogram (validation)", "steering", "frames", (-1.0, 1.0), (0.0, top));
    c.bars(-1.0, 1.0, &counts, BLUE);
    save(c.into_image(), &dir.join("steering-histogram.png"))
}
