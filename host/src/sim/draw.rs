//! Pictures of a drive: the track from above with the driven path coloured by lateral error
//! and the interventions marked (PNG), and the camera's view with the steering drawn on it
//! (animated GIF).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use anyhow::Context;
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Rgb, RgbImage, RgbaImage};

use super::ground::TEXEL;
use super::metrics::Report;
use super::render::{Frame, FRAME_H, FRAME_W};
use super::session::INTERVENTION_DISTANCE;
use super::texture::unpack;
use super::world::World;

/// The top-down picture is at most this many pixels wide or high.
const MAX_SIDE: usize = 1400;

/// The world from above (north up) with `report`'s path: green on the centre line through
/// yellow to red at the intervention distance; each intervention is a magenta ring, the start
/// a white square.
pub fn top_down(world: &World, report: &Report) -> RgbImage {
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
    img
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
    img
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
        self.encoder
            .encode_frame(image::Frame::from_parts(rgba, 0, 0, self.delay))
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}
