//! An explain run: frames from a recording or a simulator drive, each explained and written as
//! a picture, all of them as an animated GIF and a CSV.
//!
//! ```text
//! OUT/frame-0001.png ...   each explained frame at twice its size
//! OUT/explain.gif          the same pictures at their own size, animated
//! OUT/explain.csv          frame, source, network steering, reference steering
//! ```

use std::cell::RefCell;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use anyhow::{bail, ensure, Context, Result};
use common::preprocess::Preprocess;

use super::picture::{overlay, Caption, Gif};
use super::{Explained, Explainer};
use crate::data::udacity::{find_recordings, read_log};
use crate::fsutil::atomic_write;
use crate::plot::canvas::save_png;
use crate::sim::drive::{drive, Driver, Pilot};
use crate::sim::render::{Frame, FRAME_H, FRAME_W};
use crate::sim::track::Track;
use crate::sim::world::World;
use crate::sim::FRAME_DT;

pub const GIF_FILE: &str = "explain.gif";
pub const CSV_FILE: &str = "explain.csv";
/// Pictures are written at this multiple of the frame size (the GIF at 1x).
pub const PNG_SCALE: u32 = 2;

/// Where the frames come from.
pub enum Source<'a> {
    /// A Udacity-format recording (or a folder of them): the centre images, the log's steering
    /// as the reference.
    Recording(&'a Path),
    /// The network drives the simulator's track `seed` at `speed` m/s; the expert's command
    /// for each frame is the reference.
    Drive { seed: u64, speed: f64 },
}

#[derive(Clone, Debug)]
pub struct Options {
    /// Frames to explain.
    pub frames: usize,
    /// Explain every `every`-th frame.
    pub every: usize,
    /// Frames to skip first.
    pub start: usize,
    pub gif: bool,
    /// Replace an earlier explain run's files in the output folder.
    pub force: bool,
}

/// What a run wrote.
#[derive(Clone, Debug)]
pub struct Summary {
    pub frames: usize,
    pub first_png: Option<PathBuf>,
    pub gif: Option<PathBuf>,
    pub csv: PathBuf,
    /// Mean |network - reference| over the explained frames.
    pub mean_abs_difference: f64,
}

/// `frame-NNNN.png` for 1-based `n`.
pub fn png_name(n: usize) -> String {
    format!("frame-{n:04}.png")
}

fn is_frame_png(name: &str) -> bool {
    name.strip_prefix("frame-").and_then(|r| r.strip_suffix(".png")).is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Makes `out`, refusing (without `force`) to replace an earlier run's files; with `force`
/// they are removed first, so that no stale frame is left among the new ones.
fn prepare(out: &Path, force: bool) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut old = Vec::new();
    for entry in std::fs::read_dir(out).with_context(|| format!("cannot list {}", out.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", out.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_frame_png(&name) || name == GIF_FILE || name == CSV_FILE {
            old.push(entry.path());
        }
    }
    if old.is_empty() {
        return Ok(());
    }
    if !force {
        bail!(
            "{} already holds an explain run ({} files such as {}); use --force to replace them, or another --out",
            out.display(),
            old.len(),
            old[0].display()
        );
    }
    for path in old {
        std::fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    Ok(())
}

/// Writes the pictures, GIF and CSV as frames come.
struct Writer {
    out: PathBuf,
    pp: Preprocess,
    gif: Option<Gif>,
    csv: String,
    written: usize,
    abs_difference: f64,
    first_png: Option<PathBuf>,
}

impl Writer {
    fn new(out: &Path, pp: Preprocess, gif: Option<Gif>) -> Writer {
        Writer { out: out.to_owned(), pp, gif, csv: String::new(), written: 0, abs_difference: 0.0, first_png: None }
    }

    fn frame(&mut self, rgb888: &[u8], source: &str, explained: &Explained, reference: Option<(&str, f32)>) -> Result<()> {
        let pp = self.pp;
        let caption = Caption { title: source, network: explained.steering, reference };
        self.written += 1;
        let path = self.out.join(png_name(self.written));
        save_png(&overlay(rgb888, &pp, &explained.saliency, &caption, PNG_SCALE)?, &path)?;
        self.first_png.get_or_insert(path);
        if let Some(gif) = &mut self.gif {
            gif.push(&overlay(rgb888, &pp, &explained.saliency, &caption, 1)?)?;
        }
        let r = reference.map(|r| r.1);
        if let Some(r) = r {
            self.abs_difference += (explained.steering - r).abs() as f64;
        }
        let r = r.map(|v| format!("{v:.6}")).unwrap_or_default();
        let _ = writeln!(self.csv, "{},{},{:.6},{r}", self.written, source.replace(',', " "), explained.steering);
        Ok(())
    }

    fn finish(self) -> Result<Summary> {
        let csv = self.out.join(CSV_FILE);
        atomic_write(&csv, format!("frame,source,network,reference\n{}", self.csv).as_bytes())?;
        let gif = match self.gif {
            Some(g) => {
                g.finish()?;
                Some(self.out.join(GIF_FILE))
            }
            None => None,
        };
        let n = self.written.max(1) as f64;
        Ok(Summary { frames: self.written, first_png: self.first_png, gif, csv, mean_abs_difference: self.abs_difference / n })
    }
}

/// Explains `opts.frames` frames of `source` with `explainer` into `out`; `progress(done, total)`
/// after each.
pub fn run(explainer: &mut dyn Explainer, source: &Source<'_>, out: &Path, opts: &Options, mut progress: impl FnMut(usize, usize)) -> Result<Summary> {
    ensure!(opts.frames >= 1 && opts.every >= 1, "--frames and --every must be at least 1");
    prepare(out, opts.force)?;
    // Frames are 10 Hz (the simulator; Udacity recordings are about that too).
    let frame_ms = (opts.every as f64 * FRAME_DT * 1000.0).round() as u32;
    let gif = if opts.gif { Some(Gif::create(&out.join(GIF_FILE), frame_ms)?) } else { None };
    match source {
        Source::Recording(dir) => recording(explainer, dir, out, gif, opts, &mut progress),
        Source::Drive { seed, speed } => simulator(explainer, *seed, *speed, out, gif, opts, &mut progress),
    }
}

fn recording(
    explainer: &mut dyn Explainer,
    dir: &Path,
    out: &Path,
    gif: Option<Gif>,
    opts: &Options,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Summary> {
    let mut rows = Vec::new();
    for (k, rec) in find_recordings(&[dir])?.iter().enumerate() {
        rows.extend(read_log(rec, k)?);
    }
    let chosen: Vec<_> = rows.iter().skip(opts.start).step_by(opts.every).take(opts.frames).collect();
    ensure!(!chosen.is_empty(), "{} has {} rows: none left after --start {}", dir.display(), rows.len(), opts.start);
    let pp = explainer.preprocess();
    let mut w = Writer::new(out, pp, gif);
    for (i, row) in chosen.iter().enumerate() {
        let rgb = decode(&row.center, &pp)?;
        let e = explainer.explain(&rgb).with_context(|| row_name(row))?;
        w.frame(&rgb, &row_name(row), &e, Some(("label", row.steering)))?;
        progress(i + 1, chosen.len());
    }
    w.finish()
}

/// The RGB888 pixels of the image at `path`, which must be `pp`'s frame size.
fn decode(path: &Path, pp: &Preprocess) -> Result<Vec<u8>> {
    let img = image::ImageReader::open(path)
        .with_context(|| format!("cannot open image {}", path.display()))?
        .with_guessed_format()
        .with_context(|| format!("cannot read image {}", path.display()))?
        .decode()
        .with_context(|| format!("cannot decode image {}", path.display()))?
        .into_rgb8();
    let (w, h) = img.dimensions();
    ensure!((w, h) == (pp.frame_w as u32, pp.frame_h as u32), "{} is {w}x{h}, but the network takes {}x{} frames", path.display(), pp.frame_w, pp.frame_h);
    Ok(img.into_raw())
}

fn row_name(row: &crate::data::udacity::DrivingRow) -> String {
    let file = row.center.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    format!("{file} (log line {})", row.line)
}

/// Steers with the explainer and keeps each frame's explanation for the observer.
struct Steering<'e> {
    explainer: &'e mut dyn Explainer,
    last: Rc<RefCell<Option<Explained>>>,
}

impl Driver for Steering<'_> {
    fn steer(&mut self, frame: &Frame) -> Result<f32> {
        let e = self.explainer.explain(frame.rgb())?;
        let steering = e.steering;
        *self.last.borrow_mut() = Some(e);
        Ok(steering)
    }
}

fn simulator(
    explainer: &mut dyn Explainer,
    seed: u64,
    speed: f64,
    out: &Path,
    gif: Option<Gif>,
    opts: &Options,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Summary> {
    ensure!(speed > 0.0, "--speed must be positive");
    let pp = explainer.preprocess();
    ensure!(
        pp.frame_w as usize == FRAME_W && pp.frame_h as usize == FRAME_H,
        "the network takes {}x{} frames; the simulator's camera gives {FRAME_W}x{FRAME_H}",
        pp.frame_w,
        pp.frame_h
    );
    let track = Track::generate(seed);
    let world = World::new(&track, seed);
    let needed = opts.start + (opts.frames - 1) * opts.every + 1;
    // Just long enough for the frames asked for (a drive with interventions takes longer).
    let laps = (needed as f64 + 1.0) * FRAME_DT * speed / track.length();
    let last = Rc::new(RefCell::new(None));
    let mut steering = Steering { explainer, last: last.clone() };
    let mut w = Writer::new(out, pp, gif);
    let mut frame_no = 0usize;
    drive(&track, Some(&world), &mut Pilot::Camera(&mut steering), speed, laps, |tick| {
        let k = frame_no;
        frame_no += 1;
        let explained = last.borrow_mut().take();
        if k < opts.start || !(k - opts.start).is_multiple_of(opts.every) || w.written >= opts.frames {
            return Ok(());
        }
        let (Some(frame), Some(e)) = (tick.frame, explained) else { return Ok(()) };
        let source = format!("track {seed} at {:.1} s", k as f64 * FRAME_DT);
        w.frame(frame.rgb(), &source, &e, Some(("expert", tick.expert)))?;
        progress(w.written, opts.frames);
        Ok(())
    })?;
    w.finish()
}
