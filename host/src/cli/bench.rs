//! `pilot bench`: commands that measure speed and print numbers.

use std::time::Instant;

use clap::{Args, Subcommand};

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

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Sim(a) => bench_sim(a),
        BenchCommand::Train(a) => super::bench_train::run(a),
        BenchCommand::Firmware(a) => super::bench_firmware::run(a),
    }
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
