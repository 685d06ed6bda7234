//! Saliency drawn over the camera frame: the part the network sees (its crop) tinted by the
//! mask, the rest dimmed, the steering as bars on the bonnet and in words below, a colour bar;
//! and many such frames as an animated GIF.

use std::cell::RefCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{ensure, Context, Result};
use common::preprocess::Preprocess;
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Rgb, RgbImage};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Saliency;
use crate::fsutil::atomic_write;
use crate::plot::canvas::{draw_over, tick, Area, Drawn};
use crate::plot::colorbar::{self, ColourBar};
use crate::plot::text::style;

pub const NETWORK_COLOUR: RGBColor = RGBColor(255, 220, 0);
pub const LABEL_COLOUR: RGBColor = RGBColor(0, 230, 255);

/// What is written under the frame.
pub struct Caption<'a> {
    /// Where the frame is from (an image file, a moment of a drive).
    pub title: &'a str,
    /// The network's steering.
    pub network: f32,
    /// The reference steering and its name ("label" for a recording, "expert" for the
    /// simulator).
    pub reference: Option<(&'a str, f32)>,
}

/// Height of the caption strip under a frame drawn at `scale`.
pub fn strip_height(scale: u32) -> u32 {
    34 * scale
}

/// Saliency colours, dark purple through red and orange to pale yellow.
pub fn heat(t: f64) -> RGBColor {
    const STOPS: [(f64, [f64; 3]); 4] = [(0.0, [40.0, 0.0, 120.0]), (0.35, [220.0, 20.0, 60.0]), (0.7, [255.0, 170.0, 0.0]), (1.0, [255.0, 255.0, 130.0])];
    let t = t.clamp(0.0, 1.0);
    let k = STOPS.iter().position(|s| s.0 >= t).unwrap_or(STOPS.len() - 1).max(1);
    let ((t0, a), (t1, b)) = (STOPS[k - 1], STOPS[k]);
    let f = (t - t0) / (t1 - t0);
    let mix = |i: usize| (a[i] + (b[i] - a[i]) * f).round() as u8;
    RGBColor(mix(0), mix(1), mix(2))
}

/// Bilinear sample of the mask at input coordinates (pixel centres at integers).
fn sample(s: &Saliency, y: f64, x: f64) -> f64 {
    let clamp = |v: f64, n: usize| v.clamp(0.0, (n - 1) as f64);
    let (y, x) = (clamp(y, s.h), clamp(x, s.w));
    let (y0, x0) = (y.floor() as usize, x.floor() as usize);
    let (y1, x1) = ((y0 + 1).min(s.h - 1), (x0 + 1).min(s.w - 1));
    let (fy, fx) = (y - y0 as f64, x - x0 as f64);
    let row = |yy: usize| s.at(yy, x0) as f64 * (1.0 - fx) + s.at(yy, x1) as f64 * fx;
    row(y0) * (1.0 - fy) + row(y1) * fy
}

/// The frame (`rgb888`, of `pp`'s frame size) at `scale`, the crop tinted by `saliency`, with
/// the caption strip below.
pub fn overlay(rgb888: &[u8], pp: &Preprocess, saliency: &Saliency, caption: &Caption<'_>, scale: u32) -> Result<RgbImage> {
    let (fw, fh) = (pp.frame_w as u32, pp.frame_h as u32);
    ensure!(rgb888.len() == (fw * fh * 3) as usize, "the frame has {} bytes, a {fw}x{fh} RGB frame {}", rgb888.len(), fw * fh * 3);
    ensure!(saliency.h > 0 && saliency.w > 0, "empty saliency mask");
    let scale = scale.max(1);
    let mut img = RgbImage::from_pixel(fw * scale, fh * scale + strip_height(scale), Rgb([28, 28, 28]));
    let c = pp.crop;
    for y in 0..fh * scale {
        for x in 0..fw * scale {
            let (sx, sy) = (x / scale, y / scale);
            let i = ((sy * fw + sx) * 3) as usize;
            let px = [rgb888[i], rgb888[i + 1], rgb888[i + 2]].map(|v| v as f64);
            // Frame coordinates of this output pixel's centre.
            let (fx, fy) = ((x as f64 + 0.5) / scale as f64, (y as f64 + 0.5) / scale as f64);
            let inside = fx >= c.x as f64 && fx < (c.x + c.w) as f64 && fy >= c.y as f64 && fy < (c.y + c.h) as f64;
            let out = if inside {
                let t = sample(saliency, (fy - c.y as f64) * saliency.h as f64 / c.h as f64 - 0.5, (fx - c.x as f64) * saliency.w as f64 / c.w as f64 - 0.5);
                let a = 0.85 * t.powf(0.75);
                let h = heat(t);
                [h.0, h.1, h.2].map(|v| v as f64).iter().zip(px).map(|(&h, p)| p * (1.0 - a) + h * a).collect::<Vec<_>>()
            } else {
                // The network never sees this part.
                px.iter().map(|p| p * 0.45).collect()
            };
            img.put_pixel(x, y, Rgb([out[0] as u8, out[1] as u8, out[2] as u8]));
        }
    }
    draw_over(&mut img, "the saliency picture", |area| annotate(area, pp, caption, scale))?;
    Ok(img)
}

fn annotate(area: &Area<'_>, pp: &Preprocess, caption: &Caption<'_>, scale: u32) -> Drawn {
    let s = scale as i32;
    let (fw, fh) = (pp.frame_w as i32 * s, pp.frame_h as i32 * s);
    let c = pp.crop;
    area.draw(&Rectangle::new([(c.x as i32 * s, c.y as i32 * s), ((c.x + c.w) as i32 * s - 1, (c.y + c.h) as i32 * s - 1)], WHITE.mix(0.6).stroke_width(1)))?;

    // Bars from the centre towards the side each turns to, full reach at full lock.
    let centre = fw / 2;
    let reach = (centre - 10 * s) as f64;
    let bar_y = fh - 12 * s;
    area.draw(&PathElement::new(vec![(centre, bar_y - 5 * s), (centre, bar_y + 5 * s)], WHITE))?;
    let bar = |value: f32, y: i32, half: i32, colour: RGBColor| {
        let end = centre + (value.clamp(-1.0, 1.0) as f64 * reach).round() as i32;
        Rectangle::new([(centre.min(end), y - half), (centre.max(end), y + half)], colour.filled())
    };
    if let Some((_, v)) = caption.reference {
        area.draw(&bar(v, bar_y + 3 * s, s.max(1) / 2 + 1, LABEL_COLOUR))?;
    }
    area.draw(&bar(caption.network, bar_y - 2 * s, 2 * s, NETWORK_COLOUR))?;

    let (small, big) = if scale >= 2 { (14.0, 16.0) } else { (10.0, 11.0) };
    let left = Pos::new(HPos::Left, VPos::Center);
    let y0 = fh;
    let title: String = caption.title.chars().take(if scale >= 2 { 60 } else { 48 }).collect();
    area.draw_text(&title, &style(small, RGBColor(200, 200, 200)).pos(left), (6 * s, y0 + 9 * s))?;
    area.draw_text(&format!("network {:+.3}", caption.network), &style(big, NETWORK_COLOUR).pos(left), (6 * s, y0 + 24 * s))?;
    if let Some((name, v)) = caption.reference {
        area.draw_text(&format!("{name} {v:+.3}"), &style(big, LABEL_COLOUR).pos(left), (6 * s + 118 * s, y0 + 24 * s))?;
    }
    if scale >= 2 {
        let ticks = [(0.0, "0".to_string()), (0.5, tick(0.5)), (1.0, "1".to_string())];
        let bar = ColourBar { title: "saliency", colour: &heat, ticks: &ticks };
        colorbar::draw(area, &bar, (fw - 150, y0 + 14, 130, 10), 12.0, RGBColor(200, 200, 200))?;
    }
    Ok(())
}

/// The GIF's bytes, shared with the encoder (which gives its writer back only by being
/// dropped, when it writes the trailer).
#[derive(Clone, Default)]
struct Shared(Rc<RefCell<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An animated GIF of pictures of one size, built in memory and written in one go at the end
/// (an interrupted run leaves no half GIF).
pub struct Gif {
    encoder: GifEncoder<Shared>,
    bytes: Shared,
    path: PathBuf,
    delay: Delay,
    frames: usize,
}

impl Gif {
    /// A GIF for `path` showing each picture for `frame_ms` milliseconds, looping.
    pub fn create(path: &Path, frame_ms: u32) -> Result<Gif> {
        let bytes = Shared::default();
        // Speed 30: the fastest colour quantization, plenty for a preview.
        let mut encoder = GifEncoder::new_with_speed(bytes.clone(), 30);
        encoder.set_repeat(Repeat::Infinite).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(Gif { encoder, bytes, path: path.to_owned(), delay: Delay::from_numer_denom_ms(frame_ms.max(20), 1), frames: 0 })
    }

    pub fn push(&mut self, picture: &RgbImage) -> Result<()> {
        let rgba = image::DynamicImage::ImageRgb8(picture.clone()).into_rgba8();
        self.encoder.encode_frame(image::Frame::from_parts(rgba, 0, 0, self.delay)).with_context(|| format!("cannot write {}", self.path.display()))?;
        self.frames += 1;
        Ok(())
    }

    /// Writes the file; returns the number of frames.
    pub fn finish(self) -> Result<usize> {
        let Gif { encoder, bytes, path, frames, .. } = self;
        drop(encoder);
        let data = std::mem::take(&mut *bytes.0.borrow_mut());
        atomic_write(&path, &data)?;
        Ok(frames)
    }
}
