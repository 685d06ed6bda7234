//! The network side: the embedded model, the camera's preprocessing, one frame in and a
//! steering value out.
//!
//! A model's preprocessing spec names the frames it was trained on (320x160 RGB888 for the
//! simulator-trained PilotNet); the camera sends 320x240 RGB565. [`Preprocess::for_frame`]
//! turns the spec into the camera's: the same crop of the scene (the model's frame taken as
//! the middle band of the camera's), the same resize and colour, so the network gets an input
//! of the same shape and meaning. Each camera row is preprocessed as it arrives and each
//! model-input row goes straight into the first layers' row bands: the camera pipeline of the
//! `firmware` library (`firmware::pipeline`), as in the QEMU application. Neither the frame
//! nor the whole input is ever held.

use common::format::QParams;
use common::interp::RunError;
use common::preprocess::{PixelFormat, Preprocess, PreprocessError};
use common::Model;
use cortex_m::peripheral::DWT;
use drivers::arducam::ROW_BYTES;
use drivers::ov2640;
use firmware::kernels::{self, Active};
use firmware::model;
use firmware::pipeline::{self, Pipeline, Probe};

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
    /// The camera pipeline cannot run the model in the arena.
    Pipeline(pipeline::SetupError),
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
    /// The pipeline's row buffer is not one camera row (its length; `Pilot::new` gives the
    /// pipeline the camera's frames, whose rows are `ROW_BYTES`).
    RowBuffer(usize),
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

/// Core cycles of the network, summed over its turns in one frame.
#[derive(Default)]
struct NetworkCycles {
    start: u32,
    total: u32,
}

impl Probe for NetworkCycles {
    fn network_start(&mut self) {
        self.start = DWT::cycle_count();
    }

    fn network_end(&mut self) {
        self.total = self.total.wrapping_add(DWT::cycle_count().wrapping_sub(self.start));
    }
}

/// The embedded model, ready to take camera frames.
pub struct Pilot<'s, 'm> {
    /// The camera-to-output path, with the model's preprocessing for the camera's frames.
    pipeline: Pipeline<'s, 'm, 'static>,
    kernels: Active,
    /// The output's quantization, to dequantize the steering.
    output: QParams,
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
        let pipeline = Pipeline::new(model, camera, arena).map_err(SetupError::Pipeline)?;
        Ok(Pilot { pipeline, kernels: kernels::active(), output: model.output().quant })
    }

    /// The preprocessing the camera's frames go through.
    pub fn camera_spec(&self) -> &Preprocess {
        self.pipeline.frames()
    }

    /// Runs one frame: `read_rows(row, f)` must fill `row` with each camera row in turn and
    /// call `f(y, row)` (as [`drivers::arducam::Frame::read_rows`] does). Returns the steering
    /// in [-1, 1] (right positive) and the cycles spent.
    pub fn infer<E>(
        &mut self,
        read_rows: impl FnOnce(&mut [u8; ROW_BYTES], &mut dyn FnMut(u16, &[u8])) -> Result<(), E>,
    ) -> Result<(f32, FrameCycles), FrameError<E>> {
        let t0 = DWT::cycle_count();
        let mut network = NetworkCycles::default();
        let out = self.pipeline.run(&mut self.kernels, &mut network, |row, rows| {
            let len = row.len();
            let row = <&mut [u8; ROW_BYTES]>::try_from(row).map_err(|_| FrameError::RowBuffer(len))?;
            read_rows(row, &mut |_, camera_row| rows.push(camera_row)).map_err(FrameError::Camera)
        });
        let end = DWT::cycle_count();
        let out = out.map_err(|e| match e {
            pipeline::FrameError::Read(e) => e,
            pipeline::FrameError::Preprocess(e) => FrameError::Preprocess(e),
            pipeline::FrameError::Network(e) => FrameError::Network(e),
        })?;
        let steering = self.output.dequantize(out[0]);
        let network = network.total;
        Ok((steering, FrameCycles { read: end.wrapping_sub(t0).wrapping_sub(network), network }))
    }
}
