//! Line charts, scatter plots and histograms drawn straight into an RGB image.

use image::{Rgb, RgbImage};

use super::font;

pub const BLUE: Rgb<u8> = Rgb([31, 119, 180]);
pub const ORANGE: Rgb<u8> = Rgb([255, 127, 14]);
pub const GREY: Rgb<u8> = Rgb([150, 150, 150]);
const INK: Rgb<u8> = Rgb([30, 30, 30]);
const GRID: Rgb<u8> = Rgb([228, 228, 228]);

const W: u32 = 720;
const H: u32 = 440;
const LEFT: i32 = 80;
const RIGHT: i32 = 20;
const TOP: i32 = 44;
const BOTTOM: i32 = 56;

/// A plotting area with data ranges.
pub struct Chart {
    img: RgbImage,
    x: (f64, f64),
    y: (f64, f64),
}

/// One data series of a line chart.
pub struct Series<'a> {
    pub name: &'a str,
    pub color: Rgb<u8>,
    pub points: Vec<(f64, f64)>,
}

fn label(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 0.1 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// `[lo, hi]` widened when empty, with 5% margins.
fn span(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = if lo.is_finite() && hi.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let (lo, hi) = if hi - lo < 1e-9 { (lo - 0.5, hi + 0.5) } else { (lo, hi) };
    let m = 0.05 * (hi - lo);
    (lo - m, hi + m)
}

impl Chart {
    pub fn new(title: &str, x_label: &str, y_label: &str, x: (f64, f64), y: (f64, f64)) -> Chart {
        let mut c = Chart { img: RgbImage::from_pixel(W, H, Rgb([255, 255, 255])), x: span(x.0, x.1), y: span(y.0, y.1) };
        c.text(title, (W as i32 - font::width(title, 2) as i32) / 2, 12, 2, INK);
        c.text(x_label, (W as i32 - font::width(x_label, 1) as i32) / 2, H as i32 - 20, 1, INK);
        c.text(y_label, 8, 24, 1, INK);
        c.axes();
        c
    }

    fn px(&self, x: f64, y: f64) -> (i32, i32) {
        let (pw, ph) = ((W as i32 - LEFT - RIGHT) as f64, (H as i32 - TOP - BOTTOM) as f64);
        let fx = (x - self.x.0) / (self.x.1 - self.x.0);
        let fy = (y - self.y.0) / (self.y.1 - self.y.0);
        (LEFT + (fx * pw).round() as i32, H as i32 - BOTTOM - (fy * ph).round() as i32)
    }

    fn dot(&mut self, x: i32, y: i32, c: Rgb<u8>) {
        if x >= 0 && y >= 0 && (x as u32) < W && (y as u32) < H {
            self.img.put_pixel(x as u32, y as u32, c);
        }
    }

    fn text(&mut self, t: &str, x: i32, y: i32, scale: u32, c: Rgb<u8>) {
        let mut dots = Vec::new();
        font::draw(t, x, y, scale, |x, y| dots.push((x, y)));
        for (x, y) in dots {
            self.dot(x, y, c);
        }
    }

    /// A line in pixel coordinates (Bresenham), `thick` pixels wide.
    fn line_px(&mut self, (x0, y0): (i32, i32), (x1, y1): (i32, i32), c: Rgb<u8>, thick: i32) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            for t in 0..thick {
                self.dot(x, y + t, c);
                self.dot(x + t, y, c);
            }
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// A line in data coordinates.
    pub fn line(&mut self, a: (f64, f64), b: (f64, f64), c: Rgb<u8>) {
        self.line_px(self.px(a.0, a.1), self.px(b.0, b.1), c, 1);
    }

    fn axes(&mut self) {
        let (x0, y0) = (LEFT, H as i32 - BOTTOM);
        let (x1, y1) = (W as i32 - RIGHT, TOP);
        for i in 0..=4 {
            let f = i as f64 / 4.0;
            let (xv, yv) = (self.x.0 + f * (self.x.1 - self.x.0), self.y.0 + f * (self.y.1 - self.y.0));
            let (px, _) = self.px(xv, self.y.0);
            let (_, py) = self.px(self.x.0, yv);
            self.line_px((px, y0), (px, y1), GRID, 1);
            self.line_px((x0, py), (x1, py), GRID, 1);
            let (lx, ly) = (label(xv), label(yv));
            self.text(&lx, px - font::width(&lx, 1) as i32 / 2, y0 + 8, 1, INK);
            self.text(&ly, x0 - 8 - font::width(&ly, 1) as i32, py - 3, 1, INK);
        }
        self.line_px((x0, y0), (x1, y0), INK, 1);
        self.line_px((x0, y0), (x0, y1), INK, 1);
    }

    /// Polylines with a legend in the top-right corner.
    pub fn series(&mut self, series: &[Series<'_>]) {
        for (i, s) in series.iter().enumerate() {
            for w in s.points.windows(2) {
                let (a, b) = (self.px(w[0].0, w[0].1), self.px(w[1].0, w[1].1));
                self.line_px(a, b, s.color, 2);
            }
            let (lx, ly) = (W as i32 - RIGHT - 160, TOP + 8 + 16 * i as i32);
            self.line_px((lx, ly + 3), (lx + 20, ly + 3), s.color, 2);
            self.text(s.name, lx + 28, ly, 1, INK);
        }
    }

    /// Points as small squares.
    pub fn points(&mut self, points: &[(f64, f64)], c: Rgb<u8>) {
        for &(x, y) in points {
            let (px, py) = self.px(x, y);
            for d in -1..=1 {
                for e in -1..=1 {
                    self.dot(px + d, py + e, c);
                }
            }
        }
    }

    /// Bars of `counts` over equal bins from `lo` to `hi`.
    pub fn bars(&mut self, lo: f64, hi: f64, counts: &[usize], c: Rgb<u8>) {
        let step = (hi - lo) / counts.len() as f64;
        for (i, &n) in counts.iter().enumerate() {
            let (a, top) = self.px(lo + i as f64 * step, n as f64);
            let (b, base) = self.px(lo + (i + 1) as f64 * step, 0.0);
            for x in a + 1..b {
                self.line_px((x, base), (x, top), c, 1);
            }
        }
    }

    pub fn into_image(self) -> RgbImage {
        self.img
    }
}
