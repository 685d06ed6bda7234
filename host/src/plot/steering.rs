//! A steering model on its validation frames: predicted against true, and how the true and
//! predicted steering are distributed.

use image::RgbImage;
use plotters::prelude::*;

use super::canvas::{draw, finite_range, legend, mesh, tick, Area, Drawn, BLUE, GREY, ORANGE};
use super::text::font;

/// The scatter plot is square, so that the diagonal is at 45 degrees.
pub const SCATTER_SIDE: u32 = 640;
pub const HISTOGRAM_WIDTH: u32 = 800;
pub const HISTOGRAM_HEIGHT: u32 = 500;
/// Histogram bins over [-1, 1] (odd, so that one bin is centred on straight ahead).
pub const BINS: usize = 41;

fn mean_abs_error(truth: &[f32], predicted: &[f32]) -> f64 {
    let n = truth.len().min(predicted.len());
    if n == 0 {
        return f64::NAN;
    }
    truth.iter().zip(predicted).map(|(&t, &p)| (t as f64 - p as f64).abs()).sum::<f64>() / n as f64
}

pub fn scatter(truth: &[f32], predicted: &[f32]) -> anyhow::Result<RgbImage> {
    draw(SCATTER_SIDE, SCATTER_SIDE, "the steering scatter plot", |root| paint_scatter(root, truth, predicted))
}

fn paint_scatter(root: &Area<'_>, truth: &[f32], predicted: &[f32]) -> Drawn {
    root.fill(&WHITE)?;
    let (lo, hi) = finite_range(truth.iter().chain(predicted).map(|&v| v as f64)).unwrap_or((-0.5, 0.5));
    // The same range on both axes, at least [-0.5, 0.5] so that small steering looks small.
    let r = (lo.min(-0.5) - 0.05)..(hi.max(0.5) + 0.05);
    let n = truth.len().min(predicted.len());
    let title = format!("predicted vs true steering ({n} validation frames)");
    let mut chart = ChartBuilder::on(root)
        .caption(title, font(20.0))
        .margin_top(10)
        .margin_right(24)
        .margin_left(14)
        .x_label_area_size(50)
        .y_label_area_size(84)
        .build_cartesian_2d(r.clone(), r.clone())?;
    mesh(&mut chart).x_label_formatter(&|v| tick(*v)).y_label_formatter(&|v| tick(*v)).x_desc("true steering").y_desc("predicted steering").draw()?;
    chart
        .draw_series(std::iter::once(PathElement::new(vec![(r.start, r.start), (r.end, r.end)], GREY.stroke_width(2))))?
        .label("perfect (predicted = true)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], GREY.stroke_width(2)));
    let dot = BLUE.mix(0.45).filled();
    chart
        .draw_series(truth.iter().zip(predicted).map(|(&t, &p)| Circle::new((t as f64, p as f64), 2, dot)))?
        .label(format!("a frame (mean absolute error {})", tick(mean_abs_error(truth, predicted))))
        .legend(move |(x, y)| Circle::new((x + 12, y), 3, BLUE.filled()));
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// Frames per bin of [`BINS`] equal bins over [-1, 1] (values outside go to the end bins).
pub fn bin_counts(values: &[f32]) -> Vec<usize> {
    let mut counts = vec![0usize; BINS];
    for &v in values.iter().filter(|v| v.is_finite()) {
        let b = (((v as f64 + 1.0) / 2.0) * BINS as f64).floor().clamp(0.0, BINS as f64 - 1.0) as usize;
        counts[b] += 1;
    }
    counts
}

pub fn histogram(truth: &[f32], predicted: &[f32]) -> anyhow::Result<RgbImage> {
    draw(HISTOGRAM_WIDTH, HISTOGRAM_HEIGHT, "the steering histogram", |root| paint_histogram(root, truth, predicted))
}

fn paint_histogram(root: &Area<'_>, truth: &[f32], predicted: &[f32]) -> Drawn {
    root.fill(&WHITE)?;
    let (t, p) = (bin_counts(truth), bin_counts(predicted));
    let top = t.iter().chain(&p).copied().max().unwrap_or(0).max(1) as f64;
    let width = 2.0 / BINS as f64;
    let left = |b: usize| -1.0 + b as f64 * width;
    let mut chart = ChartBuilder::on(root)
        .caption(format!("steering histogram ({} validation frames)", truth.len()), font(20.0))
        .margin_top(10)
        .margin_right(24)
        .margin_left(14)
        .x_label_area_size(50)
        .y_label_area_size(84)
        .build_cartesian_2d(-1.0..1.0, 0.0..top * 1.08)?;
    mesh(&mut chart)
        .disable_x_mesh()
        .x_labels(9)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| if (v - v.round()).abs() < 1e-6 { format!("{}", v.round() as i64) } else { String::new() })
        .x_desc("steering (negative left, positive right)")
        .y_desc("frames")
        .draw()?;
    chart
        .draw_series(t.iter().enumerate().map(|(b, &n)| Rectangle::new([(left(b), 0.0), (left(b) + width, n as f64)], BLUE.mix(0.75).filled())))?
        .label("true (label)")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 20, y + 6)], BLUE.mix(0.75).filled()));
    // The prediction as an outline over the bars: a network that only learnt "straight ahead"
    // shows as one tall orange bin.
    let mut outline = vec![(-1.0, 0.0)];
    for (b, &n) in p.iter().enumerate() {
        outline.push((left(b), n as f64));
        outline.push((left(b) + width, n as f64));
    }
    outline.push((1.0, 0.0));
    chart
        .draw_series(std::iter::once(PathElement::new(outline, ORANGE.stroke_width(2))))?
        .label("predicted")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], ORANGE.stroke_width(2)));
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}
