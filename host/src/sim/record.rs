//! Recording training data in the Udacity simulator's format: `driving_log.csv` and `IMG/`.
//!
//! Each camera frame gives one CSV row, no header, seven columns separated by `", "` as the
//! simulator writes them: `center, left, right, steering, throttle, brake, speed`. The three
//! image paths are absolute; files are named `center_YYYY_MM_DD_HH_MM_SS_mmm.jpg` (and `left_`,
//! `right_`) after a fake clock that starts at 2026-11-28 14:28:29.922 and advances one frame
//! period per frame, so a recording's file names, like its pixels, follow from its seeds.
//! `steering` is the expert's command for the state shown (see [`super::expert`] for why, during
//! injected drift too); `throttle` and `brake` are 0 (the simulator holds the speed); `speed` is
//! in mph.
//!
//! The expert drives as it always has (a command every 0.1 s, applied at once); the recorder
//! samples its drive ([`RecordTiming`]): by default a frame every 0.1 s labelled for its own
//! moment; at a board's rate, a frame every period of the board; and with a label latency, each
//! frame labelled with the expert's command that much later, where the car is when a network's
//! command for that frame would reach the wheels. `recording.toml` says which.
//!
//! A row is written (and flushed) once its three images are written and its label is known, so
//! an interrupted recording leaves a consistent log.
//!
//! The left and right images carry no labels of their own: a trainer using them adds
//! [`super::steering_correction`] to the left image's label and subtracts it for the right.

use std::collections::VecDeque;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};

use crate::data::recording::{RecordingInfo, INFO_FILE};

use super::expert::{Drift, Expert};
use super::metrics::Report;
use super::render::{Camera, Frame, FRAME_H, FRAME_W};
use super::session::Session;
use super::track::{wrap_angle, Track};
use super::vehicle::MPH_PER_MPS;
use super::world::World;
use super::FRAME_NS;

/// JPEG quality of recorded frames.
pub const JPEG_QUALITY: u8 = 90;
/// The fake clock's start: 2026-11-28 14:28:29.922 UTC, in milliseconds since 1970.
const CLOCK_START_MS: i64 = 1_795_876_109_922;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
}

impl ImageFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Png => "png",
        }
    }
}

#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// Folder that receives `driving_log.csv`, `IMG/` and `recording.toml` (the side
    /// cameras' steering correction, see [`crate::data::recording`]).
    pub out: PathBuf,
    /// One track per seed, recorded one after the other into the same log.
    pub seeds: Vec<u64>,
    pub laps: f64,
    /// m/s.
    pub speed: f64,
    pub format: ImageFormat,
    /// Replace an existing recording in `out` (its `driving_log.csv` and `IMG/`).
    pub force: bool,
}

/// When the recorder takes a frame and which command labels it.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordTiming {
    /// Between two frames (ns).
    pub period_ns: u64,
    /// Each frame's label is the expert's command this long after the frame (ns).
    pub label_latency_ns: u64,
    /// Where the timing comes from, for `recording.toml` (e.g. "blackpill (sequential), timed
    /// for pilotnet.pnn8").
    pub source: String,
}

impl RecordTiming {
    /// A frame every 0.1 s, labelled for its own moment.
    pub fn ideal() -> RecordTiming {
        RecordTiming { period_ns: FRAME_NS, label_latency_ns: 0, source: "ideal".into() }
    }

    fn period_s(&self) -> f64 {
        self.period_ns as f64 / 1e9
    }
}

/// What was recorded.
#[derive(Debug)]
pub struct RecordSummary {
    pub csv: PathBuf,
    pub rows: u64,
    /// The drive on each seed's track (interventions should be none: the expert recovers from
    /// its injected drift well before 1 m).
    pub drives: Vec<(u64, Report)>,
}

/// Records `options.laps` laps of each seed's track at ideal timing (a frame every 0.1 s),
/// calling `progress(rows_done, rows_expected)` after each row.
pub fn record(options: &RecordOptions, progress: impl FnMut(u64, u64)) -> anyhow::Result<RecordSummary> {
    record_timed(options, &RecordTiming::ideal(), progress)
}

/// [`record`] with frames taken and labelled as `timing` says.
pub fn record_timed(options: &RecordOptions, timing: &RecordTiming, mut progress: impl FnMut(u64, u64)) -> anyhow::Result<RecordSummary> {
    ensure!(options.laps > 0.0 && options.speed > 0.0, "laps and speed must be positive");
    ensure!(!options.seeds.is_empty(), "no seeds to record");
    ensure!(timing.period_ns >= 1_000_000, "a frame period under 1 ms would give two frames the same file name");
    let img_dir = prepare_folder(&options.out, options.force)?;
    let out = fs::canonicalize(&options.out).with_context(|| format!("cannot resolve {}", options.out.display()))?;
    ensure!(!out.to_string_lossy().contains(','), "{} contains a comma, which would break the CSV", out.display());
    let img_dir_abs = out.join("IMG");

    let tracks: Vec<(u64, Track)> = options.seeds.iter().map(|&s| (s, Track::generate(s))).collect();
    let expected: u64 = tracks.iter().map(|(_, t)| (options.laps * t.length() / (options.speed * timing.period_s())).ceil() as u64).sum();
    let csv_path = out.join("driving_log.csv");
    let mut csv = BufWriter::new(fs::File::create(&csv_path).with_context(|| format!("cannot create {}", csv_path.display()))?);
    let cameras = [("center", Camera::centre()), ("left", Camera::left()), ("right", Camera::right())];
    let mut frame = Frame::default();
    let (mut captured, mut rows) = (0u64, 0u64);
    // Frames whose images are written and whose label is still to come: paths and speed.
    let mut unlabelled: VecDeque<(Vec<PathBuf>, f64)> = VecDeque::new();
    let mut drives = Vec::new();
    for (seed, track) in &tracks {
        let world = World::new(track, *seed);
        let report = sample_drive_with_drift(track, *seed, options.speed, options.laps, timing, |session, sample| {
            match sample {
                Sample::Frame => {
                    let car = session.car();
                    let stamp = timestamp(CLOCK_START_MS + (captured * timing.period_ns / 1_000_000) as i64);
                    let mut paths = Vec::with_capacity(3);
                    for (name, camera) in &cameras {
                        world.render(camera, &car.pose, &mut frame);
                        let file = format!("{name}_{stamp}.{}", options.format.extension());
                        write_image(&frame, options.format, &img_dir.join(&file))?;
                        paths.push(img_dir_abs.join(&file));
                    }
                    captured += 1;
                    unlabelled.push_back((paths, car.speed));
                }
                Sample::Label(label) => {
                    let (paths, speed) = unlabelled.pop_front().context("a label came before its frame")?;
                    writeln!(csv, "{}, {}, {}, {}, 0, 0, {:.4}", paths[0].display(), paths[1].display(), paths[2].display(), label, speed * MPH_PER_MPS)
                        .and_then(|_| csv.flush())
                        .with_context(|| format!("cannot write {}", csv_path.display()))?;
                    rows += 1;
                    progress(rows, expected);
                }
            }
            Ok(())
        })?;
        drives.push((*seed, report));
    }
    // The labels are the expert's smooth commands; the side cameras' correction follows from
    // their offset and the speed.
    let seeds = options.seeds.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ");
    let label = match timing.label_latency_ns {
        0 => "each labelled with the expert's command for its own moment".to_string(),
        ns => format!("each labelled with the expert's command {} s after it", ns as f64 / 1e9),
    };
    RecordingInfo {
        source: Some(format!(
            "pilot sim record: seeds {seeds}, {} laps at {} m/s; a frame every {} s ({}), {label}",
            options.laps,
            options.speed,
            timing.period_s(),
            timing.source
        )),
        side_correction: Some(super::steering_correction(options.speed)),
        smooth_steering: Some(1),
    }
    .write(&out)?;
    Ok(RecordSummary { csv: csv_path, rows, drives })
}

/// The recording's drive without the cameras: `laps` laps of `track` by the expert with
/// [`Drift`] seeded by `seed`, a frame every 0.1 s labelled for its own moment. `each(session,
/// label)` sees every frame before the car moves; `label` is the expert's command for that
/// state (the executed steering adds the drift).
pub fn drive_with_drift(
    track: &Track,
    seed: u64,
    speed: f64,
    laps: f64,
    mut each: impl FnMut(&Session<'_>, f32) -> anyhow::Result<()>,
) -> anyhow::Result<Report> {
    sample_drive_with_drift(track, seed, speed, laps, &RecordTiming::ideal(), |session, sample| match sample {
        Sample::Frame => Ok(()),
        Sample::Label(label) => each(session, label),
    })
}

/// What the recorder does at a moment of the drive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sample {
    /// Take a frame of what the cameras see now.
    Frame,
    /// The label of the oldest unlabelled frame: the expert's command now.
    Label(f32),
}

/// The expert's drive with [`Drift`] (a command every 0.1 s, as it always drives), sampled as
/// `timing` says: `each(session, Sample::Frame)` at every frame's moment while fewer than
/// `laps` laps are driven, `each(session, Sample::Label(command))` `label_latency` later (the
/// drive goes on until the last frame has its label). At the same moment a frame comes before
/// its label.
pub fn sample_drive_with_drift(
    track: &Track,
    seed: u64,
    speed: f64,
    laps: f64,
    timing: &RecordTiming,
    mut each: impl FnMut(&Session<'_>, Sample) -> anyhow::Result<()>,
) -> anyhow::Result<Report> {
    let mut session = Session::new(track, speed);
    let mut drift = Drift::new(seed);
    let mut next_frame = 0u64;
    let mut labels: VecDeque<u64> = VecDeque::new();
    let mut framing = true;
    loop {
        framing &= session.laps() < laps;
        if !framing && labels.is_empty() {
            break;
        }
        let (car, loc) = (*session.car(), *session.location());
        let command = Expert.steer(track, &car, &loc);
        let lateral_rate = car.speed * wrap_angle(car.course() - loc.heading).sin();
        let executed = drift.apply(session.time(), command, loc.lateral, lateral_rate);
        let tick_end = session.now_ns() + FRAME_NS;
        loop {
            let now = session.now_ns();
            if now == tick_end {
                break;
            }
            if framing && next_frame == now {
                each(&session, Sample::Frame)?;
                labels.push_back(now + timing.label_latency_ns);
                next_frame = now + timing.period_ns.max(1);
                continue;
            }
            if labels.front() == Some(&now) {
                labels.pop_front();
                let label = Expert.steer(track, session.car(), session.location());
                each(&session, Sample::Label(label))?;
                continue;
            }
            let next = if framing { next_frame } else { u64::MAX };
            let until = next.min(labels.front().copied().unwrap_or(u64::MAX)).min(tick_end);
            session.advance(until - now, executed);
        }
    }
    Ok(session.report())
}

/// Makes `out/IMG` ready for a new recording; returns its path. An existing non-empty `out`
/// is refused unless `force`, which removes only the previous recording (`driving_log.csv`,
/// `recording.toml` and `IMG/`).
fn prepare_folder(out: &Path, force: bool) -> anyhow::Result<PathBuf> {
    let img = out.join("IMG");
    if out.exists() {
        ensure!(out.is_dir(), "{} exists and is not a folder", out.display());
        let non_empty = fs::read_dir(out).with_context(|| format!("cannot read {}", out.display()))?.next().is_some();
        if non_empty && !force {
            bail!("{} is not empty; pass --force to replace the recording in it (its driving_log.csv and IMG/)", out.display());
        }
        for file in ["driving_log.csv", INFO_FILE] {
            let path = out.join(file);
            if path.exists() {
                fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
        if img.exists() {
            fs::remove_dir_all(&img).with_context(|| format!("cannot remove {}", img.display()))?;
        }
    }
    fs::create_dir_all(&img).with_context(|| format!("cannot create {}", img.display()))?;
    Ok(img)
}

fn write_image(frame: &Frame, format: ImageFormat, path: &Path) -> anyhow::Result<()> {
    let file = fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = BufWriter::new(file);
    let (width, height) = (FRAME_W as u32, FRAME_H as u32);
    match format {
        ImageFormat::Jpeg => JpegEncoder::new_with_quality(&mut w, JPEG_QUALITY).write_image(frame.rgb(), width, height, ExtendedColorType::Rgb8),
        ImageFormat::Png => PngEncoder::new(&mut w).write_image(frame.rgb(), width, height, ExtendedColorType::Rgb8),
    }
    .with_context(|| format!("cannot encode {}", path.display()))?;
    w.flush().with_context(|| format!("cannot write {}", path.display()))
}

/// `YYYY_MM_DD_HH_MM_SS_mmm` (UTC) of a time in milliseconds since 1970, as in Udacity file
/// names.
pub fn timestamp(ms: i64) -> String {
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60, ms_of_day / 1000 % 60, ms_of_day % 1000);
    format!("{y:04}_{m:02}_{d:02}_{h:02}_{min:02}_{s:02}_{milli:03}")
}

/// Gregorian calendar date of a day number (days since 1970-01-01), by counting 400-year
/// eras of 146097 days from 0000-03-01 (March first puts the leap day at the end of a year).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_follow_the_calendar() {
        assert_eq!(timestamp(CLOCK_START_MS), "2026_11_28_14_28_29_922");
        assert_eq!(timestamp(0), "1970_01_01_00_00_00_000");
        // 2028 is a leap year: 28 February + 1 day.
        assert_eq!(timestamp(1_835_308_800_000 + 86_400_000), "2028_02_29_00_00_00_000");
        assert_eq!(timestamp(1_835_308_800_000 + 2 * 86_400_000), "2028_03_01_00_00_00_000");
    }
}
