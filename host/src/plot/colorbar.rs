//! A colour bar: the key to a picture coloured by a value (the lap map's lateral error, the
//! saliency of `pilot explain`).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{Area, Drawn, INK};

use super::text::style;

pub struct ColourBar<'a> {
    pub title: &'a str,
    /// The colour at `t` in [0, 1].
    pub colour: &'a dyn Fn(f64) -> RGBColor,
    /// Labelled ticks: `(t, label)`.
    pub ticks: &'a [(f64, String)],
}

/// Draws `bar` in the pixel rectangle `(x, y, w, h)` of `area`: vertical (0 at the bottom,
/// labels to the right, title above) when `h > w`, else horizontal (0 at the left, labels
/// below, title to the left); text in `ink`.
pub fn draw(area: &Area<'_>, bar: &ColourBar<'_>, (x, y, w, h): (i32, i32, i32, i32), text_size: f64, ink: RGBColor) -> Drawn {
    let vertical = h > w;
    let steps = if vertical { h } else { w };
    for i in 0..steps {
        let t = i as f64 / (steps - 1).max(1) as f64;
        let c = (bar.colour)(t);
        let cell = if vertical { [(x, y + h - 1 - i), (x + w, y + h - i)] } else { [(x + i, y), (x + i + 1, y + h)] };
        area.draw(&Rectangle::new(cell, c.filled()))?;
    }
    area.draw(&Rectangle::new([(x, y), (x + w, y + h)], INK.stroke_width(1)))?;
    for (t, label) in bar.ticks {
        if vertical {
            let ty = y + h - 1 - (t * (h - 1) as f64).round() as i32;
            area.draw(&PathElement::new(vec![(x + w, ty), (x + w + 5, ty)], INK))?;
            area.draw_text(label, &style(text_size, ink).pos(Pos::new(HPos::Left, VPos::Center)), (x + w + 8, ty))?;
        } else {
            let tx = x + (t * (w - 1) as f64).round() as i32;
            area.draw(&PathElement::new(vec![(tx, y + h), (tx, y + h + 4)], INK))?;
            area.draw_text(label, &style(text_size, ink).pos(Pos::new(HPos::Center, VPos::Top)), (tx, y + h + 5))?;
        }
    }
    if vertical {
        area.draw_text(bar.title, &style(text_size, ink).pos(Pos::new(HPos::Left, VPos::Bottom)), (x, y - 8))?;
    } else {
        area.draw_text(bar.title, &style(text_size, ink).pos(Pos::new(HPos::Right, VPos::Center)), (x - 8, y + h / 2))?;
    }
    Ok(())
}
