//! The one typeface every picture uses: DejaVu Sans, compiled into the binary (its licence is
//! `DejaVuSans-LICENSE.txt` beside it) and registered with plotters as `sans-serif`, so no font
//! is read from the system or downloaded at run time.

use std::sync::Once;

use image::RgbImage;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

const DEJAVU_SANS: &[u8] = include_bytes!("DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The bytes are part of the crate: a font that does not parse is a build defect.
        assert!(register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS).is_ok(), "the bundled DejaVu Sans does not parse");
    });
}

/// The bundled font at `size` pixels.
pub fn font(size: f64) -> FontDesc<'static> {
    register();
    FontDesc::new(FontFamily::Name(FAMILY), size, FontStyle::Normal)
}

/// Text in the bundled font, `size` pixels, in `colour`.
pub fn style(size: f64, colour: RGBColor) -> TextStyle<'static> {
    font(size).color(&colour)
}

/// Width and height in pixels of `text` at `size`.
pub fn measure(text: &str, size: f64) -> (u32, u32) {
    font(size).box_size(text).unwrap_or((0, 0))
}

/// Draws `text` turned a quarter turn anticlockwise (read from bottom to top, as a y-axis
/// label), centred on `centre`. plotters' bitmap backend ignores font rotation with this font
/// engine, so the text is drawn level into a scratch buffer and copied across turned.
pub fn draw_vertical(img: &mut RgbImage, text: &str, size: f64, colour: RGBColor, centre: (i32, i32)) {
    let (w, h) = measure(text, size);
    let (w, h) = (w + 4, h + 6);
    // White text on black: the red channel is then the glyph coverage.
    let mut scratch = vec![0u8; (w * h * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut scratch, (w, h)).into_drawing_area();
        let style = style(size, WHITE).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        ));
        if area.draw_text(text, &style, (w as i32 / 2, h as i32 / 2)).is_err() || area.present().is_err() {
            return;
        }
    }
    for y in 0..h {
        for x in 0..w {
            let a = scratch[((y * w + x) * 3) as usize] as u32;
            if a == 0 {
                continue;
            }
            // Level (x, y) goes to (y, -x) about the centres.
            let dx = centre.0 - h as i32 / 2 + y as i32;
            let dy = centre.1 + w as i32 / 2 - x as i32;
            if dx < 0 || dy < 0 || dx as u32 >= img.width() || dy as u32 >= img.height() {
                continue;
            }
            let p = img.get_pixel_mut(dx as u32, dy as u32);
            let ink = [colour.0, colour.1, colour.2];
            for c in 0..3 {
                p.0[c] = ((p.0[c] as u32 * (255 - a) + ink[c] as u32 * a) / 255) as u8;
            }
        }
    }
}
