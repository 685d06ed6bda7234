//! Pictures of a drive: the track from above with the driven path coloured by lateral error
//! and the interventions marked, with a key (PNG), and the camera's view with the steering
//! drawn on it (animated GIF).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Rgb, RgbImage, RgbaImage};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::ground::TEXEL;
use super::metrics::Report;
use super::render::{Frame, FRAME_H, FRAME_W};
use super::session::INTERVENTION_DISTANCE;
use super::texture::unpack;
use super::world::World;
use crate::plot::canvas::{draw_over, Area, Drawn};
use crate::plot::colorbar::{self, ColourBar};
use crate::plot::text::style;

/// The top-down picture is at most this many pixels wide or high.
const MAX_SIDE: usize = 1400;

/// Width of the key to the right of the lap map.
const KEY_WIDTH: u32 = 270;
/// The key needs this much height; a smaller map is padded below.
const KEY_HEIGHT: u32 = 470;

/// The world from above (north up) with `report`'s path: green on the centre line through
/// yellow to red at the intervention distance; each intervention is a magenta ring, the start
/// a white square. A scale bar sits on the map; to its right a key explains the colours and
/// marks and gives the drive's numbers.
pub fn top_down(world: &World, report: &Report) -> RgbImage {
    let (map, metres_per_pixel) = map_with_path(world, report);
    let (w, h) = map.dimensions();
    let mut img = RgbImage::from_pixel(w + KEY_WIDTH, h.max(KEY_HEIGHT), Rgb([255, 255, 255]));
    image::imageops::replace(&mut img, &map, 0, 0);
    // Text and marks only: a failure here leaves the picture without its key, not the drive
    // without a picture.
    if let Err(e) = draw_over(&mut img, "the lap map's key", |area| key(area, (w, h), metres_per_pixel, report)) {
        eprintln!("warning: {e}");
    }
    img
}

/// Error colour of the key's bar, `t` in [0, 1] of the intervention distance.
fn bar_colour(t: f64) -> RGBColor {
    let c = error_colour(t);
    RGBColor(c.0[0], c.0[1], c.0[2])
}

/// The scale bar on the map and the key beside it.
fn key(area: &Area<'_>, (map_w, map_h): (u32, u32), metres_per_pixel: f64, report: &Report) -> Drawn {
    let ink = RGBColor(30, 30, 30);
    // Scale bar: the roundest length near a fifth of the map's width.
    let target = map_w as f64 * metres_per_pixel / 5.0;
    let metres = [5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0].into_iter().rfind(|&m| m <= target).unwrap_or(5.0);
    let len = (metres / metres_per_pixel).round() as i32;
    let (x0, y0) = (16, map_h as i32 - 18);
    area.draw(&Rectangle::new([(x0 - 8, y0 - 26), (x0 + len + 8, y0 + 10)], WHITE.mix(0.85).filled()))?;
    area.draw(&Rectangle::new([(x0, y0 - 3), (x0 + len, y0 + 3)], ink.filled()))?;
    area.draw_text(&format!("{metres:.0} m"), &style(14.0, ink).pos(Pos::new(HPos::Center, VPos::Bottom)), (x0 + len / 2, y0 - 6))?;

    let x = map_w as i32 + 20;
    let d = INTERVENTION_DISTANCE;
    let ticks: Vec<(f64, String)> =
        [0.0, 0.25, 0.5, 0.75, 1.0].iter().map(|&t| (t, format!("{:.2} m{}", t * d, if t == 1.0 { ": intervention" } else { "" }))).collect();
    let bar = ColourBar { title: "distance from the centre line", colour: &bar_colour, ticks: &ticks };
    colorbar::draw(area, &bar, (x, 44, 24, 200), 14.0, ink)?;

    let mut y = 280;
    area.draw(&Circle::new((x + 10, y), 7, RGBColor(230, 0, 230).stroke_width(2)))?;
    area.draw_text(&format!("intervention ({})", report.interventions.len()), &style(14.0, ink).pos(Pos::new(HPos::Left, VPos::Center)), (x + 28, y))?;
    y += 26;
    area.draw(&Rectangle::new([(x + 6, y - 4), (x + 14, y + 4)], WHITE.filled()))?;
    area.draw(&Rectangle::new([(x + 5, y - 5), (x + 15, y + 5)], ink.stroke_width(1)))?;
    area.draw_text("start", &style(14.0, ink).pos(Pos::new(HPos::Left, VPos::Center)), (x + 28, y))?;
    y += 40;
    for line in [
        format!("autonomy {:.1} %", report.autonomy()),
        format!("{:.2} laps in {:.0} s", report.laps, report.elapsed_s),
        format!("off the centre line: mean {:.2} m,", report.mean_abs_lateral),
        format!("largest {:.2} m", report.max_abs_lateral),
    ] {
        area.draw_text(&line, &style(14.0, ink).pos(Pos::new(HPos::Left, VPos::Center)), (x, y))?;
        y += 22;
    }
    Ok(())
}

/// The map with the path, interventions and start drawn, and its metres per pixel.
fn map_with_path(world: &World, report: &Report) -> (RgbImage, f64) {
    let map = world.map();
    let k = (0..map.levels()).find(|&k| map.level(k).w.max(map.level(k).h) <= MAX_SIDE).unwrap_or(map.levels() - 1);
    let level = map.level(k);
    let (w, h) = (level.w, level.h);
    let mut img = RgbImage::new(w as u32, h as u32);
    for y in 0..h {
        for x in 0..w {
            // Washed out a little so the path stands out.
            let c = unpack(level.texels[(h - 1 - y) * w + x]).map(|v| (v as u32 * 3 / 5 + 90) as u8);
            img.put_pixel(x as u32, y as u32, Rgb(c));
        }
    }
    let size = TEXEL * (1 << k) as f64;
    let shift = ((1 << k) as f64 - 1.0) / 2.0 * TEXEL;
    let to_px = |x: f64, y: f64| {
        let px = (x - world.ground.origin[0] - shift) / size;
        let py = (y - world.ground.origin[1] - shift) / size;
        (px, h as f64 - 1.0 - py)
    };
    for pair in report.path.windows(2) {
        let (a, b) = (to_px(pair[0].x, pair[0].y), to_px(pair[1].x, pair[1].y));
        // A jump is a reset after an intervention, not a drive: no line.
        if (a.0 - b.0).hypot(a.1 - b.1) * size < 3.0 {
            line(&mut img, a, b, 1.5, error_colour(pair[1].lateral.abs() / INTERVENTION_DISTANCE));
        }
    }
    for i in &report.interventions {
        let (cx, cy) = to_px(i.x, i.y);
        ring(&mut img, (cx, cy), 7.0, 2.0, Rgb([230, 0, 230]));
    }
    if let Some(start) = report.path.first() {
        let (cx, cy) = to_px(start.x, start.y);
        for dy in -3..=3 {
            for dx in -3..=3 {
                put(&mut img, cx as i64 + dx, cy as i64 + dy, Rgb([255, 255, 255]));
            }
        }
    }
    (img, size)
}

/// Green (0) through yellow (0.5) to red (1 and beyond).
fn error_colour(t: f64) -> Rgb<u8> {
    let t = t.clamp(0.0, 1.0);
    let (r, g) = if t < 0.5 { (2.0 * t, 1.0) } else { (1.0, 2.0 - 2.0 * t) };
    Rgb([(r * 255.0) as u8, (g * 220.0) as u8, 0])
}

fn put(img: &mut RgbImage, x: i64, y: i64, c: Rgb<u8>) {
    if x >= 0 && y >= 0 && (x as u32) < img.width() && (y as u32) < img.height() {
        img.put_pixel(x as u32, y as u32, c);
    }
}

/// A line `half_width` pixels to each side of the segment `a`-`b`.
fn line(img: &mut RgbImage, a: (f64, f64), b: (f64, f64), half_width: f64, c: Rgb<u8>) {
    let (x0, x1) = (a.0.min(b.0) - half_width, a.0.max(b.0) + half_width);
    let (y0, y1) = (a.1.min(b.1) - half_width, a.1.max(b.1) + half_width);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = (dx * dx + dy * dy).max(1e-12);
    for y in y0.floor() as i64..=y1.ceil() as i64 {
        for x in x0.floor() as i64..=x1.ceil() as i64 {
            let (px, py) = (x as f64 - a.0, y as f64 - a.1);
            let t = ((px * dx + py * dy) / len2).clamp(0.0, 1.0);
            if (px - t * dx).hypot(py - t * dy) <= half_width {
                put(img, x, y, c);
            }
        }
    }
}

fn ring(img: &mut RgbImage, centre: (f64, f64), radius: f64, width: f64, c: Rgb<u8>) {
    let r = (radius + width).ceil() as i64;
    for dy in -r..=r {
        for dx in -r..=r {
            let d = (dx as f64).hypot(dy as f64);
            if (d - radius).abs() <= width / 2.0 {
                put(img, centre.0 as i64 + dx, centre.1 as i64 + dy, c);
            }
        }
    }
}

/// `frame` with the steering shown as bars above the bonnet: the pilot's (yellow, thick) and
/// the expert's (cyan, thin), each from the centre towards the side it turns to, full width at
/// full lock.
pub fn annotate(frame: &Frame, steering: f32, expert: f32) -> RgbImage {
    let mut img = frame.to_image();
    let centre = FRAME_W as f64 / 2.0;
    let reach = centre - 10.0;
    let bar = |img: &mut RgbImage, value: f32, y: f64, half: f64, c: Rgb<u8>| {
        let end = centre + value.clamp(-1.0, 1.0) as f64 * reach;
        line(img, (centre, y), (end, y), half, c);
    };
    let y = FRAME_H as f64 - 26.0;
    line(&mut img, (centre, y - 5.0), (centre, y + 5.0), 0.5, Rgb([255, 255, 255]));
    bar(&mut img, steering, y, 2.0, Rgb([255, 220, 0]));
    bar(&mut img, expert, y + 4.0, 0.7, Rgb([0, 230, 255]));
    if let Err(e) = draw_over(&mut img, "the steering labels", |area| steering_labels(area, steering, expert)) {
        eprintln!("warning: {e}");
    }
    img
}

/// The key to the bars, with their values, in the top left corner.
fn steering_labels(area: &Area<'_>, steering: f32, expert: f32) -> Drawn {
    area.draw(&Rectangle::new([(4, 4), (112, 42)], BLACK.mix(0.55).filled()))?;
    let left = Pos::new(HPos::Left, VPos::Center);
    area.draw_text(&format!("pilot   {steering:+.3}"), &style(13.0, RGBColor(255, 220, 0)).pos(left), (10, 14))?;
    area.draw_text(&format!("expert {expert:+.3}"), &style(13.0, RGBColor(0, 230, 255)).pos(left), (10, 32))?;
    Ok(())
}

/// An animated GIF of annotated frames, keeping every `stride`-th frame offered so that a
/// long drive stays a few megabytes; it plays in real time.
pub struct GifRecorder {
    encoder: GifEncoder<BufWriter<File>>,
    path: PathBuf,
    stride: u64,
    delay: Delay,
    /// Frames to skip before the next one kept.
    skip: u64,
}

/// Frames a GIF keeps at most (about 25 KB each).
pub const GIF_MAX_FRAMES: u64 = 160;

impl GifRecorder {
    /// A GIF at `path` for a drive of about `frames` frames of `frame_ms` milliseconds.
    pub fn create(path: &Path, frames: u64, frame_ms: u32) -> anyhow::Result<Self> {
        let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        // Speed 30: the fastest colour quantization, plenty for a preview.
        let mut encoder = GifEncoder::new_with_speed(BufWriter::new(file), 30);
        encoder.set_repeat(Repeat::Infinite).with_context(|| format!("cannot write {}", path.display()))?;
        let stride = frames.div_ceil(GIF_MAX_FRAMES).max(1);
        let delay = Delay::from_numer_denom_ms(frame_ms * stride as u32, 1);
        Ok(GifRecorder { encoder, path: path.to_owned(), stride, delay, skip: 0 })
    }

    /// Offers the next frame; every `stride`-th is drawn and kept.
    pub fn offer(&mut self, frame: &Frame, steering: f32, expert: f32) -> anyhow::Result<()> {
        if self.skip > 0 {
            self.skip -= 1;
            return Ok(());
        }
        self.skip = self.stride - 1;
        let rgba: RgbaImage = image::DynamicImage::ImageRgb8(annotate(frame, steering, expert)).into_rgba8();
        self.encoder.encode_frame(image::Frame::from_parts(rgba, 0, 0, self.delay)).with_context(|| format!("cannot write {}", self.path.display()))
    }
}
