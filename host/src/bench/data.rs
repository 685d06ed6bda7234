//! The data pipeline's speed, as `pilot bench data` measures it: preprocessing, examples and
//! augmented examples per image (CPU time of one thread, which other processes on a busy
//! machine do not inflate), whole batches on every core, and loading and splitting the real
//! data sets.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use common::preprocess::preprocess_frame;

use crate::data::{Balance, Camera, CifarPart, ClassificationData, ClassificationOptions, DrivingData, DrivingOptions, Examples, Rng, SplitOptions};
use crate::zoo::{pilotnet_input, sign_input};

/// Microseconds of one thread's CPU time per image.
#[derive(Clone, Copy, Debug)]
pub struct PerImage {
    /// `common::preprocess::preprocess_frame` alone.
    pub preprocess_us: f64,
    /// One training example: the frame preprocessed into the model input.
    pub example_us: f64,
    /// One augmented training example.
    pub augmented_us: f64,
}

/// PilotNet's pipeline on a made-up 320x160 recording.
#[derive(Clone, Copy, Debug)]
pub struct DrivingPipeline {
    pub per_image: PerImage,
    /// Wall time per example of augmented `fill_batch` on every core.
    pub batch_us: f64,
    pub batch: usize,
    pub threads: usize,
}

/// The split measured: 20 % for validation, the default blocks and guards.
fn split_options() -> SplitOptions {
    SplitOptions { val_fraction: 0.2, seed: 1, ..SplitOptions::default() }
}

/// Measures PilotNet's data pipeline over `images` examples of a one-row recording made in a
/// temporary folder (the same JPEG every time: what is measured is decoding-free work).
pub fn driving_pipeline(images: usize, batch: usize) -> Result<DrivingPipeline> {
    let tmp = tempfile::tempdir()?;
    tiny_recording(tmp.path())?;
    let spec = pilotnet_input();
    let data = DrivingData::load(&[tmp.path()], &DrivingOptions { progress: false, ..DrivingOptions::new(spec) })?;
    let pp = spec.preprocess.context("PilotNet's input has preprocessing")?;
    let frame = data.frame(0, Camera::Center).context("the recording has a centre frame")?.to_vec();
    let mut out = vec![0i8; spec.shape.len()];
    let mut rng = Rng::new(1);
    let per_image = PerImage {
        preprocess_us: cpu_us_per_call(images, |_| preprocess_frame(&pp, spec.shape, &frame, &mut out).expect("the recording's frame fits")),
        example_us: cpu_us_per_call(images, |_| {
            data.example(0, &mut rng, false, &mut out);
        }),
        augmented_us: cpu_us_per_call(images, |_| {
            data.example(0, &mut rng, true, &mut out);
        }),
    };
    let (mut x, mut y) = (vec![0i8; batch * out.len()], vec![0f32; batch]);
    let indices = vec![0usize; batch];
    let batches = images.div_ceil(batch).max(1);
    let t = Instant::now();
    for k in 0..batches {
        data.fill_batch(&indices, k as u64, true, &mut x, &mut y);
    }
    let batch_us = t.elapsed().as_secs_f64() * 1e6 / (batches * batch) as f64;
    Ok(DrivingPipeline { per_image, batch_us, batch, threads: rayon::current_num_threads() })
}

/// A driving recording loaded and split.
#[derive(Clone, Copy, Debug)]
pub struct DrivingSet {
    pub rows: usize,
    /// Rows with |steering| < 0.01.
    pub straight: usize,
    pub load_s: f64,
    pub train: usize,
    pub val: usize,
    /// One balanced epoch's rows of the training part.
    pub epoch: usize,
}

/// Loads the Udacity-format recording in `dir` (all three cameras) and splits it.
pub fn driving_set(dir: &Path) -> Result<DrivingSet> {
    let t = Instant::now();
    let data = DrivingData::load(&[dir], &DrivingOptions::new(pilotnet_input()))?;
    let load_s = t.elapsed().as_secs_f64();
    let split = data.split(&split_options())?;
    let epoch = data.epoch(&split.train, &Balance::default(), &mut Rng::new(1)).len();
    Ok(DrivingSet {
        rows: data.len(),
        straight: data.rows().iter().filter(|r| r.steering.abs() < 0.01).count(),
        load_s,
        train: split.train.len(),
        val: split.val.len(),
        epoch,
    })
}

/// Where a classification set comes from.
#[derive(Clone, Copy, Debug)]
pub enum ClassSource {
    /// The GTSRB training set, official layout.
    Gtsrb,
    /// One folder per class.
    ImageFolder,
    /// The CIFAR-10 binary batches (training part).
    CifarBinary,
}

/// A classification set loaded, split and run through the sign CNN's pipeline.
#[derive(Clone, Copy, Debug)]
pub struct ClassSet {
    pub images: usize,
    pub classes: usize,
    pub load_s: f64,
    pub train: usize,
    pub val: usize,
    pub per_image: PerImage,
}

/// Loads the set in `dir` at the sign CNN's input, splits it, and measures its pipeline over
/// `images` examples (cycling through the set).
pub fn class_set(source: ClassSource, dir: &Path, images: usize) -> Result<ClassSet> {
    let opts = ClassificationOptions::new(sign_input());
    let t = Instant::now();
    let data = match source {
        ClassSource::Gtsrb => ClassificationData::gtsrb(dir, &opts),
        ClassSource::ImageFolder => ClassificationData::image_folder(dir, &opts),
        ClassSource::CifarBinary => ClassificationData::cifar10(dir, CifarPart::Train, &opts),
    }?;
    let load_s = t.elapsed().as_secs_f64();
    anyhow::ensure!(data.len() > 0, "{}: no images", dir.display());
    let split = data.split(&split_options())?;
    let spec = *data.input();
    let pp = spec.preprocess.context("the sign CNN's input has preprocessing")?;
    let mut out = vec![0i8; spec.shape.len()];
    let mut rng = Rng::new(2);
    let per_image = PerImage {
        preprocess_us: cpu_us_per_call(images, |i| {
            preprocess_frame(&pp, spec.shape, data.frame(i % data.len()), &mut out).expect("stored frames fit the input")
        }),
        example_us: cpu_us_per_call(images, |i| {
            data.example(i % data.len(), &mut rng, false, &mut out);
        }),
        augmented_us: cpu_us_per_call(images, |i| {
            data.example(i % data.len(), &mut rng, true, &mut out);
        }),
    };
    Ok(ClassSet { images: data.len(), classes: data.num_classes(), load_s, train: split.train.len(), val: split.val.len(), per_image })
}

/// A one-row recording of three camera-like 320x160 JPEGs.
fn tiny_recording(dir: &Path) -> Result<()> {
    let (w, h) = (320u32, 160u32);
    let frame: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            [(x * 255 / w) as u8, (y * 255 / h) as u8, ((x ^ y) & 255) as u8]
        })
        .collect();
    std::fs::create_dir_all(dir.join("IMG"))?;
    for cam in ["center", "left", "right"] {
        image::save_buffer(dir.join(format!("IMG/{cam}.jpg")), &frame, w, h, image::ExtendedColorType::Rgb8)?;
    }
    std::fs::write(dir.join("driving_log.csv"), "center.jpg, left.jpg, right.jpg, 0.1, 0, 0, 0\n")?;
    Ok(())
}

/// CPU time this thread has used, in ns (Linux `schedstat`; 0 elsewhere).
fn thread_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    stat.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Microseconds of this thread's CPU time per call of `f(i)`, `i` in `0..n`.
fn cpu_us_per_call(n: usize, mut f: impl FnMut(usize)) -> f64 {
    let t = thread_cpu_ns();
    for i in 0..n {
        f(i);
    }
    (thread_cpu_ns() - t) as f64 / 1e3 / n.max(1) as f64
}
