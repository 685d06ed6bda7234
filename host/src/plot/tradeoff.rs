//! The trade-off between networks on a board: decisions per second against autonomy at that
//! board's timing, one labelled point per network (`pilot sim compare --png`).

use image::RgbImage;
use plotters::prelude::*;

use super::canvas::{draw, mesh, Area, Drawn, BLUE, GRID, INK};
use super::text::{font, style};

pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 520;

/// One network on the chart.
pub struct Point<'a> {
    pub label: &'a str,
    pub decisions_per_second: f64,
    /// Percent.
    pub autonomy: f64,
}

/// `points` on `board` at `speed` m/s.
pub fn chart(points: &[Point<'_>], board: &str, speed: f64) -> anyhow::Result<RgbImage> {
    draw(WIDTH, HEIGHT, "the trade-off chart", |root| paint(root, points, board, speed))
}

fn paint(root: &Area<'_>, points: &[Point<'_>], board: &str, speed: f64) -> Drawn {
    root.fill(&WHITE)?;
    // Decisions per second on a log axis from below the slowest to above the fastest.
    let lo = points.iter().map(|p| p.decisions_per_second).filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
    let hi = points.iter().map(|p| p.decisions_per_second).fold(0.0, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > 0.0 { (lo / 2.0, hi * 2.0) } else { (0.5, 60.0) };
    let mut chart = ChartBuilder::on(root)
        .caption(format!("decisions per second and autonomy at the {board}'s timing, {speed} m/s"), font(20.0))
        .margin(14)
        .margin_right(40)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d((lo..hi).log_scale(), -5.0..105.0)?;
    mesh(&mut chart)
        .x_label_formatter(&|v| format!("{v:.3}").trim_end_matches('0').trim_end_matches('.').to_string())
        .y_label_formatter(&|v| format!("{v:.0} %"))
        .x_desc(format!("decisions per second on the {board} (log scale)"))
        .y_desc("autonomy")
        .draw()?;
    chart.draw_series(points.iter().map(|p| Circle::new((p.decisions_per_second, p.autonomy), 6, BLUE.filled())))?;
    // Labels beside their points, pushed down where they would overlap (points of similar
    // autonomy at the same rate), in order of autonomy so that they stay in the points' order.
    let mut labels: Vec<(String, (i32, i32), bool)> = points
        .iter()
        .map(|p| {
            let text = format!("{} ({:.1}/s, {:.1} %)", p.label, p.decisions_per_second, p.autonomy);
            let right_half = p.decisions_per_second > (lo * hi).sqrt();
            (text, chart.backend_coord(&(p.decisions_per_second, p.autonomy)), right_half)
        })
        .collect();
    labels.sort_by_key(|l| l.1 .1);
    let line = 20;
    let mut last: Option<(bool, i32)> = None;
    for (text, (px, py), right_half) in &labels {
        let (w, _) = crate::plot::text::measure(text, 14.0);
        let x = if *right_half { px - w as i32 - 12 } else { px + 12 };
        let mut y = py - 8;
        if let Some((side, prev)) = last {
            if side == *right_half && y < prev + line {
                y = prev + line;
            }
        }
        root.draw(&Text::new(text.clone(), (x, y), style(14.0, INK)))?;
        if y != py - 8 {
            root.draw(&PathElement::new(vec![(*px, *py), (x + if *right_half { w as i32 + 4 } else { -4 }, y + 8)], GRID.stroke_width(1)))?;
        }
        last = Some((*right_half, y));
    }
    Ok(())
}
