//! `pilot sim`: record training data with the simulator's expert, or drive a model around a
//! track and score it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::fsutil::atomic_write;
use crate::sim::draw::{top_down, GifRecorder};
use crate::nn::driver::FloatDriver;
use crate::qemu::FirmwareDriver;
use crate::sim::drive::{drive, Driver, ModelDriver, Pilot};
use crate::train::checkpoint::RunDir;
use crate::sim::metrics::{autonomy, Report};
use crate::sim::record::{record, ImageFormat, RecordOptions};
use crate::sim::render::SIDE_CAMERA_OFFSET;
use crate::sim::track::Track;
use crate::sim::vehicle::{DEFAULT_SPEED, MPH_PER_MPS};
use crate::sim::world::World;
use crate::sim::{steering_correction, FRAME_DT};

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

Examples:
  pilot sim record --seed 1 --laps 2 --out runs/sim-data
  pilot sim record --seed 10 --tracks 5 --laps 1 --out runs/sim-5tracks
  pilot sim record --seeds 3,7,9 --laps 0.5 --format png --out runs/sim-png --force";

#[derive(Args, Debug)]
#[command(after_help = RECORD_HELP)]
pub struct RecordArgs {
    #[command(flatten)]
    pub seeds: SeedArgs,
    /// Laps per track (fractions allowed).
    #[arg(long, default_value_t = 1.0)]
    pub laps: f64,
    /// Folder for driving_log.csv and IMG/.
    #[arg(long)]
    pub out: PathBuf,
    /// Speed in m/s (9 m/s is about 20 mph).
    #[arg(long, default_value_t = DEFAULT_SPEED)]
    pub speed: f64,
    /// Image format of the frames.
    #[arg(long, value_enum, default_value = "jpg")]
    pub format: Format,
    /// Replace the recording (driving_log.csv and IMG/) in a folder that is not empty.
    #[arg(long)]
    pub force: bool,
}

const DRIVE_HELP: &str = "\
Autonomy = (1 - interventions x 6 s / elapsed s) x 100. An intervention is counted when the car's
centre is more than 1 m from the road's centre line (the line the expert drives on); the car is
then put back on the centre line, heading along the road, and drives on.

Examples:
  pilot sim drive --blob models/pilotnet.pnn8 --seed 1 --laps 1 --png runs/lap.png --gif runs/lap.gif
  pilot sim drive --model runs/pilotnet --seeds 101,102,103 --laps 2
  pilot sim drive --blob models/pilotnet/pilotnet.pnn8 --firmware qemu --seed 1 --laps 0.25
  pilot sim drive --driver expert --seed 1 --tracks 20
  pilot sim drive --blob runs/demo/pilotnet-random.pnn8 --seeds 4,5 --laps 0.5";

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FirmwareKind {
    /// The QEMU build (mps2-an386, Cortex-M4F; PILOT_QEMU_MACHINE=mps2-an500 for the M7).
    Qemu,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DriverKind {
    /// The simulator's expert, which reads the car's pose instead of the camera.
    Expert,
}

#[derive(Args, Debug)]
#[command(after_help = DRIVE_HELP)]
#[command(group = clap::ArgGroup::new("who").required(true).args(["blob", "model", "driver"]))]
pub struct DriveArgs {
    /// int8 model blob (from `pilot export`) that steers from the centre camera, run by the
    /// `common` reference exactly as the firmware runs it.
    #[arg(long)]
    pub blob: Option<PathBuf>,
    /// A training run's folder (from `pilot train`): its best float checkpoint steers.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Run the --blob on the firmware itself: every frame goes through the Cortex-M4F build in
    /// QEMU (one run per frame, ~0.2 s each for PilotNet).
    #[arg(long, value_enum, requires = "blob")]
    pub firmware: Option<FirmwareKind>,
    /// A built-in driver instead of a model.
    #[arg(long, value_enum)]
    pub driver: Option<DriverKind>,
    #[command(flatten)]
    pub seeds: SeedArgs,
    /// Laps per track (fractions allowed).
    #[arg(long, default_value_t = 1.0)]
    pub laps: f64,
    /// Speed in m/s.
    #[arg(long, default_value_t = DEFAULT_SPEED)]
    pub speed: f64,
    /// Top-down PNG of the track with the driven path coloured by lateral error (green to red)
    /// and interventions circled. With several seeds, "-seed<N>" is added to the file name.
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// Animated GIF of the camera view with the steering drawn on it (yellow: the driver,
    /// cyan: what the expert would do), at most 160 frames.
    #[arg(long)]
    pub gif: Option<PathBuf>,
}

pub fn run(args: SimArgs) -> anyhow::Result<()> {
    match args.command {
        SimCommand::Record(a) => run_record(a),
        SimCommand::Drive(a) => run_drive(a),
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
    let options = RecordOptions {
        out: args.out,
        seeds: args.seeds.list(),
        laps: args.laps,
        speed: args.speed,
        format: match args.format {
            Format::Jpg => ImageFormat::Jpeg,
            Format::Png => ImageFormat::Png,
        },
        force: args.force,
    };
    let bar = progress_bar(0);
    bar.set_message("recording");
    let summary = record(&options, |done, expected| {
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
        "side cameras at +-{SIDE_CAMERA_OFFSET} m: steering correction +{c:.3} for left images, -{c:.3} for right images",
        c = steering_correction(options.speed)
    );
    Ok(())
}

fn run_drive(args: DriveArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.laps > 0.0 && args.speed > 0.0, "--laps and --speed must be positive");
    let blob = match &args.blob {
        Some(path) => Some((path, std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?)),
        None => None,
    };
    let scratch = tempfile::tempdir()?;
    let mut firmware = match (&args.firmware, &args.blob) {
        (Some(FirmwareKind::Qemu), Some(path)) => Some(FirmwareDriver::new(path, scratch.path())?),
        _ => None,
    };
    let mut int8 = match firmware {
        Some(_) => None,
        None => blob.as_ref().map(|(path, bytes)| ModelDriver::new(bytes).with_context(|| path.display().to_string())).transpose()?,
    };
    let mut float = args.model.as_ref().map(|dir| FloatDriver::load(&RunDir::new(dir))).transpose()?;
    let mut model: Option<&mut dyn Driver> = match (firmware.as_mut(), int8.as_mut(), float.as_mut()) {
        (Some(d), _, _) => Some(d),
        (_, Some(d), _) => Some(d),
        (_, _, Some(d)) => Some(d),
        _ => None,
    };
    let seeds = args.seeds.list();
    let tracks: Vec<(u64, Track)> = seeds.iter().map(|&s| (s, Track::generate(s))).collect();
    let frames_of = |t: &Track| (args.laps * t.length() / (args.speed * FRAME_DT)).ceil() as u64;
    let bar = progress_bar(tracks.iter().map(|(_, t)| frames_of(t)).sum());
    let mut reports: Vec<(u64, Report)> = Vec::new();
    for (seed, track) in &tracks {
        // The expert needs no pictures unless a PNG or GIF asks for them.
        let world = (model.is_some() || args.png.is_some() || args.gif.is_some()).then(|| World::new(track, *seed));
        let mut gif = match &args.gif {
            Some(path) => Some(GifRecorder::create(
                &per_seed(path, *seed, seeds.len()),
                frames_of(track),
                (FRAME_DT * 1000.0) as u32,
            )?),
            None => None,
        };
        let mut pilot = match model.as_deref_mut() {
            Some(m) => Pilot::Camera(m),
            None => Pilot::Expert,
        };
        let report = drive(track, world.as_ref(), &mut pilot, args.speed, args.laps, |tick| {
            bar.inc(1);
            bar.set_message(format!("seed {seed}, {} interventions", tick.session.interventions()));
            match (&mut gif, tick.frame) {
                (Some(gif), Some(frame)) => gif.offer(frame, tick.steering, tick.expert),
                _ => Ok(()),
            }
        })?;
        if let (Some(path), Some(world)) = (&args.png, &world) {
            let path = per_seed(path, *seed, seeds.len());
            let mut png = Vec::new();
            top_down(world, &report)
                .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                .with_context(|| format!("cannot encode {}", path.display()))?;
            atomic_write(&path, &png)?;
        }
        bar.suspend(|| println!("seed {seed}: track {:.0} m | {report}", track.length()));
        reports.push((*seed, report));
    }
    bar.finish_and_clear();
    if reports.len() > 1 {
        print_total(&reports);
    }
    Ok(())
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

fn print_total(reports: &[(u64, Report)]) {
    let interventions: usize = reports.iter().map(|(_, r)| r.interventions.len()).sum();
    let elapsed: f64 = reports.iter().map(|(_, r)| r.elapsed_s).sum();
    let worst = reports.iter().map(|(_, r)| r.autonomy()).fold(f64::INFINITY, f64::min);
    let mean_err = reports.iter().map(|(_, r)| r.mean_abs_lateral * r.elapsed_s).sum::<f64>() / elapsed;
    let max_err = reports.iter().map(|(_, r)| r.max_abs_lateral).fold(0.0, f64::max);
    println!(
        "all {} tracks: autonomy {:.1}% (worst track {:.1}%)  interventions {}  time {:.1} s  lateral error mean {:.3} m, max {:.3} m",
        reports.len(),
        autonomy(interventions, elapsed),
        worst,
        interventions,
        elapsed,
        mean_err,
        max_err
    );
}
