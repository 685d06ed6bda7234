//! The network side: the embedded model, the camera's preprocessing, one frame in and a
//! steering value out.
//!
//! A model's preprocessing spec names the frames it was trained on (320x160 RGB888 for the
//! simulator-trained networks). `common::board::front_end` sets the camera up for it: the
//! OV2640 crops the same region of the scene and scales it to the network's input size
//! itself, so the firmware's preprocessing is the colour conversion of the rows it receives
//! (`BLACKPILL.front_end`, the set-up `pilot report` times). Each camera row is preprocessed
//! as it arrives and each
//! model-input row goes straight into the first layers' row bands: the camera pipeline of the
//! `firmware` library (`firmware::pipeline`), as in the QEMU application. Neither the frame
//! nor the whole input is ever held.

use common::board::front_end::SensorSetup;
use common::board::{camera, BLACKPILL};
use common::format::QParams;
use common::interp::RunError;
use common::preprocess::{Preprocess, PreprocessError};
use common::Model;
use cortex_m::peripheral::DWT;
use drivers::arducam::MAX_ROW_BYTES;
use drivers::ov2640::{Geometry, Mode};
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
    /// No sensor mode holds the model's crop at its input size (`common::board::front_end`).
    NoCameraSetup,
    /// The camera pipeline cannot run the model in the arena.
    Pipeline(pipeline::SetupError),
}

// A camera row goes into the row buffer the build script sized for the model's frame rows.
const _: () = assert!(
    MAX_ROW_BYTES <= model::FRAME_ROW_BYTES,
    "the embedded model's frame rows are shorter than the camera's widest (320 RGB565 pixels): the board takes a steering model for camera-sized frames (PILOT_MODEL)"
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
    /// What the camera is set up to send.
    geometry: Geometry,
    kernels: Active,
    /// The output's quantization, to dequantize the steering.
    output: QParams,
}

impl<'s, 'm> Pilot<'s, 'm> {
    pub fn new(model: &'s Model<'m>) -> Result<Self, SetupError> {
        model.def().input.preprocess.ok_or(SetupError::NoPreprocessing)?;
        let outputs = model.output().shape.len();
        if outputs != 1 {
            return Err(SetupError::NotSteering { outputs });
        }
        let front = BLACKPILL.front_end(model).ok_or(SetupError::NoCameraSetup)?;
        let arena = model::arena().ok_or(SetupError::ArenaTaken)?;
        let pipeline = Pipeline::new(model, front.frames, arena).map_err(SetupError::Pipeline)?;
        Ok(Pilot { pipeline, geometry: geometry(&front.setup), kernels: kernels::active(), output: model.output().quant })
    }

    /// What the camera must be set up to send.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The preprocessing the camera's frames go through.
    pub fn camera_spec(&self) -> &Preprocess {
        self.pipeline.frames()
    }

    /// Runs one frame: `read_rows(row, f)` must fill `row` with each camera row in turn and
    /// call `f(y, row)` (as [`drivers::arducam::Frame::read_rows`] does). Returns the steering
    /// in [-1, 1] (right positive) and the cycles spent.
    pub fn infer<E>(&mut self, read_rows: impl FnOnce(&mut [u8], &mut dyn FnMut(u16, &[u8])) -> Result<(), E>) -> Result<(f32, FrameCycles), FrameError<E>> {
        let t0 = DWT::cycle_count();
        let mut network = NetworkCycles::default();
        let out = self
            .pipeline
            .run(&mut self.kernels, &mut network, |row, rows| read_rows(row, &mut |_, camera_row| rows.push(camera_row)).map_err(FrameError::Camera));
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

/// The driver's geometry for a front end's set-up.
fn geometry(s: &SensorSetup) -> Geometry {
    let mode = match s.mode {
        m if m == camera::OV2640_CIF => Mode::Cif,
        m if m == camera::OV2640_SVGA => Mode::Svga,
        _ => Mode::Uxga,
    };
    let w = s.window;
    Geometry { mode, x: w.x, y: w.y, w: w.w, h: w.h, out_w: s.out_w, out_h: s.out_h }
}
