//! What every chart shares: the pixel buffer plotters draws into, the colours, and writing the
//! result as a PNG without ever leaving a half-written file.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use image::RgbImage;
use plotters::chart::MeshStyle;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::raster::Pixels;
use crate::fsutil::atomic_write;

/// What charts and pictures draw on.
pub type Area<'a> = DrawingArea<Pixels<'a>, plotters::coord::Shift>;

/// Training, validation, and marks (matplotlib's first colours, which most readers know).
pub const BLUE: RGBColor = RGBColor(31, 119, 180);
pub const ORANGE: RGBColor = RGBColor(255, 127, 14);
pub const GREEN: RGBColor = RGBColor(44, 160, 44);
pub const GREY: RGBColor = RGBColor(140, 140, 140);
pub const INK: RGBColor = RGBColor(30, 30, 30);
pub const GRID: RGBColor = RGBColor(225, 225, 225);

/// A chart on `f64` axes, as every chart here is.
pub type Chart<'a, 'b> = ChartContext<'a, Pixels<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The legend box every chart draws: 14 px labels on white, a grey border, at `position`.
pub fn legend<'a, 'p: 'a>(chart: &mut Chart<'a, 'p>, position: SeriesLabelPosition) -> Drawn {
    chart
        .configure_series_labels()
        .position(position)
        .margin(10)
        .label_font(super::text::style(14.0, INK))
        .background_style(WHITE.mix(0.9))
        .border_style(GREY)
        .draw()?;
    Ok(())
}

/// The mesh every chart draws (a light grid, dark axes, 14 px labels, 16 px axis titles); the
/// caller adds its ticks and titles and draws it.
pub fn mesh<'a, 'b, 'p, X, Y>(chart: &'b mut ChartContext<'a, Pixels<'p>, Cartesian2d<X, Y>>) -> MeshStyle<'a, 'b, X, Y, Pixels<'p>>
where
    X: Ranged + plotters::coord::ranged1d::ValueFormatter<X::ValueType>,
    Y: Ranged + plotters::coord::ranged1d::ValueFormatter<Y::ValueType>,
{
    let mut mesh = chart.configure_mesh();
    mesh.light_line_style(WHITE)
        .bold_line_style(GRID)
        .axis_style(INK)
        .label_style(super::text::style(14.0, INK))
        .axis_desc_style(super::text::style(16.0, INK));
    mesh
}

/// What a drawing step returns; plotters' errors are not `Send`, so they are turned into
/// text at the edge (see [`draw`]).
pub type Drawn = std::result::Result<(), Box<dyn std::error::Error>>;

/// A white `w x h` picture drawn by `paint` on a plotters area over it.
pub fn draw(w: u32, h: u32, what: &str, paint: impl FnOnce(&Area<'_>) -> Drawn) -> Result<RgbImage> {
    let mut buf = vec![255u8; (w * h * 3) as usize];
    draw_on(&mut buf, w, h, what, paint)?;
    Ok(RgbImage::from_raw(w, h, buf).expect("buffer has w * h * 3 bytes"))
}

/// Lets `paint` draw over the RGB pixels of `img` (a picture that is not a chart: a map, a
/// camera frame).
pub fn draw_over(img: &mut RgbImage, what: &str, paint: impl FnOnce(&Area<'_>) -> Drawn) -> Result<()> {
    let (w, h) = img.dimensions();
    draw_on(img, w, h, what, paint)
}

fn draw_on(buf: &mut [u8], w: u32, h: u32, what: &str, paint: impl FnOnce(&Area<'_>) -> Drawn) -> Result<()> {
    let area = Pixels::new(buf, (w, h)).into_drawing_area();
    paint(&area).map_err(|e| anyhow!("cannot draw {what}: {e}"))?;
    area.present().map_err(|e| anyhow!("cannot draw {what}: {e}"))
}

/// Writes `img` as a PNG at `path` (atomically: a reader never sees half a file).
pub fn save_png(img: &RgbImage, path: &Path) -> Result<()> {
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).with_context(|| format!("cannot encode {}", path.display()))?;
    atomic_write(path, &png)
}

/// `[lo, hi]` of the finite values, `None` when there are none.
pub fn finite_range(v: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    v.into_iter().filter(|x| x.is_finite()).fold(None, |r, x| match r {
        None => Some((x, x)),
        Some((lo, hi)) => Some((lo.min(x), hi.max(x))),
    })
}

/// An axis range around `[lo, hi]` with 5 % room on each side (one unit when it is a point).
pub fn padded((lo, hi): (f64, f64)) -> std::ops::Range<f64> {
    let (lo, hi) = if hi - lo < 1e-9 { (lo - 0.5, hi + 0.5) } else { (lo, hi) };
    let m = 0.05 * (hi - lo);
    (lo - m)..(hi + m)
}

/// A tick label without float noise: at most four decimals, trailing zeros dropped.
pub fn tick(v: f64) -> String {
    let a = v.abs();
    if a < 1e-12 {
        return "0".into();
    }
    if a < 1e-3 {
        return format!("{v:.1e}");
    }
    let s = if a >= 1000.0 { format!("{v:.0}") } else { format!("{v:.4}") };
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { &s };
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}
