//! `pilot demo`: the main job, end to end, with no downloads and no data of the user's.
//!
//! 1. record driving data with the simulator's expert on a few tracks;
//! 2. train PilotNet on it (float, burn);
//! 3. quantize it to int8 and compare float and int8 on the validation frames;
//! 4. export the int8 ONNX, the float ONNX and the firmware blob;
//! 5. verify the `common` reference against tract on recorded frames (0 mismatching bytes);
//! 6. build the firmware with the blob and run it in QEMU on recorded frames (0 mismatches);
//! 7. drive tracks the network never saw, with the float network and the int8 reference, at
//!    the Black Pill's timing (its frame rate and latency for this network) and at ideal timing
//!    (10 decisions a second, no latency), and with the firmware in QEMU steering (its commands
//!    equal the int8 reference's);
//! 8. print one summary table.
//!
//! Steps that need tools that are not installed (QEMU) say what to install and are skipped.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use common::board::timing::Pipeline;
use common::board::BLACKPILL;
use common::preprocess::preprocess_frame;
use common::Model;

use crate::data::{load_driving, Camera, DataKind, LabelDefaults, Source};
use crate::fsutil::atomic_write;
use crate::nn::driver::FloatDriver;
use crate::nn::spec::NetSpec;
use crate::onnx::{float, int8};
use crate::quant::ptq::{quantize_run, PtqOptions};
use crate::sim::clock::Timing;
use crate::sim::drive::{drive, ModelDriver, Pilot};
use crate::sim::record::{record, record_timed, ImageFormat, RecordOptions, RecordTiming};
use crate::sim::timed::drive_timed;
use crate::sim::track::Track;
use crate::sim::vehicle::DEFAULT_SPEED;
use crate::sim::world::World;
use crate::train::checkpoint::RunDir;
use crate::train::{FitOptions, TrainConfig};
use crate::verify::compare;
use crate::workflow::train::{train, Job, Network};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  pilot demo                      the whole pipeline (PilotNet and fastnet: 28 minutes measured on 2 shared cores)
  pilot demo --quick              fewer tracks and epochs (4 minutes measured)
  pilot demo --out runs/demo2 --epochs 12")]
pub struct DemoArgs {
    /// Where everything is written (replaced if it holds an earlier demo).
    #[arg(long, default_value = "runs/demo")]
    pub out: PathBuf,
    /// Fewer tracks, epochs and frames: a quick look.
    #[arg(long)]
    pub quick: bool,
    /// Training epochs (default 15, or 6 with --quick).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Training tracks, recorded with seeds 100, 101, ... (default 10, or 4 with --quick).
    #[arg(long)]
    pub tracks: Option<u64>,
    /// Unseen tracks driven at the end, seeds 1, 2, ... (default 3, or 1 with --quick).
    #[arg(long)]
    pub drive_tracks: Option<u64>,
}

fn step(n: usize, what: &str) {
    println!("\n== {n}/9 {what}");
}

struct Summary {
    rows: Vec<(String, String)>,
}

impl Summary {
    fn add(&mut self, k: &str, v: impl Into<String>) {
        self.rows.push((k.into(), v.into()));
    }
}

pub fn run(args: DemoArgs) -> Result<()> {
    let started = Instant::now();
    let out = args.out.clone();
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let (tracks, epochs, drive_tracks) = match args.quick {
        true => (args.tracks.unwrap_or(4), args.epochs.unwrap_or(6), args.drive_tracks.unwrap_or(1)),
        false => (args.tracks.unwrap_or(10), args.epochs.unwrap_or(15), args.drive_tracks.unwrap_or(3)),
    };
    let mut s = Summary { rows: Vec::new() };

    step(1, "record driving data with the simulator's expert");
    let recording = out.join("recording");
    let rec = record(
        &RecordOptions {
            out: recording.clone(),
            seeds: (100..100 + tracks).collect(),
            laps: 1.0,
            speed: DEFAULT_SPEED,
            format: ImageFormat::Jpeg,
            force: true,
        },
        |_, _| {},
    )?;
    println!("{} frames x 3 cameras from {tracks} tracks in {}", rec.rows, recording.display());
    s.add("data", format!("{} simulator frames x 3 cameras, {tracks} tracks (seeds 100..{})", rec.rows, 100 + tracks - 1));

    step(2, "train PilotNet (float)");
    let run_dir = out.join("train");
    let correction = crate::sim::steering_correction(DEFAULT_SPEED);
    let config = TrainConfig {
        epochs,
        side_correction: Some(correction),
        smooth_steering: Some(1),
        keep_straight: Some(0.25),
        ..TrainConfig::new(vec![recording.clone()], DataKind::Driving)
    };
    // The demo's own folder: a new demo replaces the previous one's run.
    let fit = FitOptions { overwrite: true, progress: true, ..FitOptions::default() };
    let job = Job { network: Network::Arch(NetSpec::load("pilotnet")?), config: config.clone(), out: run_dir.clone(), fit };
    let trained = train(&job)?;
    s.add("training", format!("{epochs} epochs, best validation MAE {:.4} at epoch {}", trained.best_metric, trained.best_epoch));

    step(3, "quantize to int8");
    let int8_dir = out.join("int8");
    let run = RunDir::new(&run_dir);
    let quantized = quantize_run(&run, &PtqOptions { samples: 300, ..PtqOptions::default() })?;
    quantized.save(&int8_dir)?;
    let q = &quantized.report;
    println!("validation MAE: float {:.4}, int8 {:.4} ({})", q.float, q.int8, q.change());
    s.add("validation MAE", format!("float {:.4}, int8 {:.4} ({})", q.float, q.int8, q.change()));

    step(4, "export int8 ONNX, float ONNX and the firmware blob");
    let (onnx_path, float_path, blob_path) = (out.join("pilotnet.int8.onnx"), out.join("pilotnet.float.onnx"), out.join("pilotnet.pnn8"));
    let blob = quantized.blob();
    let model = Model::parse(&blob)?;
    let (onnx, outputs) = int8::export(&model)?;
    atomic_write(&onnx_path, &onnx)?;
    atomic_write(&float_path, &float::export_run(&run)?)?;
    atomic_write(&blob_path, &blob)?;
    println!("{}, {} and {}", onnx_path.display(), float_path.display(), blob_path.display());
    let bands = common::plan::CameraPlan::of(&model).bands;
    s.add(
        "int8 model",
        format!(
            "{} parameters, {} MACs, arena {} B on the chip (first {} layers in row bands; whole tensors {} B), blob {} B",
            model.parameters(),
            model.macs(),
            bands.arena_bytes(),
            bands.banded_layers(),
            model.plan().arena_bytes(),
            blob.len()
        ),
    );

    // Validation frames: the recorded centre-camera frames the network was validated on.
    let source = Source {
        dirs: vec![recording.clone()],
        kind: DataKind::Driving,
        labels: LabelDefaults { side_correction: correction, smooth_steering: 1 },
        augment: false,
        max_rows: None,
        progress: false,
    };
    let data = load_driving(&source, model.def().input)?;
    let val = data.split(&config.split())?.val;
    let n_frames = if args.quick { 20 } else { 100 }.min(val.len());
    let frames: Vec<&[u8]> = val.iter().take(n_frames).filter_map(|&i| data.frame(i, Camera::Center)).collect();

    step(5, "verify the reference (blob) against tract (ONNX), layer by layer");
    let pp = model.def().input.preprocess.context("the model has no preprocessing")?;
    let inputs = frames.iter().map(|f| {
        let mut x = vec![0i8; model.input().shape.len()];
        preprocess_frame(&pp, model.input().shape, f, &mut x).expect("recorded frames fit the model");
        x
    });
    let cmp = compare(&model, &onnx, &outputs, inputs)?;
    let compared: usize = cmp.layers.iter().map(|l| l.0).sum();
    println!("{} frames, {compared} bytes compared over {} layers, {} mismatching", cmp.samples, cmp.layers.len(), cmp.mismatches());
    s.add("reference vs tract", format!("{} mismatching bytes of {compared} ({} frames, every layer)", cmp.mismatches(), cmp.samples));
    anyhow::ensure!(cmp.mismatches() == 0, "the reference and tract differ");

    step(6, "the firmware in QEMU (Cortex-M4F, mps2-an386)");
    firmware_step(&model, &blob_path, &frames, &out, &mut s)?;

    step(7, "drive tracks the network never saw");
    let mut float = FloatDriver::load(&RunDir::new(&run_dir))?;
    let mut int8 = ModelDriver::new(&blob)?;
    // The float network is timed as its int8 version: the same layers, the same work.
    let board = Timing::board(&common::board::BLACKPILL, &model, common::board::timing::Pipeline::Sequential, false)
        .context("the model has no camera preprocessing")?;
    println!("timing: {board}");
    let timings = [board, Timing::ideal()];
    // Autonomy of (float, int8) per timing and track.
    let mut autonomy: Vec<Vec<(f64, f64)>> = vec![Vec::new(); timings.len()];
    for seed in 1..=drive_tracks {
        let track = Track::generate(seed);
        let world = World::new(&track, seed);
        for (timing, results) in timings.iter().zip(&mut autonomy) {
            let lap = |pilot: &mut Pilot<'_>| drive_timed(&track, Some(&world), pilot, DEFAULT_SPEED, 1.0, timing, |_| Ok(()));
            let f = lap(&mut Pilot::Camera(&mut float))?.report;
            let i = lap(&mut Pilot::Camera(&mut int8))?.report;
            println!("seed {seed} ({:.0} m) @ {}: float {f}\n{:>24}int8  {i}", track.length(), timing.name, "");
            results.push((f.autonomy(), i.autonomy()));
            if seed == 1 && timing.board.is_none() {
                let png = crate::sim::draw::top_down(&world, &i);
                png.save(out.join("drive-int8-seed1.png")).context("cannot write the drive picture")?;
            }
        }
    }
    let mean = |v: &[(f64, f64)], pick: fn(&(f64, f64)) -> f64| v.iter().map(pick).sum::<f64>() / v.len().max(1) as f64;
    for (timing, results) in timings.iter().zip(&autonomy) {
        s.add(
            &format!("autonomy @ {}", timing.name),
            format!(
                "float {:.1}%, int8 reference {:.1}% (seeds 1..{drive_tracks}, 1 lap each at {DEFAULT_SPEED} m/s; {timing})",
                mean(results, |r| r.0),
                mean(results, |r| r.1)
            ),
        );
    }
    firmware_drive(&blob, &blob_path, if args.quick { 0.1 } else { 0.5 }, &out, &mut s)?;

    step(8, "the fast network (fastnet): recorded, trained and driven at the Black Pill's timing");
    // Twice PilotNet's tracks: with the defaults, the tracks and epochs of models/fastnet's
    // recipe (seeds 100..119, 12 epochs; its figures differ a little from the shipped run's).
    // On 10 tracks the best validation epoch was the first, and it drove about two thirds of
    // the time.
    fast_network(2 * tracks, if args.quick { 4 } else { 12 }, drive_tracks, &out, &mut s)?;

    step(9, "summary");
    s.add("artefacts", format!("{} (ONNX, blob, training run, drive picture)", out.display()));
    s.add("time", format!("{:.0} s", started.elapsed().as_secs_f64()));
    let width = s.rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (k, v) in &s.rows {
        println!("{k:<width$}  {v}");
    }
    Ok(())
}

/// fastnet (`host/archs/fastnet.toml`, `models/fastnet`): the expert recorded at the rate the
/// Black Pill runs the network, each frame labelled with the command one latency later, then
/// trained, quantized and driven on unseen tracks at that timing.
fn fast_network(tracks: u64, epochs: usize, drive_tracks: u64, out: &Path, s: &mut Summary) -> Result<()> {
    let spec = NetSpec::load("fastnet")?;
    // The board's timing depends on the layers, not the weights: time the architecture.
    let untrained = crate::zoo::random(&spec, 1)?.to_bytes();
    let board = Timing::board(&BLACKPILL, &Model::parse(&untrained)?, Pipeline::Sequential, false).context("fastnet takes camera frames")?;
    let timing = RecordTiming { period_ns: board.slot.period_ns, label_latency_ns: board.slot.latency_ns, source: format!("{board}, timed for arch fastnet") };
    let recording = out.join("recording-fastnet");
    let options =
        RecordOptions { out: recording.clone(), seeds: (100..100 + tracks).collect(), laps: 1.0, speed: DEFAULT_SPEED, format: ImageFormat::Jpeg, force: true };
    let rec = record_timed(&options, &timing, |_, _| {})?;
    println!("{} frames x 3 cameras at {board}, labels {:.0} ms later, in {}", rec.rows, timing.label_latency_ns as f64 / 1e6, recording.display());

    let run_dir = out.join("train-fastnet");
    let config = TrainConfig { epochs, keep_straight: Some(0.25), ..TrainConfig::new(vec![recording], DataKind::Driving) };
    let fit = FitOptions { overwrite: true, progress: true, ..FitOptions::default() };
    train(&Job { network: Network::Arch(spec), config, out: run_dir.clone(), fit })?;
    let quantized = quantize_run(&RunDir::new(&run_dir), &PtqOptions { samples: 300, ..PtqOptions::default() })?;
    quantized.save(&out.join("int8-fastnet"))?;
    let blob = quantized.blob();
    atomic_write(&out.join("fastnet.pnn8"), &blob)?;
    let model = Model::parse(&blob)?;
    let board = Timing::board(&BLACKPILL, &model, Pipeline::Sequential, false).context("fastnet takes camera frames")?;
    let mut int8 = ModelDriver::new(&blob)?;
    let mut autonomy = Vec::new();
    for seed in 1..=drive_tracks {
        let track = Track::generate(seed);
        let world = World::new(&track, seed);
        let r = drive_timed(&track, Some(&world), &mut Pilot::Camera(&mut int8), DEFAULT_SPEED, 1.0, &board, |_| Ok(()))?.report;
        println!("seed {seed} ({:.0} m) @ {}: int8 {r}", track.length(), board.name);
        autonomy.push(r.autonomy());
    }
    let q = &quantized.report;
    s.add(
        "fastnet",
        format!(
            "{} MACs, {board}; validation MAE float {:.4}, int8 {:.4}; int8 autonomy {:.1}% (seeds 1..{drive_tracks}, 1 lap each at {DEFAULT_SPEED} m/s)",
            model.macs(),
            q.float,
            q.int8,
            autonomy.iter().sum::<f64>() / autonomy.len().max(1) as f64
        ),
    );
    Ok(())
}

/// Firmware in the loop: the QEMU firmware steers seed 1's track; its commands must equal the
/// int8 reference's at every step.
fn firmware_drive(blob: &[u8], blob_path: &Path, laps: f64, out: &Path, s: &mut Summary) -> Result<()> {
    if !crate::qemu::missing_tools().is_empty() {
        s.add("firmware in the loop", "skipped (see the firmware step)");
        return Ok(());
    }
    let track = Track::generate(1);
    let world = World::new(&track, 1);
    let mut firmware = crate::qemu::FirmwareDriver::new(blob_path, &out.join("qemu-loop"))?;
    let mut reference = ModelDriver::new(blob)?;
    let steer = |pilot: &mut Pilot<'_>| -> Result<(Vec<f32>, f64)> {
        let mut commands = Vec::new();
        let report = drive(&track, Some(&world), pilot, DEFAULT_SPEED, laps, |t| {
            commands.push(t.steering);
            Ok(())
        })?;
        Ok((commands, report.autonomy()))
    };
    let (fw, fw_aut) = steer(&mut Pilot::Camera(&mut firmware))?;
    let (re, re_aut) = steer(&mut Pilot::Camera(&mut reference))?;
    let same = fw == re;
    println!(
        "firmware in the loop, seed 1, {laps} lap: {} frames, autonomy {fw_aut:.1}% (int8 reference {re_aut:.1}%), steering {}",
        fw.len(),
        if same { "identical at every step" } else { "DIFFERENT" }
    );
    // The firmware's own instruction counts, timed on the Black Pill by its board model.
    let model = Model::parse(blob)?;
    let timing = Timing::board(&common::board::BLACKPILL, &model, common::board::timing::Pipeline::Sequential, true);
    let fps = match (timing, crate::sim::drive::Driver::counted(&firmware)) {
        (Some(t), Some(c)) => {
            let slot = t.slot(Some(c));
            format!("; on the Black Pill by its counts: {:.2} decisions/s, latency {:.0} ms", slot.decisions_per_second(), slot.latency_ns as f64 / 1e6)
        }
        _ => String::new(),
    };
    s.add(
        "firmware in the loop",
        format!(
            "{} frames of seed 1: steering {} to the int8 reference's, autonomy {fw_aut:.1}% vs {re_aut:.1}%{fps}",
            fw.len(),
            if same { "identical" } else { "NOT identical" }
        ),
    );
    anyhow::ensure!(same, "the firmware's steering differs from the int8 reference's");
    Ok(())
}

/// Builds the firmware with the blob, runs it on the frames and compares its outputs with the
/// reference; skipped with install instructions when tools are missing.
fn firmware_step(model: &Model<'_>, blob_path: &Path, frames: &[&[u8]], out: &Path, s: &mut Summary) -> Result<()> {
    let missing = crate::qemu::missing_tools();
    if !missing.is_empty() {
        println!("skipped: the firmware step needs: {}", missing.join("; "));
        s.add("firmware in QEMU", format!("skipped (install: {})", missing.join("; ")));
        return Ok(());
    }
    let elf = crate::qemu::build(blob_path, &out.join("firmware.elf"))?;
    let pp = model.def().input.preprocess.context("the model has no preprocessing")?;
    let mut expected: Vec<u8> = Vec::new();
    let (mut input, mut arena) = (vec![0i8; model.input().shape.len()], vec![0i8; model.plan().arena_bytes()]);
    for f in frames {
        preprocess_frame(&pp, model.input().shape, f, &mut input)?;
        expected.extend(common::i8_as_bytes(common::run(model, &input, &mut arena)?));
    }
    let run = crate::qemu::run(&elf, &frames.concat(), &out.join("qemu"))?;
    let mismatches = run.outputs.iter().zip(&expected).filter(|(a, b)| a != b).count() + run.outputs.len().abs_diff(expected.len());
    if let Some(line) = run.summary() {
        println!("{line}");
    }
    println!("{} frames through the firmware, {mismatches} output bytes differ from the reference", frames.len());
    let instr = run.instructions_per_inference().map(|n| format!("{:.1} M instructions per inference", n as f64 / 1e6)).unwrap_or_default();
    s.add("firmware in QEMU", format!("{mismatches} mismatching outputs on {} frames; {instr}", frames.len()));
    anyhow::ensure!(mismatches == 0, "the firmware's outputs differ from the reference");
    Ok(())
}
