//! The network side: the embedded model, the camera's preprocessing, one frame in and a
//! steering value out.
//!
//! A model's preprocessing spec names the frames it was trained on (320x160 RGB888 for the
//! simulator-trained PilotNet); the camera sends 320x240 RGB565. [`Preprocess::for_frame`]
//! turns the spec into the camera's: the same crop of the scene (the model's frame taken as
//! the middle band of the camera's), the same resize and colour, so the network gets an input
//! of the same shape and meaning. Each camera row is preprocessed as it arrives and each
//! model-input row goes straight into the first layers' row bands (`common::interp::Stream`),
//! as in the QEMU application: neither the frame nor the whole input is ever held.

use common::interp::{RunError, Stream};
use common::preprocess::{PixelFormat, Preprocess, PreprocessError, RowStream};
use common::{Model, Shape};
use cortex_m::peripheral::DWT;
use drivers::arducam::ROW_BYTES;
use drivers::ov2640;
use firmware::kernels::{self, Active};
use firmware::model::{self, FrameBuffers};

/// Why the board cannot drive with the embedded model.
#[derive(defmt::Format)]
pub enum SetupError {
    /// The arena was taken before (only one `Pilot` exists).
    ArenaTaken,
    /// The model takes no camera frames.
    NoPreprocessing,
    /// The model has more than one output: not a steering model.
    NotSteering { outputs: usize },
    /// The model's crop, placed in the camera's frame, leaves it.
    CropOutsideCameraFrame,
    /// `common`'s memory plan differs from the one the build script sized the arena for.
    PlanMismatch,
}

// A camera row goes into the row buffer the build script sized for the model's frame rows.
const _: () = assert!(
    ROW_BYTES <= model::FRAME_ROW_BYTES,
    "the embedded model's frame rows are shorter than the camera's (320 RGB565 pixels): the board takes a steering model for camera-sized frames (PILOT_MODEL)"
);

/// Why a frame gave no steering.
#[derive(defmt::Format)]
pub enum FrameError<E> {
    Camera(E),
    Preprocess(PreprocessError),
    Network(RunError),
}

/// Core cycles of one frame's parts.
pub struct FrameCycles {
    /// Reading the rows off the camera and preprocessing them.
    pub read: u32,
    /// The network: row bands while rows come in, then the layers after them.
    pub network: u32,
}

/// The embedded model, ready to take camera frames.
pub struct Pilot<'s, 'm> {
    /// The model input's shape.
    input: Shape,
    /// The model's preprocessing, for the camera's frames.
    camera: Preprocess,
    /// A stream at the start of a frame: each frame streams through a copy, so a frame cut
    /// short by an error leaves nothing behind.
    start: Stream<'s, 'm>,
    arena: &'static mut [i8],
    kernels: Active,
    /// The output's real value per int8 step, and its zero point.
    output_scale: f32,
    output_zero: i8,
}

impl<'s, 'm> Pilot<'s, 'm> {
    pub fn new(model: &'s Model<'m>) -> Result<Self, SetupError> {
        let pp = model.def().input.preprocess.ok_or(SetupError::NoPreprocessing)?;
        let outputs = model.output().shape.len();
        if outputs != 1 {
            return Err(SetupError::NotSteering { outputs });
        }
        let camera = pp
            .for_frame(ov2640::WIDTH, ov2640::HEIGHT, PixelFormat::Rgb565Be)
            .ok_or(SetupError::CropOutsideCameraFrame)?;
        let arena = model::arena().ok_or(SetupError::ArenaTaken)?;
        let start = Stream::new(model, model::SCRATCH_BYTES);
        let plan = start.plan();
        if plan.arena_bytes() > arena.len() || plan.scratch().len as usize != model::SCRATCH_BYTES {
            return Err(SetupError::PlanMismatch);
        }
        let quant = model.output().quant;
        // 2^scale_exp, exactly (core has no powi).
        let step = if quant.scale_exp < 0 { 0.5 } else { 2.0 };
        let output_scale = (0..quant.scale_exp.unsigned_abs()).fold(1.0f32, |s, _| s * step);
        Ok(Pilot {
            input: model.input().shape,
            camera,
            start,
            arena,
            kernels: kernels::active(),
            output_scale,
            output_zero: quant.zero_point,
        })
    }

    /// The preprocessing the camera's frames go through.
    pub fn camera_spec(&self) -> &Preprocess {
        &self.camera
    }

    /// Runs one frame: `read_rows(row, f)` must fill `row` with each camera row in turn and
    /// call `f(y, row)` (as [`drivers::arducam::Frame::read_rows`] does). Returns the steering
    /// in [-1, 1] (right positive) and the cycles spent.
    pub fn infer<E>(
        &mut self,
        read_rows: impl FnOnce(&mut [u8; ROW_BYTES], &mut dyn FnMut(u16, &[u8])) -> Result<(), E>,
    ) -> Result<(f32, FrameCycles), FrameError<E>> {
        let t0 = DWT::cycle_count();
        let mut stream = self.start.clone();
        let kernels = &mut self.kernels;
        let scratch = stream.plan().scratch();
        // `new` checked the plan against the arena, and the row buffer holds a camera row (the
        // assertion above), so these splits succeed.
        let too_small = FrameError::Network(RunError::ArenaTooSmall { needed: scratch.end() as usize, got: self.arena.len() });
        let (bands, rest) = self.arena.split_at_mut(scratch.offset as usize);
        let Some(b) = rest.get_mut(..scratch.len as usize).and_then(FrameBuffers::split) else {
            return Err(too_small);
        };
        let Some((row, _)) = b.frame_row.split_first_chunk_mut::<ROW_BYTES>() else {
            return Err(FrameError::Preprocess(PreprocessError::ScratchTooSmall));
        };
        let mut rows = RowStream::new(self.camera, self.input, b.interp, b.out_row).map_err(FrameError::Preprocess)?;

        let (mut network, mut preprocess_failed, mut network_failed) = (0u32, None, None);
        read_rows(row, &mut |_, camera_row| {
            if preprocess_failed.is_some() || network_failed.is_some() {
                return; // the frame is lost: let the camera finish its readout
            }
            let pushed = rows.push_row(camera_row, |_, input_row| {
                let t = DWT::cycle_count();
                if let Err(e) = stream.push_row(kernels, bands, input_row, |_, _, _| {}) {
                    network_failed.get_or_insert(e);
                }
                network = network.wrapping_add(DWT::cycle_count().wrapping_sub(t));
            });
            if let Err(e) = pushed {
                preprocess_failed.get_or_insert(e);
            }
        })
        .map_err(FrameError::Camera)?;
        if let Some(e) = preprocess_failed {
            return Err(FrameError::Preprocess(e));
        }
        if let Some(e) = network_failed {
            return Err(FrameError::Network(e));
        }

        let t = DWT::cycle_count();
        let out = stream.finish(kernels, self.arena, |_, _, _| {}).map_err(FrameError::Network)?;
        let end = DWT::cycle_count();
        network = network.wrapping_add(end.wrapping_sub(t));
        let steering = (out[0] as i32 - self.output_zero as i32) as f32 * self.output_scale;
        Ok((steering, FrameCycles { read: end.wrapping_sub(t0).wrapping_sub(network), network }))
    }
}
