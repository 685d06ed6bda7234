//! Per-epoch curves of a training run: training and validation, the best epoch marked.

use image::RgbImage;
use plotters::prelude::*;

use super::canvas::{draw, finite_range, legend, mesh, padded, tick, Area, Drawn, BLUE, GREEN, GREY, ORANGE};
use super::text::font;

pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 500;

/// One chart of a quantity per epoch.
pub struct Curves<'a> {
    pub title: &'a str,
    /// The y axis' name (the loss or metric).
    pub quantity: &'a str,
    pub train: &'a [f64],
    pub val: &'a [f64],
    /// 1-based epoch whose weights were kept (marked on the validation curve).
    pub best_epoch: Option<usize>,
}

/// `(epoch, value)` of the finite values; epochs are 1-based.
fn points(v: &[f64]) -> Vec<(f64, f64)> {
    v.iter().enumerate().filter(|(_, x)| x.is_finite()).map(|(i, &x)| ((i + 1) as f64, x)).collect()
}

pub fn chart(c: &Curves<'_>) -> anyhow::Result<RgbImage> {
    draw(WIDTH, HEIGHT, c.title, |root| paint(root, c))
}

fn paint(root: &Area<'_>, c: &Curves<'_>) -> Drawn {
    root.fill(&WHITE)?;
    let epochs = c.train.len().max(c.val.len()).max(1);
    let (train, val) = (points(c.train), points(c.val));
    let y = padded(finite_range(train.iter().chain(&val).map(|p| p.1)).unwrap_or((0.0, 1.0)));
    let mut chart = ChartBuilder::on(root)
        .caption(c.title, font(22.0))
        .margin_top(10)
        .margin_right(24)
        .margin_left(14)
        .x_label_area_size(50)
        .y_label_area_size(90)
        .build_cartesian_2d(0.5..epochs as f64 + 0.5, y.clone())?;
    mesh(&mut chart)
        .disable_x_mesh()
        .x_labels(epochs.min(12) + 1)
        // Ticks fall on whole epochs; any other value a tick lands on gets no label.
        .x_label_formatter(&|v| if (v - v.round()).abs() < 1e-6 { format!("{}", v.round() as i64) } else { String::new() })
        .y_label_formatter(&|v| tick(*v))
        .x_desc("epoch")
        .y_desc(c.quantity)
        .draw()?;

    let line = |colour: RGBColor| colour.stroke_width(2);
    chart
        .draw_series(LineSeries::new(train.iter().copied(), line(BLUE)))?
        .label("training")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], line(BLUE)));
    chart.draw_series(train.iter().map(|&p| Circle::new(p, 3, BLUE.filled())))?;
    chart
        .draw_series(LineSeries::new(val.iter().copied(), line(ORANGE)))?
        .label("validation")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], line(ORANGE)));
    chart.draw_series(val.iter().map(|&p| Circle::new(p, 3, ORANGE.filled())))?;

    if let Some(&(e, v)) = c.best_epoch.and_then(|b| val.iter().find(|p| p.0 as usize == b)) {
        chart.draw_series(std::iter::once(PathElement::new(vec![(e, y.start), (e, y.end)], GREY.stroke_width(1))))?;
        chart
            .draw_series(std::iter::once(Circle::new((e, v), 7, GREEN.stroke_width(3))))?
            .label(format!("best: epoch {}, validation {}", e as usize, tick(v)))
            .legend(|(x, y)| Circle::new((x + 12, y), 6, GREEN.stroke_width(3)));
    }

    // The legend goes where the curves are not: top right for falling curves (losses),
    // bottom right for rising ones (accuracy).
    let first_last = |p: &[(f64, f64)]| Some((p.first()?.1, p.last()?.1));
    let rising = first_last(&val).or(first_last(&train)).is_some_and(|(a, b)| b > a);
    legend(&mut chart, if rising { SeriesLabelPosition::LowerRight } else { SeriesLabelPosition::UpperRight })
}
