//! The drawing backend of every picture: plotters' bitmap backend for shapes, and text set by
//! [`super::text`] in the bundled font, anchored and turned as plotters asks (plotters' own
//! font engines either read system fonts or, with `ab_glyph`, ignore the glyphs' bearings and
//! any rotation).

use plotters::prelude::*;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind};

use super::text::{measure, rasterize};

/// An RGB buffer to draw on.
pub struct Pixels<'a>(BitMapBackend<'a>);

impl<'a> Pixels<'a> {
    /// `buf` holds `w * h` RGB pixels, rows top to bottom.
    pub fn new(buf: &'a mut [u8], (w, h): (u32, u32)) -> Pixels<'a> {
        Pixels(BitMapBackend::with_buffer(buf, (w, h)))
    }
}

type Failure = DrawingErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>;

impl DrawingBackend for Pixels<'_> {
    type ErrorType = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), Failure> {
        self.0.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), Failure> {
        self.0.present()
    }
    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), Failure> {
        self.0.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(&mut self, from: BackendCoord, to: BackendCoord, style: &S) -> Result<(), Failure> {
        self.0.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(&mut self, upper_left: BackendCoord, bottom_right: BackendCoord, style: &S, fill: bool) -> Result<(), Failure> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(&mut self, path: I, style: &S) -> Result<(), Failure> {
        self.0.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(&mut self, center: BackendCoord, radius: u32, style: &S, fill: bool) -> Result<(), Failure> {
        self.0.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(&mut self, vert: I, style: &S) -> Result<(), Failure> {
        self.0.fill_polygon(vert, style)
    }
    fn blit_bitmap(&mut self, pos: BackendCoord, size: (u32, u32), src: &[u8]) -> Result<(), Failure> {
        self.0.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<T: BackendTextStyle>(&self, text: &str, style: &T) -> Result<(u32, u32), Failure> {
        Ok(measure(text, style.size()))
    }

    fn draw_text<T: BackendTextStyle>(&mut self, text: &str, style: &T, pos: BackendCoord) -> Result<(), Failure> {
        let colour = style.color();
        if colour.alpha == 0.0 {
            return Ok(());
        }
        let (w, h) = measure(text, style.size());
        let (w, h) = (w as i32, h as i32);
        let anchor = style.anchor();
        let dx = match anchor.h_pos {
            HPos::Left => 0,
            HPos::Center => -w / 2,
            HPos::Right => -w,
        };
        let dy = match anchor.v_pos {
            VPos::Top => 0,
            VPos::Center => -h / 2,
            VPos::Bottom => -h,
        };
        let turn = style.transform();
        let (bw, bh) = self.get_size();
        let mut result = Ok(());
        rasterize(text, style.size(), |x, y, coverage| {
            // Anchored first, then turned about the anchor point, as plotters' own text is.
            let (x, y) = turn.transform(x + dx, y + dy);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if result.is_ok() && coverage > 0.0 && x >= 0 && y >= 0 && (x as u32) < bw && (y as u32) < bh {
                result = self.0.draw_pixel((x, y), BackendColor { alpha: colour.alpha * coverage.min(1.0) as f64, rgb: colour.rgb });
            }
        });
        result
    }
}
