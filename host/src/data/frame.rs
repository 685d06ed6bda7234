//! Decoded RGB888 frames: decoding image files, keeping many equal-size frames in memory, and
//! the bridge into `common` preprocessing (the only way pixels become network inputs).

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use common::format::InputSpec;
use common::preprocess::{preprocess_frame, ColorMode, PixelFormat, Preprocess, Rect};
use common::Shape;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

/// An RGB888 image of any size, as decoded from a file.
#[derive(Clone, Debug)]
pub struct Image {
    pub width: u16,
    pub height: u16,
    /// Rows top to bottom, 3 bytes (R, G, B) per pixel.
    pub rgb: Vec<u8>,
}

impl Image {
    /// Decodes any format the `image` crate reads here (JPEG, PNG, GIF, PPM), by content, not by
    /// file extension.
    pub fn decode(path: &Path) -> Result<Image> {
        let img = image::ImageReader::open(path)
            .with_context(|| format!("cannot open image {}", path.display()))?
            .with_guessed_format()
            .with_context(|| format!("cannot read image {}", path.display()))?
            .decode()
            .map_err(|e| anyhow!("cannot decode image {}: {e}", path.display()))?
            .into_rgb8();
        let (w, h) = img.dimensions();
        let too_big = || anyhow!("image {} is {w}x{h}: larger than 65535 pixels on a side", path.display());
        Ok(Image { width: u16::try_from(w).map_err(|_| too_big())?, height: u16::try_from(h).map_err(|_| too_big())?, rgb: img.into_raw() })
    }

    /// Crops to `crop` and resizes to `w x h` RGB888 through `common` preprocessing, exactly as
    /// the chip resizes a camera frame (so a data set stored at the model's frame size holds the
    /// pixels the chip would see).
    pub fn resize_into(&self, crop: Rect, w: u16, h: u16, out: &mut [u8]) -> Result<()> {
        let pp = Preprocess { frame_w: self.width, frame_h: self.height, format: PixelFormat::Rgb888, crop, color: ColorMode::Rgb };
        let mut q = vec![0i8; out.len()];
        preprocess_frame(&pp, Shape::new(h, w, 3), &self.rgb, &mut q)?;
        for (o, v) in out.iter_mut().zip(q) {
            *o = (v as i16 + 128) as u8;
        }
        Ok(())
    }
}

/// Many RGB888 frames of one size in a single allocation: no per-image heap block, and a frame
/// is a slice.
pub struct FrameStore {
    width: u16,
    height: u16,
    bytes: Vec<u8>,
}

impl FrameStore {
    /// Makes `items.len()` frames of `width x height`, frame `i` written by `fill(&items[i], ..)`,
    /// on all cores, with a progress bar labelled `label` when `progress` is set. Decoding is
    /// the slow part of loading a data set (seconds for thousands of JPEGs).
    pub fn fill<T: Sync>(
        width: u16,
        height: u16,
        items: &[T],
        label: &str,
        progress: bool,
        fill: impl Fn(&T, &mut [u8]) -> Result<()> + Sync,
    ) -> Result<FrameStore> {
        let frame_bytes = width as usize * height as usize * 3;
        let mut bytes = vec![0u8; frame_bytes * items.len()];
        let bar = progress_bar(items.len(), label, progress);
        bytes.par_chunks_mut(frame_bytes.max(1)).zip(items.par_iter()).try_for_each(|(frame, item)| {
            fill(item, frame)?;
            bar.inc(1);
            Ok::<(), anyhow::Error>(())
        })?;
        bar.finish_and_clear();
        Ok(FrameStore { width, height, bytes })
    }

    pub fn width(&self) -> u16 {
        self.width
    }

    pub fn height(&self) -> u16 {
        self.height
    }

    /// Frame `i`: `width * height * 3` bytes.
    pub fn get(&self, i: usize) -> &[u8] {
        let n = self.width as usize * self.height as usize * 3;
        &self.bytes[i * n..(i + 1) * n]
    }
}

/// A progress bar with ETA on stderr, or a hidden one.
fn progress_bar(len: usize, label: &str, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    let style = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}").map(|s| s.progress_chars("=> "));
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar.set_message(label.to_string());
    bar
}

/// The camera side of a model input: the frame size and format it takes and how it becomes
/// the input tensor. Checked once at load, so making an example cannot fail.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ModelInput {
    pub spec: InputSpec,
    pub pp: Preprocess,
}

impl ModelInput {
    pub fn new(spec: &InputSpec) -> Result<ModelInput> {
        let Some(pp) = spec.preprocess else {
            bail!("the model input has no camera preprocessing (InputSpec::preprocess is None)");
        };
        if !pp.crop_fits_frame() || spec.shape.is_empty() || spec.shape.c != pp.color.channels() {
            bail!(
                "the model input's preprocessing does not fit: crop {:?} in a {}x{} frame to {:?} with {:?}",
                pp.crop,
                pp.frame_w,
                pp.frame_h,
                spec.shape,
                pp.color
            );
        }
        Ok(ModelInput { spec: *spec, pp })
    }

    /// Bytes of one input tensor.
    pub fn input_len(&self) -> usize {
        self.spec.shape.len()
    }

    /// Preprocesses an RGB888 frame of the model's frame size whose pixels already have the
    /// camera's bit depth (see `augment::Tone`): for an RGB565 camera, each channel value is one
    /// the 565 -> 888 widening can give, and the widening is then the identity, so treating the
    /// frame as RGB888 gives the bytes the chip computes from the 565 frame.
    pub fn make_input(&self, rgb888: &[u8], out: &mut [i8]) {
        assert_eq!(out.len(), self.input_len(), "input buffer length must be the model input's {:?}", self.spec.shape);
        let pp = Preprocess { format: PixelFormat::Rgb888, ..self.pp };
        // Frame length, crop and shape were checked in `new` and by the frame stores.
        preprocess_frame(&pp, self.spec.shape, rgb888, out).expect("frame and spec checked at load");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil;

    #[test]
    fn decodes_by_content_and_reports_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let img = testutil::gradient(8, 4);
        // A PNG saved under a .jpg name still decodes: the format is guessed from the bytes.
        let path = dir.path().join("a.jpg");
        image::save_buffer_with_format(&path, &img, 8, 4, image::ExtendedColorType::Rgb8, image::ImageFormat::Png).unwrap();
        let got = Image::decode(&path).unwrap();
        assert_eq!((got.width, got.height), (8, 4));
        assert_eq!(got.rgb, img);
        let bad = dir.path().join("bad.jpg");
        std::fs::write(&bad, b"not an image").unwrap();
        let err = Image::decode(&bad).unwrap_err().to_string();
        assert!(err.contains("bad.jpg"), "{err}");
        let err = Image::decode(&dir.path().join("missing.png")).unwrap_err().to_string();
        assert!(err.contains("missing.png"), "{err}");
    }

    #[test]
    fn resize_of_whole_image_to_its_own_size_is_identity() {
        let img = Image { width: 5, height: 3, rgb: testutil::gradient(5, 3) };
        let mut out = vec![0u8; 5 * 3 * 3];
        img.resize_into(Rect { x: 0, y: 0, w: 5, h: 3 }, 5, 3, &mut out).unwrap();
        assert_eq!(out, img.rgb);
    }

    #[test]
    fn store_fills_in_order_and_stops_at_the_first_error() {
        let items: Vec<u8> = (0..40).collect();
        let store = FrameStore::fill(2, 1, &items, "test", false, |&v, f| {
            f.fill(v);
            Ok(())
        })
        .unwrap();
        assert_eq!(store.get(17), &[17; 6]);
        let err = FrameStore::fill(2, 1, &items, "test", false, |&v, _| if v == 30 { bail!("item 30 is bad") } else { Ok(()) });
        assert!(err.is_err_and(|e| e.to_string() == "item 30 is bad"));
    }
}
