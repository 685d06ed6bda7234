//! Closed loop: a driver steers the car from what it sees, and the drive is scored.
//!
//! A [`Driver`] gets the centre camera's frame and nothing else ("frame in, steering out"), so
//! a network is scored on exactly what it would see in the car. The expert is the other kind of
//! [`Pilot`]: it reads the car's pose on the track instead. The loop owns the timing
//! ([`super::timed`]); [`drive`] runs it at ideal timing, the simulator's historical loop.

use anyhow::{ensure, Context};
use common::format::Task;
use common::preprocess::{preprocess_frame, to_rgb565, PixelFormat, Preprocess};
use common::Model;

use super::clock::{Counted, Timing};
use super::metrics::Report;
use super::render::{Frame, FRAME_H, FRAME_W};
use super::session::Session;
use super::timed::drive_timed;
use super::track::Track;
use super::world::World;

/// Steers from the camera alone.
pub trait Driver {
    /// Steering for this 320x160 RGB888 centre-camera frame, in `[-1, 1]`, positive turning
    /// right (the car clamps values outside).
    fn steer(&mut self, frame: &Frame) -> anyhow::Result<f32>;

    /// Steering for a frame captured `time` seconds into the drive. Drivers that look only at
    /// the frame (every network) need not implement it.
    fn steer_at(&mut self, frame: &Frame, time: f64) -> anyhow::Result<f32> {
        let _ = time;
        self.steer(frame)
    }

    /// The instructions the chip spent on the last frame, for drivers that run the firmware:
    /// a loop timed by a board then times that frame by them.
    fn counted(&self) -> Option<Counted> {
        None
    }
}

/// Who steers.
pub enum Pilot<'d> {
    /// The expert, from the car's pose on the track (no camera needed).
    Expert,
    /// A driver that sees the centre camera.
    Camera(&'d mut dyn Driver),
}

/// What the loop shows an observer at each capture, after the pilot has steered from it and
/// before the car moves on.
pub struct Tick<'a> {
    pub session: &'a Session<'a>,
    /// The centre camera's frame (when a world is rendered).
    pub frame: Option<&'a Frame>,
    /// The pilot's steering.
    pub steering: f32,
    /// What the expert would steer here (for comparison).
    pub expert: f32,
    /// When the frame was captured (seconds since the start).
    pub time: f64,
}

/// Drives `laps` laps of `track` at `speed` (m/s) at ideal timing (a frame every 0.1 s, its
/// command applied at once). With a `world` the centre camera is rendered every frame (a
/// camera pilot needs it). `observe` sees every frame; its error stops the drive. A drive that
/// has not finished after three times the lap time (a pilot that keeps being put back) stops
/// there, its report shows the laps done. [`drive_timed`] drives at any other timing.
pub fn drive(
    track: &Track,
    world: Option<&World>,
    pilot: &mut Pilot<'_>,
    speed: f64,
    laps: f64,
    observe: impl FnMut(&Tick<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<Report> {
    Ok(drive_timed(track, world, pilot, speed, laps, &Timing::ideal(), observe)?.report)
}

/// An int8 model blob run through the `common` reference interpreter, exactly as the firmware
/// runs it: the blob's own preprocessing, then the network, then the output dequantized,
/// `steering = (q - zero_point) * 2^scale_exp`.
pub struct ModelDriver<'m> {
    model: Model<'m>,
    preprocess: Preprocess,
    input: Vec<i8>,
    arena: Vec<i8>,
    /// The frame converted to the model's pixel format, when that is RGB565.
    pixels: Vec<u8>,
}

impl<'m> ModelDriver<'m> {
    pub fn new(blob: &'m [u8]) -> anyhow::Result<Self> {
        let model = Model::parse(blob).context("not a valid model blob")?;
        ensure!(model.def().task == Task::Regression, "model {:?} is a classifier, not a steering model", model.name());
        let outputs = model.output().shape.len();
        ensure!(outputs == 1, "model {:?} has {outputs} outputs; a steering model has one", model.name());
        let preprocess = model.def().input.preprocess.context("the model has no camera preprocessing")?;
        ensure!(
            preprocess.frame_w as usize == FRAME_W && preprocess.frame_h as usize == FRAME_H,
            "the model takes {}x{} frames; the simulator's camera gives {FRAME_W}x{FRAME_H}",
            preprocess.frame_w,
            preprocess.frame_h
        );
        let input = vec![0; model.input().shape.len()];
        let arena = vec![0; model.plan().arena_bytes()];
        Ok(ModelDriver { model, preprocess, input, arena, pixels: Vec::new() })
    }
}

impl Driver for ModelDriver<'_> {
    fn steer(&mut self, frame: &Frame) -> anyhow::Result<f32> {
        let pixels = match self.preprocess.format {
            PixelFormat::Rgb888 => frame.rgb(),
            format => {
                self.pixels.clear();
                for p in frame.rgb().chunks_exact(3) {
                    let v = to_rgb565([p[0], p[1], p[2]]);
                    let bytes = if format == PixelFormat::Rgb565Be { v.to_be_bytes() } else { v.to_le_bytes() };
                    self.pixels.extend_from_slice(&bytes);
                }
                &self.pixels
            }
        };
        preprocess_frame(&self.preprocess, self.model.input().shape, pixels, &mut self.input)?;
        let q = common::run(&self.model, &self.input, &mut self.arena)?[0];
        let quant = self.model.output().quant;
        Ok((q as i32 - quant.zero_point as i32) as f32 * 2f32.powi(quant.scale_exp as i32))
    }
}
