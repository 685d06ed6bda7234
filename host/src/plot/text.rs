//! The one typeface every picture uses: DejaVu Sans, compiled into the binary (its licence is
//! `DejaVuSans-LICENSE.txt` beside it), so no font is read from the system or downloaded at run
//! time. Text is set here with `ab_glyph` (kerning, each glyph at its own bearing) and drawn
//! through [`super::raster::Pixels`], the backend every chart uses; plotters only says what to
//! write where.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};
use plotters::style::{FontDesc, FontFamily, FontStyle, RGBColor, TextStyle};

const DEJAVU_SANS: &[u8] = include_bytes!("DejaVuSans.ttf");

fn face() -> &'static FontRef<'static> {
    static FACE: OnceLock<FontRef<'static>> = OnceLock::new();
    // The bytes are part of the crate: a font that does not parse is a build defect.
    FACE.get_or_init(|| FontRef::try_from_slice(DEJAVU_SANS).expect("the bundled DejaVu Sans parses"))
}

/// A plotters font description at `size` pixels (the family name is only a label: the
/// backend always sets the bundled face).
pub fn font(size: f64) -> FontDesc<'static> {
    FontDesc::new(FontFamily::SansSerif, size, FontStyle::Normal)
}

/// Text at `size` pixels in `colour`.
pub fn style(size: f64, colour: RGBColor) -> TextStyle<'static> {
    font(size).color(&colour)
}

/// Width and height in pixels of `text` set at `size` (the height is the face's line height:
/// ascent to descent, whatever the letters).
pub fn measure(text: &str, size: f64) -> (u32, u32) {
    let f = face().as_scaled(PxScale::from(size as f32));
    let mut width = 0f32;
    let mut prev = None;
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            width += f.kern(p, id);
        }
        width += f.h_advance(id);
        prev = Some(id);
    }
    (width.ceil() as u32, (f.ascent() - f.descent()).ceil() as u32)
}

/// Calls `ink(x, y, coverage)` for every pixel of `text` set at `size`, `(x, y)` relative to
/// the top left corner of its [`measure`] box.
pub fn rasterize(text: &str, size: f64, mut ink: impl FnMut(i32, i32, f32)) {
    let scale = PxScale::from(size as f32);
    let f = face().as_scaled(scale);
    let mut caret = 0f32;
    let mut prev = None;
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            caret += f.kern(p, id);
        }
        let glyph = id.with_scale_and_position(scale, point(caret, f.ascent()));
        caret += f.h_advance(id);
        prev = Some(id);
        if let Some(outline) = f.outline_glyph(glyph) {
            let b = outline.px_bounds();
            outline.draw(|x, y, coverage| ink(b.min.x as i32 + x as i32, b.min.y as i32 + y as i32, coverage));
        }
    }
}
