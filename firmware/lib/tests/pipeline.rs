//! The camera pipeline on the host: frames pushed row by row through it give exactly the
//! output of whole-frame preprocessing and `common`'s reference run, with the reference and
//! the optimized kernels (their portable path), in an arena of exactly the camera plan; the
//! probe hears every layer; bad set-ups are refused with the reason; a frame cut short leaves
//! the next one unharmed.

use std::path::Path;

use common::format::owned::OwnedModel;
use common::interp::{Reference, RunError};
use common::plan::CameraPlan;
use common::preprocess::{preprocess_frame, ColorMode, PixelFormat, Preprocess, PreprocessError, Rect};
use common::testing::{random_model, RandomModelOptions, Rng};
use common::Model;
use firmware::kernels::{self, Kernels};
use firmware::pipeline::{FrameError, Pipeline, Probe, SetupError};

/// A word-aligned arena of `len` bytes inside `buf`.
fn aligned(buf: &mut Vec<i8>, len: usize) -> &mut [i8] {
    buf.resize(len + 4, 0x5A);
    let at = buf.as_ptr().align_offset(4);
    &mut buf[at..at + len]
}

/// A random model of `random_model` with camera preprocessing in front: frames a little
/// larger than the input, a random crop, pixel format and colour mode (gray for one channel).
fn camera_model(seed: u64) -> Option<OwnedModel> {
    let mut rng = Rng::new(seed);
    let options = RandomModelOptions { max_hw: 16, max_channels: 4, max_kernel: 5, max_stride: 3, ..Default::default() };
    let mut model = random_model(&mut rng, &options);
    let shape = model.input.shape;
    let color = match shape.c {
        1 => ColorMode::Gray,
        3 if rng.range(0, 1) == 0 => ColorMode::Rgb,
        3 => ColorMode::Yuv,
        _ => return None,
    };
    let (frame_w, frame_h) = (shape.w * 2 + rng.range(0, 5) as u16, shape.h * 2 + rng.range(0, 5) as u16);
    let (w, h) = (rng.range(1, frame_w as i64) as u16, rng.range(1, frame_h as i64) as u16);
    let crop = Rect { x: rng.range(0, (frame_w - w) as i64) as u16, y: rng.range(0, (frame_h - h) as i64) as u16, w, h };
    let format = [PixelFormat::Rgb888, PixelFormat::Rgb565Be, PixelFormat::Rgb565Le][rng.range(0, 2) as usize];
    model.input.preprocess = Some(Preprocess { frame_w, frame_h, format, crop, color });
    model.input.quant.zero_point = 0;
    Some(model)
}

/// What the reference gives for `frame`: whole-frame preprocessing, then `common::run`.
fn reference(model: &Model<'_>, frames: &Preprocess, frame: &[u8]) -> Vec<i8> {
    let mut input = vec![0i8; model.input().shape.len()];
    preprocess_frame(frames, model.input().shape, frame, &mut input).unwrap();
    let mut arena = vec![0i8; model.plan().arena_bytes()];
    common::run(model, &input, &mut arena).unwrap().to_vec()
}

/// Counts what the probe hears and checks its order: start, layers, end.
#[derive(Default)]
struct Counter {
    turns: usize,
    running: bool,
    layers: Vec<usize>,
}

impl Probe for Counter {
    fn network_start(&mut self) {
        assert!(!self.running, "network_start twice");
        self.running = true;
        self.turns += 1;
    }

    fn layer_done(&mut self, layer: usize) {
        assert!(self.running, "layer {layer} done outside the network's turn");
        self.layers[layer] += 1;
    }

    fn network_end(&mut self) {
        assert!(self.running, "network_end without start");
        self.running = false;
    }
}

/// Runs `frame` through `pipeline` row by row.
fn run<K: Kernels>(pipeline: &mut Pipeline<'_, '_, '_>, kernels: &mut K, probe: &mut impl Probe, frame: &[u8]) -> Result<Vec<i8>, FrameError<()>> {
    let row_bytes = pipeline.frames().row_bytes();
    pipeline
        .run(kernels, probe, |row, rows| {
            assert_eq!(row.len(), row_bytes, "the row buffer is one frame row");
            for r in frame.chunks(row_bytes) {
                row.copy_from_slice(r);
                rows.push(row);
            }
            Ok(())
        })
        .map(<[i8]>::to_vec)
}

#[test]
fn random_camera_models_give_the_reference_output_with_both_kernel_sets() {
    let (mut models, mut banded) = (0, 0);
    for seed in 0..400 {
        let Some(owned) = camera_model(seed) else { continue };
        let bytes = owned.to_bytes();
        let model = Model::parse(&bytes).unwrap();
        let frames = model.def().input.preprocess.unwrap();
        let plan = CameraPlan::of(&model);
        let mut buf = Vec::new();
        let mut pipeline = Pipeline::new(&model, frames, aligned(&mut buf, plan.arena_bytes())).unwrap();
        assert_eq!(*pipeline.plan(), plan.bands, "seed {seed}: the pipeline runs the build script's plan");

        let mut rng = Rng::new(seed ^ 0xF00D);
        for frame_no in 0..2 {
            let frame = rng.bytes(frames.frame_bytes());
            let want = reference(&model, &frames, &frame);
            let mut probe = Counter { layers: vec![0; model.layers().len()], ..Counter::default() };
            let got = run(&mut pipeline, &mut Reference, &mut probe, &frame).unwrap();
            assert_eq!(got, want, "seed {seed} frame {frame_no}, reference kernels");
            let dsp = run(&mut pipeline, &mut kernels::active(), &mut (), &frame).unwrap();
            assert_eq!(dsp, want, "seed {seed} frame {frame_no}, optimized kernels");

            // One turn per model-input row and one after the frame; every layer heard of, a
            // banded layer once per output row.
            assert_eq!(probe.turns, model.input().shape.h as usize + 1, "seed {seed}");
            for (i, &n) in probe.layers.iter().enumerate() {
                let rows = model.tensor(i + 1).shape.h as usize;
                assert!(n >= 1 && n <= rows, "seed {seed}: layer {i} reported {n} times ({rows} rows)");
            }
        }
        models += 1;
        banded += usize::from(plan.bands.banded_layers() > 0);
    }
    assert!(models >= 100 && banded >= models / 3, "{models} models, {banded} with row bands");
}

fn test_vector(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/testvectors").join(name)).unwrap()
}

#[test]
fn pilotnet_from_a_camera_of_other_frames_gives_the_reference_output() {
    // What the Black Pill does: the model's preprocessing moved onto a 320x240 RGB565 camera.
    let bytes = test_vector("pilotnet-random.pnn8");
    let model = Model::parse(&bytes).unwrap();
    let camera = model.def().input.preprocess.unwrap().for_frame(320, 240, PixelFormat::Rgb565Be).unwrap();
    let plan = CameraPlan::of(&model);
    let mut buf = Vec::new();
    let mut pipeline = Pipeline::new(&model, camera, aligned(&mut buf, plan.arena_bytes())).unwrap();
    let frame = Rng::new(7).bytes(camera.frame_bytes());
    let got = run(&mut pipeline, &mut kernels::active(), &mut (), &frame).unwrap();
    assert_eq!(got, reference(&model, &camera, &frame));
}

#[test]
fn the_sign_cnn_runs_in_exactly_its_camera_plan() {
    let bytes = test_vector("sign-random.pnn8");
    let model = Model::parse(&bytes).unwrap();
    let frames = model.def().input.preprocess.unwrap();
    let needed = CameraPlan::of(&model).arena_bytes();
    let mut buf = Vec::new();
    assert_eq!(Pipeline::new(&model, frames, aligned(&mut buf, needed - 1)).err(), Some(SetupError::ArenaTooSmall { needed, got: needed - 1 }));
    let mut pipeline = Pipeline::new(&model, frames, aligned(&mut buf, needed)).unwrap();
    let mut rng = Rng::new(11);
    for _ in 0..3 {
        let frame = rng.bytes(frames.frame_bytes());
        assert_eq!(run(&mut pipeline, &mut kernels::active(), &mut (), &frame).unwrap(), reference(&model, &frames, &frame));
    }
}

#[test]
fn bad_set_ups_are_refused_with_the_reason() {
    let bytes = test_vector("sign-random.pnn8");
    let model = Model::parse(&bytes).unwrap();
    let frames = model.def().input.preprocess.unwrap();
    let needed = CameraPlan::of(&model).arena_bytes();
    let mut buf = vec![0i8; needed + 8];
    let at = buf.as_ptr().align_offset(4);

    let misaligned = &mut buf[at + 1..at + 1 + needed];
    assert_eq!(Pipeline::new(&model, frames, misaligned).err(), Some(SetupError::ArenaNotAligned));

    let wider = Preprocess { frame_w: frames.frame_w + 1, ..frames };
    assert_eq!(
        Pipeline::new(&model, wider, &mut buf[at..at + needed]).err(),
        Some(SetupError::FrameRowTooLong { row_bytes: wider.row_bytes(), buffer: frames.row_bytes() })
    );
    // Gray frames give one channel; the model takes three.
    let gray = Preprocess { color: ColorMode::Gray, ..frames };
    assert_eq!(Pipeline::new(&model, gray, &mut buf[at..at + needed]).err(), Some(SetupError::Preprocess(PreprocessError::BadSpec)));

    let mut no_camera = (0..).find_map(camera_model).unwrap();
    no_camera.input.preprocess = None;
    let bytes = no_camera.to_bytes();
    let no_camera = Model::parse(&bytes).unwrap();
    assert_eq!(Pipeline::new(&no_camera, frames, &mut buf[at..at + needed]).err(), Some(SetupError::NoPreprocessing));
}

#[test]
fn a_frame_cut_short_leaves_the_next_frame_unharmed() {
    let bytes = test_vector("sign-random.pnn8");
    let model = Model::parse(&bytes).unwrap();
    let frames = model.def().input.preprocess.unwrap();
    let row_bytes = frames.row_bytes();
    let mut buf = Vec::new();
    let mut pipeline = Pipeline::new(&model, frames, aligned(&mut buf, CameraPlan::of(&model).arena_bytes())).unwrap();
    let mut rng = Rng::new(3);
    let frame = rng.bytes(frames.frame_bytes());
    let want = reference(&model, &frames, &frame);
    let dsp = &mut kernels::active();

    // The reader fails half-way: its error comes back.
    let half = pipeline.run(dsp, &mut (), |row, rows| {
        for r in frame.chunks(row_bytes).take(frames.frame_h as usize / 2) {
            row.copy_from_slice(r);
            rows.push(row);
        }
        Err("camera unplugged")
    });
    assert_eq!(half.err(), Some(FrameError::Read("camera unplugged")));
    assert_eq!(run(&mut pipeline, dsp, &mut (), &frame).unwrap(), want);

    // Too few rows: the network misses its input's last rows.
    let short = &frame[..frame.len() - row_bytes];
    let input_h = model.input().shape.h;
    assert!(matches!(run(&mut pipeline, dsp, &mut (), short), Err(FrameError::Network(RunError::RowCount { expected, .. })) if expected == input_h));
    assert_eq!(run(&mut pipeline, dsp, &mut (), &frame).unwrap(), want);

    // A row of the wrong length: the rest of the frame is ignored, the error comes back.
    let bad_row = pipeline.run(dsp, &mut (), |_, rows| {
        rows.push(&frame[..row_bytes - 1]);
        for r in frame.chunks(row_bytes) {
            rows.push(r);
        }
        Ok::<(), ()>(())
    });
    assert_eq!(bad_row.err(), Some(FrameError::Preprocess(PreprocessError::RowLength { expected: row_bytes, got: row_bytes - 1 })));
    assert_eq!(run(&mut pipeline, dsp, &mut (), &frame).unwrap(), want);

    // Too many rows.
    let long = [&frame[..], &frame[..row_bytes]].concat();
    assert_eq!(run(&mut pipeline, dsp, &mut (), &long).err(), Some(FrameError::Preprocess(PreprocessError::TooManyRows)));
    assert_eq!(run(&mut pipeline, dsp, &mut (), &frame).unwrap(), want);
}
