//! `pilot bench`: commands that measure speed and print numbers.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand};

use crate::bench::data;
use crate::sim::drive::{drive, Pilot};
use crate::sim::render::{Camera, Frame, FRAME_H, FRAME_W};
use crate::sim::track::Track;
use crate::sim::vehicle::DEFAULT_SPEED;
use crate::sim::world::World;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Simulator: track and world build time, camera frames rendered per second on one thread.
    Sim(SimBenchArgs),
    /// Training: images/s of PilotNet and the sign CNN, bare step and full epoch with data.
    Train(super::bench_train::TrainBenchArgs),
    /// Firmware in QEMU: instructions per inference, per layer and per MAC, memory and flash.
    Firmware(super::bench_firmware::FirmwareBenchArgs),
    /// Data pipeline: preprocessing and training examples per image, batches, and loading and
    /// splitting the real data sets found in a folder.
    Data(DataBenchArgs),
}

#[derive(Args, Debug)]
#[command(after_help = "Example:\n  cargo run --release -p host -- bench sim --seed 1 --frames 5000")]
pub struct SimBenchArgs {
    /// Track seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Frames to render (along one lap of the expert's drive, repeated as needed).
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    pub frames: u64,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  pilot bench data                                   PilotNet's pipeline on a made-up recording; real sets in target/data
  pilot bench data --data ../shared/data --images 1000 --small-images 5000

The real sets are looked up in DIR as udacity-track1/ (Udacity recording), GTSRB/ (GTSRB
training set), cifar10/train/ (one folder per class) and cifar-10-batches-bin/; missing ones are
skipped.")]
pub struct DataBenchArgs {
    /// Folder with the real data sets.
    #[arg(long, value_name = "DIR", default_value = "target/data")]
    pub data: PathBuf,
    /// Images per measurement of PilotNet's pipeline.
    #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..))]
    pub images: u64,
    /// Images per measurement of a classification set's pipeline (32x32 images: far quicker).
    #[arg(long, default_value_t = 20000, value_parser = clap::value_parser!(u64).range(1..))]
    pub small_images: u64,
}

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Sim(a) => bench_sim(a),
        BenchCommand::Train(a) => super::bench_train::run(a),
        BenchCommand::Firmware(a) => super::bench_firmware::run(a),
        BenchCommand::Data(a) => bench_data(a),
    }
}

fn bench_data(args: DataBenchArgs) -> anyhow::Result<()> {
    let images = args.images as usize;
    let d = data::driving_pipeline(images, 64)?;
    let p = d.per_image;
    println!(
        "PilotNet 320x160 -> 66x200 YUV, CPU time of one thread over {images} images: preprocess_frame alone {:.0} us, example {:.0} us, augmented example {:.0} us",
        p.preprocess_us, p.example_us, p.augmented_us
    );
    println!("PilotNet augmented, fill_batch({}) on {} threads: {:.0} us wall time per example", d.batch, d.threads, d.batch_us);

    let dir = args.data.join("udacity-track1");
    if dir.is_dir() {
        let s = data::driving_set(&dir)?;
        println!(
            "udacity ({}): {} rows ({} straight), 3 cameras, loaded in {:.2} s; split train {} / val {} ({} guard rows dropped); balanced epoch {} rows",
            dir.display(),
            s.rows,
            s.straight,
            s.load_s,
            s.train,
            s.val,
            s.rows - s.train - s.val,
            s.epoch
        );
    } else {
        println!("udacity: skipped (no {})", dir.display());
    }
    let sets = [
        ("gtsrb", "GTSRB", data::ClassSource::Gtsrb),
        ("cifar10 folders", "cifar10/train", data::ClassSource::ImageFolder),
        ("cifar10 binary", "cifar-10-batches-bin", data::ClassSource::CifarBinary),
    ];
    for (name, sub, source) in sets {
        let dir = args.data.join(sub);
        if !dir.is_dir() {
            println!("{name}: skipped (no {})", dir.display());
            continue;
        }
        let s = data::class_set(source, &dir, args.small_images as usize)?;
        let p = s.per_image;
        println!(
            "{name} ({}): {} images, {} classes, loaded in {:.2} s; split train {} / val {}; CPU time per image: preprocess_frame alone {:.1} us, example {:.1} us, augmented {:.1} us",
            dir.display(),
            s.images,
            s.classes,
            s.load_s,
            s.train,
            s.val,
            p.preprocess_us,
            p.example_us,
            p.augmented_us
        );
    }
    Ok(())
}

fn bench_sim(args: SimBenchArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let track = Track::generate(args.seed);
    let track_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let world = World::new(&track, args.seed);
    let world_s = start.elapsed().as_secs_f64();
    let base = world.map().level(0);
    println!(
        "seed {}: track {:.0} m generated in {:.1} ms; world (ground map {}x{} texels, sky) built in {:.0} ms",
        args.seed,
        track.length(),
        track_s * 1e3,
        base.w,
        base.h,
        world_s * 1e3
    );

    // Realistic viewpoints: the expert's poses over one lap.
    let mut poses = Vec::new();
    drive(&track, None, &mut Pilot::Expert, DEFAULT_SPEED, 1.0, |tick| {
        poses.push(tick.session.car().pose);
        Ok(())
    })?;
    let camera = Camera::centre();
    let mut frame = Frame::default();
    for pose in poses.iter().take(50) {
        world.render(&camera, pose, &mut frame);
    }
    let start = Instant::now();
    for pose in poses.iter().cycle().take(args.frames as usize) {
        world.render(&camera, pose, &mut frame);
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "render: {} frames of {FRAME_W}x{FRAME_H} RGB888, one camera, one thread: {:.0} frames/s ({:.3} ms/frame)",
        args.frames,
        args.frames as f64 / seconds,
        seconds * 1e3 / args.frames as f64
    );
    Ok(())
}
