//! Closed loop: a driver steers the car from what it sees, frame by frame, and the drive is
//! scored.
//!
//! A [`Driver`] gets the centre camera's frame and nothing else ("frame in, steering out"), so
//! a network is scored on exactly what it would see in the car. The expert is the other kind of
//! [`Pilot`]: it reads the car's pose on the track instead.

use anyhow::{ensure, Context};
use common::format::Task;
use common::preprocess::{preprocess_frame, to_rgb565, PixelFormat, Preprocess};
use common::Model;

use super::expert::Expert;
use super::metrics::Report;
use super::render::{Camera, Frame, FRAME_H, FRAME_W};
use super::session::Session;
use super::track::Track;
use super::world::World;

/// Steers from the camera alone.
pub trait Driver {
    /// Steering for this 320x160 RGB888 centre-camera frame, in `[-1, 1]`, positive turning
    /// right (the car clamps values outside).
    fn steer(&mut self, frame: &Frame) -> anyhow::Result<f32>;
}

/// Who steers.
pub enum Pilot<'d> {
    /// The expert, from the car's pose on the track (no camera needed).
    Expert,
    /// A driver that sees the centre camera.
    Camera(&'d mut dyn Driver),
}

/// What the loop shows an observer each frame, before the car moves.
pub struct Tick<'a> {
    pub session: &'a Session<'a>,
    /// The centre camera's frame (when a world is rendered).
    pub frame: Option<&'a Frame>,
    /// The pilot's steering.
    pub steering: f32,
    /// What the expert would steer here (for comparison).
    pub expert: f32,
}

/// Drives `laps` laps of `track` at `speed` (m/s). With a `world` the centre camera is rendered
/// every frame (a camera pilot needs it). `observe` sees every frame; its error stops the drive.
/// A drive that has not finished after three times the lap time (a pilot that keeps being put
/// back) stops there, its report shows the laps done.
pub fn drive(
    track: &Track,
    world: Option<&World>,
    pilot: &mut Pilot<'_>,
    speed: f64,
    laps: f64,
    mut observe: impl FnMut(&Tick<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<Report> {
    let mut session = Session::new(track, speed);
    let camera = Camera::centre();
    let mut frame = Frame::default();
    let time_limit = 3.0 * laps * track.length() / speed + 10.0;
    while session.laps() < laps && session.time() < time_limit {
        let expert = Expert.steer(track, session.car(), session.location());
        let seen = world.map(|w| {
            w.render(&camera, &session.car().pose, &mut frame);
            &frame
        });
        let steering = match pilot {
            Pilot::Expert => expert,
            Pilot::Camera(driver) => driver.steer(seen.context("a camera driver needs the world rendered")?)?,
        };
        observe(&Tick { session: &session, frame: seen, steering, expert })?;
        session.step(steering);
    }
    Ok(session.report())
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
