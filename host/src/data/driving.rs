//! Driving data for PilotNet: recordings loaded and decoded into memory once, examples made by
//! augmenting a raw camera frame and running the model's `common` preprocessing on it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use common::format::InputSpec;

use crate::data::augment::{Camera, DriveTransform, DrivingAugment};
use crate::data::batch::with_scratch;
use crate::data::frame::{FrameStore, Image, ModelInput};
use crate::data::recording::{smooth, RecordingInfo};
use crate::data::split::{by_blocks, Split, SplitOptions};
use crate::data::udacity::{find_recordings, read_log, DrivingRow};
use crate::data::{Balance, Examples, Rng};

/// How to load driving data.
#[derive(Clone, Debug)]
pub struct DrivingOptions {
    /// The model input (e.g. `zoo::pilotnet_input()`): its frame size must be the recordings'.
    pub input: InputSpec,
    /// Keep only the first rows, in time order across recordings (quick experiments).
    pub max_rows: Option<usize>,
    /// Decode the left and right images too (3x the memory: 1,891 rows take 0.87 GB instead of
    /// 0.29 GB); the side-camera augmentation needs them.
    pub side_cameras: bool,
    /// Its `steering_correction` applies to recordings whose `recording.toml` gives none.
    pub augment: DrivingAugment,
    /// Rows averaged per steering label, for recordings whose `recording.toml` gives no
    /// `smooth_steering` (1: as recorded).
    pub smooth_steering: usize,
    /// Show a progress bar while decoding.
    pub progress: bool,
}

impl DrivingOptions {
    /// All rows, all cameras, default augmentation, with a progress bar.
    pub fn new(input: InputSpec) -> Self {
        DrivingOptions { input, max_rows: None, side_cameras: true, augment: DrivingAugment::default(), smooth_steering: 1, progress: true }
    }
}

/// Where a row's frames are in the frame store.
struct Frames {
    center: usize,
    /// Left and right, when both were recorded and loaded.
    sides: Option<[usize; 2]>,
}

/// How one recording's labels are used.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecordingSettings {
    pub side_correction: f32,
    pub smooth_steering: usize,
    /// Whether they came from the recording's `recording.toml` (else from the options).
    pub from_file: bool,
}

/// One or more driving recordings in memory, rows in time order.
pub struct DrivingData {
    recordings: Vec<PathBuf>,
    /// Per recording: its settings, as used.
    settings: Vec<RecordingSettings>,
    rows: Vec<DrivingRow>,
    frames: Vec<Frames>,
    store: FrameStore,
    input: ModelInput,
    augment: DrivingAugment,
}

impl DrivingData {
    /// Loads recordings: each of `dirs` is a recording folder or a folder holding several (see
    /// [`find_recordings`](crate::data::find_recordings)). Every row is checked and
    /// every image decoded (in parallel); any problem is an error naming the file and line.
    pub fn load<P: AsRef<Path>>(dirs: &[P], opts: &DrivingOptions) -> Result<DrivingData> {
        let input = ModelInput::new(&opts.input)?;
        let mut recordings = find_recordings(dirs)?;
        let mut rows = Vec::new();
        let mut settings = Vec::new();
        for (k, dir) in recordings.iter().enumerate() {
            let info = RecordingInfo::read(dir)?;
            let from_file = info.is_some();
            let info = info.unwrap_or_default();
            let s = RecordingSettings {
                side_correction: info.side_correction.unwrap_or(opts.augment.steering_correction),
                smooth_steering: info.smooth_steering.unwrap_or(opts.smooth_steering).max(1),
                from_file,
            };
            let mut log = read_log(dir, k)?;
            let mut steering: Vec<f32> = log.iter().map(|r| r.steering).collect();
            smooth(&mut steering, s.smooth_steering);
            log.iter_mut().zip(steering).for_each(|(r, v)| r.steering = v);
            rows.extend(log);
            settings.push(s);
            if opts.max_rows.is_some_and(|m| rows.len() >= m) {
                break;
            }
        }
        if let Some(max) = opts.max_rows {
            rows.truncate(max);
        }
        let Some(last) = rows.last() else {
            bail!("max_rows is 0: no rows to load");
        };
        recordings.truncate(last.recording + 1);
        settings.truncate(last.recording + 1);

        let mut paths: Vec<&Path> = Vec::new();
        let mut frames = Vec::with_capacity(rows.len());
        for r in &rows {
            paths.push(&r.center);
            let center = paths.len() - 1;
            let sides = match (&r.left, &r.right) {
                (Some(left), Some(right)) if opts.side_cameras => {
                    paths.extend([left.as_path(), right.as_path()]);
                    Some([center + 1, center + 2])
                }
                _ => None,
            };
            frames.push(Frames { center, sides });
        }
        let (w, h) = (input.pp.frame_w, input.pp.frame_h);
        let store = FrameStore::fill(w, h, &paths, "decoding frames", opts.progress, |path, frame| {
            let img = Image::decode(path)?;
            if (img.width, img.height) != (w, h) {
                bail!("{} is {}x{}, but the model input takes {w}x{h} frames", path.display(), img.width, img.height);
            }
            frame.copy_from_slice(&img.rgb);
            Ok(())
        })?;
        Ok(DrivingData { recordings, settings, rows, frames, store, input, augment: opts.augment.clone() })
    }

    /// The recording folders, indexed by [`DrivingRow::recording`].
    pub fn recordings(&self) -> &[PathBuf] {
        &self.recordings
    }

    /// The side correction and smoothing of each recording, as used.
    pub fn settings(&self) -> &[RecordingSettings] {
        &self.settings
    }

    /// Rows as loaded (steering smoothed where the recording's settings say so).
    pub fn rows(&self) -> &[DrivingRow] {
        &self.rows
    }

    /// The decoded RGB888 frame of row `index` from `camera`, if it was recorded and loaded.
    pub fn frame(&self, index: usize, camera: Camera) -> Option<&[u8]> {
        let f = &self.frames[index];
        let slot = match camera {
            Camera::Center => Some(f.center),
            Camera::Left => f.sides.map(|s| s[0]),
            Camera::Right => f.sides.map(|s| s[1]),
        };
        slot.map(|s| self.store.get(s))
    }

    /// A leak-free split by contiguous blocks of rows (see [`SplitOptions`]).
    pub fn split(&self, opts: &SplitOptions) -> Result<Split> {
        let recordings: Vec<usize> = self.rows.iter().map(|r| r.recording).collect();
        by_blocks(&recordings, opts)
    }

    /// One training epoch: `rows` (the training split) balanced and shuffled (see [`Balance`]).
    pub fn epoch(&self, rows: &[usize], balance: &Balance, rng: &mut Rng) -> Vec<usize> {
        balance.epoch(rows, |i| self.rows[i].steering, rng)
    }

    /// Makes the example of row `index` under transform `t` and returns its steering.
    fn render(&self, index: usize, t: &DriveTransform, out: &mut [i8]) -> f32 {
        let src = self.frame(index, t.camera).expect("side cameras are drawn only for rows that have them");
        let (pp, w, h) = (&self.input.pp, self.store.width() as usize, self.store.height() as usize);
        // Only the rows the crop reads are transformed: half the work for PilotNet's crop.
        let rows = pp.crop.y as usize..(pp.crop.y + pp.crop.h) as usize;
        with_scratch(src.len(), |frame| {
            t.apply(src, w, h, rows, pp.format, frame);
            self.input.make_input(frame, out);
        });
        let row = &self.rows[index];
        t.steering(row.steering, self.settings[row.recording].side_correction, &self.augment)
    }
}

impl Examples for DrivingData {
    type Target = f32;

    fn len(&self) -> usize {
        self.rows.len()
    }

    fn input(&self) -> &InputSpec {
        &self.input.spec
    }

    /// The steering of the (possibly augmented) frame.
    fn example(&self, index: usize, rng: &mut Rng, augment: bool, out: &mut [i8]) -> f32 {
        let t = match augment {
            true => DriveTransform::draw(&self.augment, self.frames[index].sides.is_some(), rng),
            false => DriveTransform::IDENTITY,
        };
        self.render(index, &t, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil::{gradient, write_image};
    use common::format::QParams;
    use common::preprocess::{preprocess_frame, to_rgb565, ColorMode, PixelFormat, Preprocess, Rect};
    use common::Shape;

    const W: u16 = 32;
    const H: u16 = 16;

    /// A PilotNet-like input for small frames: rows 4..12 cropped, resized to 6x16, YUV.
    fn spec(format: PixelFormat) -> InputSpec {
        InputSpec {
            shape: Shape::new(6, 16, 3),
            quant: QParams { scale_exp: -7, zero_point: 0 },
            preprocess: Some(Preprocess { frame_w: W, frame_h: H, format, crop: Rect { x: 0, y: 4, w: W, h: 8 }, color: ColorMode::Yuv }),
        }
    }

    fn options(format: PixelFormat) -> DrivingOptions {
        DrivingOptions { progress: false, ..DrivingOptions::new(spec(format)) }
    }

    /// The frame of camera `cam` at row `row`: a gradient with a per-image offset.
    fn image(row: usize, cam: usize) -> Vec<u8> {
        gradient(W as usize, H as usize).iter().map(|&v| v.wrapping_add((row * 3 + cam) as u8 * 5)).collect()
    }

    /// A recording with `steering.len()` rows; images are lossless PNGs (named .png).
    fn recording(dir: &Path, steering: &[f32]) {
        let mut log = String::new();
        for (row, s) in steering.iter().enumerate() {
            let names = ["center", "left", "right"].map(|c| format!("{c}_{row}.png"));
            for (cam, name) in names.iter().enumerate() {
                write_image(&dir.join("IMG").join(name), &image(row, cam), W as u32, H as u32);
            }
            log += &format!("C:\\rec\\IMG\\{}, C:\\rec\\IMG\\{}, C:\\rec\\IMG\\{}, {s}, 0.5, 0, 30\n", names[0], names[1], names[2]);
        }
        std::fs::write(dir.join("driving_log.csv"), log).unwrap();
    }

    fn chip_input(spec: &InputSpec, frame: &[u8]) -> Vec<i8> {
        let mut out = vec![0i8; spec.shape.len()];
        preprocess_frame(spec.preprocess.as_ref().unwrap(), spec.shape, frame, &mut out).unwrap();
        out
    }

    #[test]
    fn loads_recordings_and_makes_the_chips_inputs() {
        let tmp = tempfile::tempdir().unwrap();
        recording(&tmp.path().join("runs/a"), &[0.0, 0.1, -0.2]);
        recording(&tmp.path().join("runs/b"), &[0.3, 0.0]);
        let data = DrivingData::load(&[tmp.path().join("runs")], &options(PixelFormat::Rgb888)).unwrap();
        assert_eq!(data.len(), 5);
        assert_eq!(data.recordings().len(), 2);
        assert_eq!(data.rows()[3].recording, 1);
        assert_eq!(data.frame(1, Camera::Left).unwrap(), image(1, 1));
        let mut out = vec![0i8; data.input().shape.len()];
        for i in 0..data.len() {
            let steering = data.example(i, &mut Rng::new(0), false, &mut out);
            assert_eq!(steering, data.rows()[i].steering);
            assert_eq!(out, chip_input(&spec(PixelFormat::Rgb888), data.frame(i, Camera::Center).unwrap()), "row {i}");
        }
    }

    #[test]
    fn rgb565_inputs_match_the_chip_on_565_frames() {
        let tmp = tempfile::tempdir().unwrap();
        recording(tmp.path(), &[0.0]);
        let spec565 = spec(PixelFormat::Rgb565Be);
        let data = DrivingData::load(&[tmp.path()], &options(PixelFormat::Rgb565Be)).unwrap();
        let mut out = vec![0i8; spec565.shape.len()];
        data.example(0, &mut Rng::new(0), false, &mut out);
        let frame565: Vec<u8> = image(0, 0).chunks(3).flat_map(|p| to_rgb565([p[0], p[1], p[2]]).to_be_bytes()).collect();
        assert_eq!(out, chip_input(&spec565, &frame565));
    }

    #[test]
    fn transforms_pick_cameras_and_change_labels() {
        let tmp = tempfile::tempdir().unwrap();
        recording(tmp.path(), &[0.1]);
        let data = DrivingData::load(&[tmp.path()], &options(PixelFormat::Rgb888)).unwrap();
        let mut out = vec![0i8; data.input().shape.len()];
        let left = DriveTransform { camera: Camera::Left, ..DriveTransform::IDENTITY };
        assert!((data.render(0, &left, &mut out) - 0.3).abs() < 1e-6);
        assert_eq!(out, chip_input(&spec(PixelFormat::Rgb888), &image(0, 1)));
        let flipped = DriveTransform { flip: true, ..DriveTransform::IDENTITY };
        assert_eq!(data.render(0, &flipped, &mut out), -0.1);
        // Augmented examples repeat with the seed and vary without it.
        let draw = |seed| {
            let mut out = vec![0i8; data.input().shape.len()];
            let s = data.example(0, &mut Rng::new(seed), true, &mut out);
            (s, out)
        };
        assert_eq!(draw(3), draw(3));
        assert!((0..8).any(|seed| draw(seed) != draw(3)));
    }

    #[test]
    fn each_recording_keeps_its_own_correction_and_smoothing() {
        let tmp = tempfile::tempdir().unwrap();
        // "a" describes itself; "b" takes the options' values.
        recording(&tmp.path().join("runs/a"), &[0.0, 0.3, 0.0, 0.0]);
        recording(&tmp.path().join("runs/b"), &[0.1, 0.0]);
        let info = RecordingInfo { source: None, side_correction: Some(0.3), smooth_steering: Some(3) };
        info.write(&tmp.path().join("runs/a")).unwrap();
        let mut opts = options(PixelFormat::Rgb888);
        opts.augment.steering_correction = 0.15;
        let data = DrivingData::load(&[tmp.path().join("runs")], &opts).unwrap();
        assert_eq!(data.settings()[0], RecordingSettings { side_correction: 0.3, smooth_steering: 3, from_file: true });
        assert_eq!(data.settings()[1], RecordingSettings { side_correction: 0.15, smooth_steering: 1, from_file: false });
        let steering: Vec<f32> = data.rows().iter().map(|r| r.steering).collect();
        let want = [0.15, 0.1, 0.1, 0.0, 0.1, 0.0];
        assert!(steering.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "smoothed within recording a only: {steering:?}");
        let mut out = vec![0i8; data.input().shape.len()];
        let left = DriveTransform { camera: Camera::Left, ..DriveTransform::IDENTITY };
        assert!((data.render(1, &left, &mut out) - (0.1 + 0.3)).abs() < 1e-6, "a's own correction");
        assert!((data.render(4, &left, &mut out) - (0.1 + 0.15)).abs() < 1e-6, "the options' correction");
        // A broken recording.toml stops the load and names the file.
        std::fs::write(tmp.path().join("runs/b/recording.toml"), "smooth_steering = 2").unwrap();
        let err = format!("{:#}", DrivingData::load(&[tmp.path().join("runs")], &opts).err().unwrap());
        assert!(err.contains("runs/b/recording.toml"), "{err}");
    }

    #[test]
    fn batches_are_parallel_but_reproducible() {
        let tmp = tempfile::tempdir().unwrap();
        recording(tmp.path(), &[0.0, 0.5, -0.5, 0.2]);
        let data = DrivingData::load(&[tmp.path()], &options(PixelFormat::Rgb888)).unwrap();
        let n = data.input().shape.len();
        let indices = [3, 1, 1, 0, 2];
        let (mut x, mut y) = (vec![0i8; 5 * n], vec![0f32; 5]);
        data.fill_batch(&indices, 42, true, &mut x, &mut y);
        for (k, &i) in indices.iter().enumerate() {
            let mut one = vec![0i8; n];
            assert_eq!(data.example(i, &mut Rng::keyed(42, k as u64), true, &mut one), y[k]);
            assert_eq!(one, x[k * n..(k + 1) * n]);
        }
    }

    #[test]
    fn max_rows_split_and_epoch() {
        let tmp = tempfile::tempdir().unwrap();
        recording(&tmp.path().join("a"), &[0.0; 6]);
        recording(&tmp.path().join("b"), &[0.5; 6]);
        let opts = DrivingOptions { max_rows: Some(4), side_cameras: false, ..options(PixelFormat::Rgb888) };
        let data = DrivingData::load(&[tmp.path()], &opts).unwrap();
        assert_eq!((data.len(), data.recordings().len()), (4, 1));
        assert!(data.frame(0, Camera::Left).is_none());
        let data = DrivingData::load(&[tmp.path()], &options(PixelFormat::Rgb888)).unwrap();
        let split = data.split(&SplitOptions { val_fraction: 0.5, seed: 0, block_rows: 3, guard_rows: 0 }).unwrap();
        assert_eq!(split.val.len(), 6);
        let epoch = data.epoch(&split.train, &Balance { straight_below: 0.01, keep_straight: 0.0 }, &mut Rng::new(0));
        assert!(epoch.iter().all(|&i| data.rows()[i].steering == 0.5 && split.train.contains(&i)));
    }

    #[test]
    fn wrong_frame_size_names_the_image() {
        let tmp = tempfile::tempdir().unwrap();
        recording(tmp.path(), &[0.0, 0.0]);
        write_image(&tmp.path().join("IMG/right_1.png"), &gradient(8, 8), 8, 8);
        let err = DrivingData::load(&[tmp.path()], &options(PixelFormat::Rgb888)).err().unwrap().to_string();
        assert!(err.contains("right_1.png is 8x8") && err.contains("32x16"), "{err}");
    }
}
