//! `pilot sim`: record training data with the simulator's expert, or drive a model around a
//! track and score it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use common::board::timing::Pipeline;
use indicatif::{ProgressBar, ProgressStyle};

use super::network::{FirmwareKind, NetworkArgs};
use crate::fsutil::atomic_write;
use crate::nn::driver::FloatDriver;
use crate::nn::spec::NetSpec;
use crate::plot::tradeoff;
use crate::qemu::FirmwareDriver;
use crate::sim::clock::{self, Timing};
use crate::sim::compare::{self, CompareOptions};
use crate::sim::draw::{top_down, GifRecorder};
use crate::sim::drive::{Driver, ModelDriver, Pilot};
use crate::sim::metrics::{autonomy, Report};
use crate::sim::record::{record_timed, ImageFormat, RecordOptions, RecordTiming};
use crate::sim::render::SIDE_CAMERA_OFFSET;
use crate::sim::steering_correction;
use crate::sim::timed::{drive_timed, TimedReport};
use crate::sim::track::Track;
use crate::sim::vehicle::{DEFAULT_SPEED, MPH_PER_MPS};
use crate::sim::world::World;
use crate::train::checkpoint::RunDir;

#[derive(Args, Debug)]
pub struct SimArgs {
    #[command(subcommand)]
    pub command: SimCommand,
}

#[derive(Subcommand, Debug)]
pub enum SimCommand {
    /// Record the expert driving, as training data in the Udacity format.
    ///
    /// Writes DIR/driving_log.csv and DIR/IMG/ (centre, left and right images). The expert
    /// drifts off the centre line now and then and recovers; every frame is labelled with the
    /// expert's own command for what the camera shows.
    Record(RecordArgs),
    /// Let a model (or the expert) steer, and score it with the PilotNet autonomy metric.
    ///
    /// A model sees only the centre camera's frame; the expert reads the car's pose.
    Drive(DriveArgs),
    /// Networks side by side: MACs, instructions a frame, decisions per second and latency on
    /// every board, and autonomy when each drives at one board's timing; a table, and with
    /// --png the chart of decisions per second against autonomy.
    Compare(CompareArgs),
    /// Closed-loop model selection: each kept epoch of a steering run (`pilot train driving
    /// --keep-epochs`), quantized to int8 and driven on validation tracks at a board's timing;
    /// the one that drives best becomes the run's best.
    Select(SelectArgs),
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  pilot train driving --data runs/sim --arch fastnet --epochs 15 --keep-epochs --out runs/fastnet
  pilot sim select --model runs/fastnet --seeds 30,31,32 --laps 1              at the Black Pill's timing
  pilot quantize --model runs/fastnet --out runs/fastnet-int8                  quantizes the chosen epoch

Use validation tracks: seeds the recording did not use (`pilot sim record` drew its tracks from
--seed), and not the tracks you will report (the README's are seeds 1-5). Fewest interventions
wins; int8 validation MAE breaks ties. The run's previous best is kept as model.by-mae.bpk
(best.by-mae.toml); every epoch's scores go to selection.csv in the run.")]
pub struct SelectArgs {
    /// A steering run's folder, trained with --keep-epochs.
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub drive: BoardDriveArgs,
    /// Calibration examples for each epoch's int8 model.
    #[arg(long, default_value_t = 300)]
    pub samples: usize,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  pilot sim compare --blob models/pilotnet/pilotnet.pnn8 models/fastnet/fastnet.pnn8 --seeds 1,2,3,4,5 --laps 2 --png tradeoff.png
  pilot sim compare --blob a.pnn8 b.pnn8 --board f746 --speed 7")]
pub struct CompareArgs {
    /// int8 model blobs.
    #[arg(long, num_args = 1.., required = true)]
    pub blob: Vec<PathBuf>,
    #[command(flatten)]
    pub drive: BoardDriveArgs,
    /// Write the chart here (PNG).
    #[arg(long)]
    pub png: Option<PathBuf>,
}

/// Which tracks, how far and fast, at which board's timing (`sim compare` and `sim select`).
#[derive(Args, Debug)]
pub struct BoardDriveArgs {
    #[command(flatten)]
    pub track: TrackArgs,
    /// Drive at this board's timing: blackpill, f746 or h743.
    #[arg(long, default_value = "blackpill")]
    pub board: String,
}

impl BoardDriveArgs {
    pub fn options(&self) -> anyhow::Result<CompareOptions> {
        let t = &self.track;
        anyhow::ensure!(t.laps > 0.0 && t.speed > 0.0, "--laps and --speed must be positive");
        let board =
            common::board::by_name(&self.board).with_context(|| format!("--board {}: the boards are {}", self.board, clock::names()[1..].join(", ")))?;
        Ok(CompareOptions { seeds: t.seeds.list(), laps: t.laps, speed: t.speed, board })
    }
}

/// Which tracks, how many laps, how fast.
#[derive(Args, Debug)]
pub struct TrackArgs {
    #[command(flatten)]
    pub seeds: SeedArgs,
    /// Laps per track (fractions allowed).
    #[arg(long, default_value_t = 1.0)]
    pub laps: f64,
    /// Speed in m/s (9 m/s is about 20 mph).
    #[arg(long, default_value_t = DEFAULT_SPEED)]
    pub speed: f64,
}

/// Which tracks: `--seed N` (with `--tracks M`: seeds N..N+M) or `--seeds A,B,C`.
#[derive(Args, Debug)]
pub struct SeedArgs {
    /// Seed of the (first) track; the same seed always gives the same track and pictures.
    #[arg(long, default_value_t = 1, conflicts_with = "seeds")]
    pub seed: u64,
    /// Number of consecutive seeds, from --seed.
    #[arg(long, default_value_t = 1, conflicts_with = "seeds", value_parser = clap::value_parser!(u64).range(1..))]
    pub tracks: u64,
    /// Explicit seeds, comma-separated.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub seeds: Vec<u64>,
}

impl SeedArgs {
    pub fn list(&self) -> Vec<u64> {
        if self.seeds.is_empty() {
            (self.seed..self.seed + self.tracks).collect()
        } else {
            self.seeds.clone()
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Jpg,
    Png,
}

const RECORD_HELP: &str = "\
Cameras: centre, and left/right 0.8 m to the sides. The CSV's steering is the centre camera's
label; for the left image add the correction, for the right subtract it. The correction is the
expert's own steering for a car 0.8 m off the centre line: +-0.235 at the default 9 m/s
(printed for the chosen speed at the end of the recording).
Steering: [-1, 1], positive turns right (25 degrees of wheel angle at 1). Speed column in mph.

Timing: the expert drives as always (a command every 0.1 s); by default a frame is recorded every
0.1 s and labelled with the expert's command for that moment. --board records at the rate a
network (--blob, or --arch for one not trained yet) runs on that board, and --label-latency
labels each frame with the expert's command that much later (`board`: the board's latency):
where the car is when a network's command for that frame reaches the wheels. recording.toml
says which.

Examples:
  pilot sim record --seed 1 --laps 2 --out runs/sim-data
  pilot sim record --seed 10 --tracks 5 --laps 1 --out runs/sim-5tracks
  pilot sim record --seeds 3,7,9 --laps 0.5 --format png --out runs/sim-png --force
  pilot sim record --seed 100 --tracks 10 --board blackpill --arch pilotnet --label-latency board --out runs/sim-bp
  pilot sim record --seed 100 --period 0.2 --label-latency 0.15 --out runs/sim-5hz";

#[derive(Args, Debug)]
#[command(after_help = RECORD_HELP)]
pub struct RecordArgs {
    #[command(flatten)]
    pub track: TrackArgs,
    /// Folder for driving_log.csv and IMG/.
    #[arg(long)]
    pub out: PathBuf,
    /// Image format of the frames.
    #[arg(long, value_enum, default_value = "jpg")]
    pub format: Format,
    /// Replace the recording (driving_log.csv and IMG/) in a folder that is not empty.
    #[arg(long)]
    pub force: bool,
    /// Record at a board's frame rate: blackpill, f746 or h743 (the rate of the network given by
    /// --blob or --arch on it), or ideal (every 0.1 s, the default).
    #[arg(long)]
    pub board: Option<String>,
    /// The network whose rate --board gives: an int8 blob.
    #[arg(long, group = "timed", requires = "board")]
    pub blob: Option<PathBuf>,
    /// The network whose rate --board gives: an architecture (a name in host/archs or a TOML
    /// file), timed as its int8 version.
    #[arg(long, group = "timed", requires = "board")]
    pub arch: Option<String>,
    /// When the board's firmware asks for the next frame.
    #[arg(long, value_enum, default_value = "sequential")]
    pub pipeline: PipelineArg,
    /// Seconds between frames, instead of a board's rate.
    #[arg(long, conflicts_with = "board")]
    pub period: Option<f64>,
    /// Label each frame with the expert's command this long after it: `board` (the board's
    /// latency, with --board) or seconds (default 0: the frame's own moment).
    #[arg(long)]
    pub label_latency: Option<String>,
}

/// When the board's firmware asks for the next frame (`common::board::timing::Pipeline`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PipelineArg {
    /// After the servo command (what the firmware does today).
    Sequential,
    /// As soon as the frame's last row is read, while the network's last layers run.
    Overlapped,
}

impl PipelineArg {
    fn pipeline(self) -> Pipeline {
        match self {
            PipelineArg::Sequential => Pipeline::Sequential,
            PipelineArg::Overlapped => Pipeline::Overlapped,
        }
    }
}

const DRIVE_HELP: &str = "\
Autonomy = (1 - interventions x 6 s / elapsed s) x 100. An intervention is counted when the car's
centre is more than 1 m from the road's centre line (the line the expert drives on); the car is
then put back on the centre line, heading along the road, and drives on.

Timing: a frame captured at t steers from t + latency, and the next frame comes when the board
allows (`pilot report --blob BLOB` shows the same figures). A network drives at the Black Pill's
timing unless --board says otherwise; `--board ideal` is the simulator's 10 decisions a second
with no latency, for comparison; the expert drives at ideal timing unless --period says
otherwise. With --firmware qemu each frame is timed by the firmware's own instruction counts.
Every line names the timing it was driven at.

Examples:
  pilot sim drive --blob models/pilotnet/pilotnet.pnn8 --seeds 1,2,3,4,5 --laps 2
  pilot sim drive --blob models/pilotnet/pilotnet.pnn8 --seeds 1,2,3,4,5 --laps 2 --board ideal
  pilot sim drive --blob models/pilotnet/pilotnet.pnn8 --seeds 1,2,3,4,5 --laps 2 --board h743 --speeds 3,5,7,9
  pilot sim drive --blob models/pilotnet.pnn8 --seed 1 --laps 1 --png runs/lap.png --gif runs/lap.gif
  pilot sim drive --model runs/pilotnet --seeds 101,102,103 --laps 2 --board f746
  pilot sim drive --blob models/pilotnet/pilotnet.pnn8 --firmware qemu --seed 1 --laps 0.25
  pilot sim drive --driver expert --seed 1 --tracks 20
  pilot sim drive --driver expert --seed 1 --tracks 5 --period 0.3 --latency 0.3";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DriverKind {
    /// The simulator's expert, which reads the car's pose instead of the camera.
    Expert,
}

#[derive(Args, Debug)]
#[command(after_help = DRIVE_HELP)]
#[command(group = clap::ArgGroup::new("who").required(true).args(["blob", "model", "driver"]))]
pub struct DriveArgs {
    #[command(flatten)]
    pub net: NetworkArgs,
    /// A built-in driver instead of a model.
    #[arg(long, value_enum)]
    pub driver: Option<DriverKind>,
    #[command(flatten)]
    pub track: TrackArgs,
    /// Top-down PNG of the track with the driven path coloured by lateral error (green to red)
    /// and interventions circled. With several seeds, `-seed<N>` is added to the file name.
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Animated GIF of the camera view with the steering drawn on it (yellow: the driver,
    /// cyan: what the expert would do), at most 160 frames.
    #[arg(long)]
    pub gif: Option<PathBuf>,
    /// Drive at this board's timing: blackpill, f746, h743 (the network's frame rate and latency
    /// on it), or ideal (10 decisions/s, no latency). Default: blackpill for a network, ideal
    /// for the expert.
    #[arg(long)]
    pub board: Option<String>,
    /// When the board's firmware asks for the next frame.
    #[arg(long, value_enum, default_value = "sequential")]
    pub pipeline: PipelineArg,
    /// A timing of your own instead of a board's: seconds from one frame to the next.
    #[arg(long, conflicts_with = "board")]
    pub period: Option<f64>,
    /// With --period: seconds from a frame to its command reaching the wheels (default 0).
    #[arg(long, requires = "period")]
    pub latency: Option<f64>,
    /// Drive every track at each of these speeds (m/s) and report the highest at which the
    /// autonomy over all tracks is at least 99.5 %.
    #[arg(long, value_delimiter = ',', num_args = 1.., conflicts_with_all = ["speed", "png", "gif"])]
    pub speeds: Vec<f64>,
}

/// The autonomy over all tracks a speed must reach to count as held.
const HOLDS_AUTONOMY: f64 = 99.5;

pub fn run(args: SimArgs) -> anyhow::Result<()> {
    match args.command {
        SimCommand::Record(a) => run_record(a),
        SimCommand::Drive(a) => run_drive(a),
        SimCommand::Compare(a) => run_compare(a),
        SimCommand::Select(a) => run_select(a),
    }
}

fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} frames {per_sec} ETA {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn run_record(args: RecordArgs) -> anyhow::Result<()> {
    let timing = record_timing(&args)?;
    let options = RecordOptions {
        out: args.out,
        seeds: args.track.seeds.list(),
        laps: args.track.laps,
        speed: args.track.speed,
        format: match args.format {
            Format::Jpg => ImageFormat::Jpeg,
            Format::Png => ImageFormat::Png,
        },
        force: args.force,
    };
    let bar = progress_bar(0);
    bar.set_message("recording");
    let summary = record_timed(&options, &timing, |done, expected| {
        bar.set_length(expected.max(done));
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    for (seed, report) in &summary.drives {
        println!("seed {seed}: {report}");
    }
    println!(
        "wrote {} rows ({} images) to {} at {:.1} m/s ({:.1} mph)",
        summary.rows,
        3 * summary.rows,
        summary.csv.display(),
        options.speed,
        options.speed * MPH_PER_MPS
    );
    println!(
        "frames every {:.3} s ({}); labels: the expert's command {:.3} s after each frame",
        timing.period_ns as f64 / 1e9,
        timing.source,
        timing.label_latency_ns as f64 / 1e9
    );
    println!(
        "side cameras at +-{SIDE_CAMERA_OFFSET} m: steering correction +{c:.3} for left images, -{c:.3} for right images",
        c = steering_correction(options.speed)
    );
    Ok(())
}

/// The recorder's timing from --board (with --blob or --arch), --period and --label-latency.
fn record_timing(args: &RecordArgs) -> anyhow::Result<RecordTiming> {
    let (timing, network) = match (&args.period, &args.board) {
        (Some(period), _) => (Timing::custom(*period, 0.0)?, String::new()),
        (None, Some(board)) => {
            let (bytes, network) = match (&args.blob, &args.arch) {
                (Some(path), _) => (std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?, path.display().to_string()),
                (None, Some(arch)) => (crate::zoo::random(&NetSpec::load(arch)?, 0)?.to_bytes(), format!("arch {arch}")),
                (None, None) => (Vec::new(), String::new()),
            };
            let model = match bytes.is_empty() {
                true => None,
                false => Some(common::Model::parse(&bytes).with_context(|| format!("{network} is not a valid model blob"))?),
            };
            let timing = clock::named(board, model.as_ref(), args.pipeline.pipeline(), false)
                .with_context(|| format!("--board {board}: give the network to time with --blob BLOB or --arch ARCH"))?;
            (timing, format!(", timed for {network}"))
        }
        (None, None) => (Timing::ideal(), String::new()),
    };
    let label_latency_ns = match args.label_latency.as_deref() {
        None => 0,
        Some("board") => {
            anyhow::ensure!(timing.board.is_some(), "--label-latency board needs --board with a board's name");
            timing.slot.latency_ns
        }
        Some(text) => {
            let s: f64 = text
                .parse()
                .ok()
                .filter(|s: &f64| s.is_finite() && (0.0..=60.0).contains(s))
                .with_context(|| format!("--label-latency takes `board` or seconds from 0 to 60, not {text:?}"))?;
            (s * 1e9).round() as u64
        }
    };
    Ok(RecordTiming { period_ns: timing.slot.period_ns, label_latency_ns, source: format!("{timing}{network}") })
}

fn run_compare(args: CompareArgs) -> anyhow::Result<()> {
    let opts = args.drive.options()?;
    let board = opts.board;
    let mut rows = Vec::new();
    for path in &args.blob {
        let blob = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        eprintln!("{name}: driving {} track(s) at the {} timing", opts.seeds.len(), board.name);
        rows.push(compare::candidate(&name, &blob, &opts).with_context(|| path.display().to_string())?);
    }
    let boards: Vec<&str> = rows.first().map(|c| c.rates.iter().map(|r| r.board).collect()).unwrap_or_default();
    println!("| network | MACs | instructions a frame ({}) | {} | autonomy at the {} timing, {} m/s |", board.name, boards.join(" | "), board.name, opts.speed);
    println!("|---|---|---|{}---|", "---|".repeat(boards.len()));
    for c in &rows {
        let rates: Vec<String> = c.rates.iter().map(|r| format!("{:.2}/s, {:.0} ms", r.decisions_per_second, r.latency_ms)).collect();
        println!("| {} | {} | {} | {} | {:.1} % ({} interventions) |", c.name, c.macs, c.instructions, rates.join(" | "), c.autonomy, c.interventions);
    }
    if let Some(png) = &args.png {
        let rate = |c: &compare::Candidate| c.rates.iter().find(|r| r.board == board.name).map_or(0.0, |r| r.decisions_per_second);
        let points: Vec<tradeoff::Point<'_>> =
            rows.iter().map(|c| tradeoff::Point { label: &c.name, decisions_per_second: rate(c), autonomy: c.autonomy }).collect();
        crate::plot::canvas::save_png(&tradeoff::chart(&points, board.name, opts.speed)?, png)?;
        println!("chart: {}", png.display());
    }
    Ok(())
}

fn run_select(args: SelectArgs) -> anyhow::Result<()> {
    let drive = args.drive.options()?;
    let ptq = crate::quant::ptq::PtqOptions { samples: args.samples, ..Default::default() };
    let run = crate::train::checkpoint::RunDir::new(&args.model);
    eprintln!("driving each kept epoch of {} on track(s) {:?} at the {} timing, {} m/s", args.model.display(), drive.seeds, drive.board.name, drive.speed);
    let s = crate::workflow::select::select(&run, &drive, &ptq, !args.quiet)?;
    println!("{:>6} {:>10} {:>10} {:>10} {:>14}", "epoch", "float MAE", "int8 MAE", "autonomy", "interventions");
    for e in &s.scores {
        let mark = if e.epoch == s.chosen {
            "  <- chosen"
        } else if e.epoch == s.by_mae {
            "  <- lowest val MAE"
        } else {
            ""
        };
        println!("{:>6} {:>10.4} {:>10.4} {:>9.1}% {:>14}{mark}", e.epoch, e.float_mae, e.int8_mae, e.autonomy, e.interventions);
    }
    println!(
        "epoch {} is now the best of {} (validation MAE chose epoch {}; kept as model.by-mae.bpk); scores in selection.csv",
        s.chosen,
        args.model.display(),
        s.by_mae
    );
    Ok(())
}

fn run_drive(args: DriveArgs) -> anyhow::Result<()> {
    let speeds = if args.speeds.is_empty() { vec![args.track.speed] } else { args.speeds.clone() };
    anyhow::ensure!(args.track.laps > 0.0 && speeds.iter().all(|&s| s > 0.0), "--laps and --speed(s) must be positive");
    args.net.check()?;
    let blob = args.net.read_blob()?;
    let timing = drive_timing(&args, blob.as_ref().map(|(p, b)| (p.as_path(), b.as_slice())))?;
    let scratch = tempfile::tempdir()?;
    let mut firmware = match (&args.net.firmware, &args.net.blob) {
        (Some(FirmwareKind::Qemu), Some(path)) => Some(FirmwareDriver::new(path, scratch.path())?),
        _ => None,
    };
    let mut int8 = match firmware {
        Some(_) => None,
        None => blob.as_ref().map(|(path, bytes)| ModelDriver::new(bytes).with_context(|| path.display().to_string())).transpose()?,
    };
    let mut float = args.net.model.as_ref().map(|dir| FloatDriver::load(&RunDir::new(dir))).transpose()?;
    let mut model: Option<&mut dyn Driver> = match (firmware.as_mut(), int8.as_mut(), float.as_mut()) {
        (Some(d), _, _) => Some(d),
        (_, Some(d), _) => Some(d),
        (_, _, Some(d)) => Some(d),
        _ => None,
    };
    println!("timing: {timing}");
    let seeds = args.track.seeds.list();
    let tracks: Vec<(u64, Track)> = seeds.iter().map(|&s| (s, Track::generate(s))).collect();
    let period_s = timing.slot.period_ns as f64 / 1e9;
    let frames_of = |t: &Track, speed: f64| (args.track.laps * t.length() / (speed * period_s)).ceil() as u64;
    let bar = progress_bar(speeds.iter().map(|&v| tracks.iter().map(|(_, t)| frames_of(t, v)).sum::<u64>()).sum());
    let mut held = Vec::new();
    for &speed in &speeds {
        let mut reports: Vec<(u64, TimedReport)> = Vec::new();
        for (seed, track) in &tracks {
            // The expert needs no pictures unless a PNG or GIF asks for them.
            let world = (model.is_some() || args.png.is_some() || args.gif.is_some()).then(|| World::new(track, *seed));
            let mut gif = match &args.gif {
                Some(path) => Some(GifRecorder::create(&per_seed(path, *seed, seeds.len()), frames_of(track, speed), (period_s * 1000.0).round() as u32)?),
                None => None,
            };
            let mut pilot = match model.as_deref_mut() {
                Some(m) => Pilot::Camera(m),
                None => Pilot::Expert,
            };
            let timed = drive_timed(track, world.as_ref(), &mut pilot, speed, args.track.laps, &timing, |tick| {
                bar.inc(1);
                bar.set_message(format!("seed {seed} at {speed} m/s, {} interventions", tick.session.interventions()));
                match (&mut gif, tick.frame) {
                    (Some(gif), Some(frame)) => gif.offer(frame, tick.steering, tick.expert),
                    _ => Ok(()),
                }
            })?;
            if let (Some(path), Some(world)) = (&args.png, &world) {
                let path = per_seed(path, *seed, seeds.len());
                let mut png = Vec::new();
                top_down(world, &timed.report)
                    .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                    .with_context(|| format!("cannot encode {}", path.display()))?;
                atomic_write(&path, &png)?;
            }
            let d = &timed.decisions;
            bar.suspend(|| {
                println!(
                    "seed {seed} @ {}, {speed} m/s: track {:.0} m | {} | {:.2} decisions/s, latency {:.0} ms",
                    timing.name,
                    track.length(),
                    timed.report,
                    d.per_second(),
                    d.mean_latency_s() * 1000.0
                )
            });
            reports.push((*seed, timed));
        }
        let total = total_autonomy(&reports);
        if reports.len() > 1 {
            bar.suspend(|| print_total(&reports, &timing, speed));
        }
        held.push((speed, total));
    }
    bar.finish_and_clear();
    if speeds.len() > 1 {
        let list: Vec<String> = held.iter().map(|(v, a)| format!("{v} m/s {a:.1}%")).collect();
        println!("autonomy by speed @ {}: {}", timing.name, list.join(", "));
        match held.iter().filter(|(_, a)| *a >= HOLDS_AUTONOMY).map(|(v, _)| *v).reduce(f64::max) {
            Some(v) => println!("highest speed holding at least {HOLDS_AUTONOMY} % autonomy @ {}: {v} m/s", timing.name),
            None => println!("no speed holds {HOLDS_AUTONOMY} % autonomy @ {}", timing.name),
        }
    }
    Ok(())
}

/// The loop's timing from --board / --period / --latency: a network's own on the board (a float
/// run timed as its int8 version, the same layers with random weights), ideal for the expert.
fn drive_timing(args: &DriveArgs, blob: Option<(&Path, &[u8])>) -> anyhow::Result<Timing> {
    if let Some(period) = args.period {
        return Timing::custom(period, args.latency.unwrap_or(0.0));
    }
    let network = args.net.blob.is_some() || args.net.model.is_some();
    let name = args.board.as_deref().unwrap_or(if network { common::board::BLACKPILL.name } else { "ideal" });
    let float_blob = match &args.net.model {
        Some(dir) if !name.eq_ignore_ascii_case("ideal") => Some(crate::zoo::random(&RunDir::new(dir).spec()?, 0)?.to_bytes()),
        _ => None,
    };
    let bytes = blob.map(|(_, b)| b).or(float_blob.as_deref());
    let model = bytes
        .map(|b| {
            common::Model::parse(b).with_context(|| format!("{} is not a valid model blob", blob.map_or("the run".into(), |(p, _)| p.display().to_string())))
        })
        .transpose()?;
    if !network && common::board::by_name(name).is_some() {
        anyhow::bail!("--board {name}: the expert runs no network to time; give --blob or --model, or delay the expert with --period and --latency");
    }
    clock::named(name, model.as_ref(), args.pipeline.pipeline(), args.net.firmware.is_some())
}

/// Autonomy over all of `reports` (interventions and time added up).
fn total_autonomy(reports: &[(u64, TimedReport)]) -> f64 {
    let interventions: usize = reports.iter().map(|(_, r)| r.report.interventions.len()).sum();
    let elapsed: f64 = reports.iter().map(|(_, r)| r.report.elapsed_s).sum();
    autonomy(interventions, elapsed)
}

/// `path` itself for a single seed, else `stem-seed<N>.ext`.
fn per_seed(path: &Path, seed: u64, seeds: usize) -> PathBuf {
    if seeds == 1 {
        return path.to_owned();
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-seed{seed}.{}", ext.to_string_lossy()),
        None => format!("{stem}-seed{seed}"),
    };
    path.with_file_name(name)
}

fn print_total(reports: &[(u64, TimedReport)], timing: &Timing, speed: f64) {
    let all: Vec<&Report> = reports.iter().map(|(_, r)| &r.report).collect();
    let interventions: usize = all.iter().map(|r| r.interventions.len()).sum();
    let elapsed: f64 = all.iter().map(|r| r.elapsed_s).sum();
    let worst = all.iter().map(|r| r.autonomy()).fold(f64::INFINITY, f64::min);
    let mean_err = all.iter().map(|r| r.mean_abs_lateral * r.elapsed_s).sum::<f64>() / elapsed;
    let max_err = all.iter().map(|r| r.max_abs_lateral).fold(0.0, f64::max);
    println!(
        "all {} tracks @ {}, {speed} m/s: autonomy {:.1}% (worst track {:.1}%)  interventions {}  time {:.1} s  lateral error mean {:.3} m, max {:.3} m",
        all.len(),
        timing.name,
        autonomy(interventions, elapsed),
        worst,
        interventions,
        elapsed,
        mean_err,
        max_err
    );
}
