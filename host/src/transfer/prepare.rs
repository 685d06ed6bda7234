//! The input preparation a foreign image network was trained with: the value each pixel
//! becomes (`x = (v * scale - mean[c]) / std[c]` for the 8-bit channel value `v`), the channel
//! order (RGB or BGR) and, from the graph, the layout (NCHW or NHWC).
//!
//! The pixels come from the data loaders as for any pilot model: the image resized to the
//! network's input size by `common` preprocessing, as int8 `q = v - 128`. The float values are
//! made here, after the loaders, so the loaders stay the chip's.

use anyhow::{bail, ensure, Result};
use serde::{Deserialize, Serialize};

use crate::onnx::foreign::{Geometry, Layout};

/// Preparations named after the training setups that use them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// RGB, `(v / 255 - mean) / std` with ImageNet's mean (0.485, 0.456, 0.406) and std
    /// (0.229, 0.224, 0.225): torchvision models and the ONNX model zoo's ResNet, VGG,
    /// MobileNet, DenseNet.
    Imagenet,
    /// BGR, `v - mean` with the BVLC mean (104, 117, 123) in B, G, R order, on the 0..255
    /// range: Caffe-trained networks (the ONNX model zoo's bvlcalexnet, caffenet, googlenet).
    Caffe,
    /// RGB, `v / 127.5 - 1`: Keras' MobileNet, Inception, Xception.
    Tf,
    /// RGB, `v / 255` (the default when nothing is said).
    Unit,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Imagenet => "imagenet",
            Preset::Caffe => "caffe",
            Preset::Tf => "tf",
            Preset::Unit => "unit",
        }
    }

    /// The preset for a 3-channel input.
    pub fn preparation(self) -> Preparation {
        let (scale, mean, std, bgr) = match self {
            Preset::Imagenet => (1.0 / 255.0, vec![0.485, 0.456, 0.406], vec![0.229, 0.224, 0.225], false),
            Preset::Caffe => (1.0, vec![104.0, 117.0, 123.0], vec![1.0], true),
            Preset::Tf => (1.0 / 127.5, vec![1.0], vec![1.0], false),
            Preset::Unit => (1.0 / 255.0, vec![0.0], vec![1.0], false),
        };
        Preparation { scale, mean, std, bgr }
    }
}

/// What the user asked for: a preset and the values that replace its own.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PrepareOptions {
    pub preset: Option<Preset>,
    pub scale: Option<f32>,
    /// One value for every channel, or one per channel in the network's order (B, G, R with
    /// `bgr`).
    pub mean: Option<Vec<f32>>,
    pub std: Option<Vec<f32>>,
    /// Swap the channels to B, G, R.
    pub bgr: bool,
}

/// Pixel value -> network value: `x = (v * scale - mean[c]) / std[c]`, channels reordered to
/// B, G, R first when `bgr`. `mean` and `std` have one value (for every channel) or one per
/// channel in the network's order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Preparation {
    pub scale: f32,
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    pub bgr: bool,
}

impl PrepareOptions {
    /// The preparation for an input of `channels` (1 or 3) channels.
    pub fn resolve(&self, channels: u16) -> Result<Preparation> {
        let mut p = self.preset.unwrap_or(Preset::Unit).preparation();
        if let Some(s) = self.scale {
            p.scale = s;
        }
        if let Some(m) = &self.mean {
            p.mean = m.clone();
        }
        if let Some(s) = &self.std {
            p.std = s.clone();
        }
        p.bgr |= self.bgr;
        if channels == 1 {
            ensure!(!self.bgr, "--bgr: the network takes one (grey) channel");
            // A colour preset on a grey input: the mean of its channel values.
            let one = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
            if self.mean.is_none() {
                p.mean = vec![one(&p.mean)];
            }
            if self.std.is_none() {
                p.std = vec![one(&p.std)];
            }
            p.bgr = false;
        }
        for (flag, v) in [("--mean", &p.mean), ("--std", &p.std)] {
            ensure!(
                v.len() == 1 || v.len() == channels as usize,
                "{flag} has {} values; the network takes {channels} channel(s): give 1 or {channels}",
                v.len()
            );
            ensure!(v.iter().all(|x| x.is_finite()), "{flag} must be finite numbers");
        }
        ensure!(p.scale.is_finite() && p.scale != 0.0, "--scale must be a finite, non-zero number");
        if p.std.contains(&0.0) {
            bail!("--std must not be 0");
        }
        Ok(p)
    }
}

impl Preparation {
    fn at(v: &[f32], c: usize) -> f32 {
        if v.len() == 1 {
            v[0]
        } else {
            v[c]
        }
    }

    /// Appends the network input for one image of `g` given as int8 `q = v - 128`, HWC in
    /// R, G, B order (or grey), as the data loaders make it.
    pub fn apply(&self, g: &Geometry, hwc: &[i8], out: &mut Vec<f32>) {
        let (h, w, c) = (g.height as usize, g.width as usize, g.channels as usize);
        assert_eq!(hwc.len(), h * w * c, "one image of {h}x{w}x{c}");
        let value = |p: usize, ch: usize| {
            // The network's channel ch is the pixel's channel `src`.
            let src = if self.bgr { c - 1 - ch } else { ch };
            let v = (hwc[p * c + src] as i16 + 128) as f32;
            (v * self.scale - Self::at(&self.mean, ch)) / Self::at(&self.std, ch)
        };
        match g.layout {
            Layout::Nchw => {
                for ch in 0..c {
                    out.extend((0..h * w).map(|p| value(p, ch)));
                }
            }
            Layout::Nhwc => {
                for p in 0..h * w {
                    out.extend((0..c).map(|ch| value(p, ch)));
                }
            }
        }
    }

    /// One line: `x = (v * 0.003922 - mean) / std, mean (0.485, ...), std (...), RGB`.
    pub fn describe(&self) -> String {
        let list = |v: &[f32]| v.iter().map(|x| format!("{x}")).collect::<Vec<_>>().join(", ");
        format!(
            "x = (v * {} - mean) / std for pixel values v in 0..255, mean ({}), std ({}), {}",
            self.scale,
            list(&self.mean),
            list(&self.std),
            if self.bgr { "BGR" } else { "RGB" }
        )
    }

    /// Exact text of every number (for cache keys: two preparations differ in their keys
    /// exactly when they compute different inputs).
    pub fn key(&self) -> String {
        let bits = |v: &[f32]| v.iter().map(|x| format!("{:08x}", x.to_bits())).collect::<Vec<_>>().join(",");
        format!("scale {:08x} mean {} std {} bgr {}", self.scale.to_bits(), bits(&self.mean), bits(&self.std), self.bgr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_overrides() {
        let imagenet = PrepareOptions { preset: Some(Preset::Imagenet), ..Default::default() }.resolve(3).unwrap();
        assert_eq!(imagenet.mean, [0.485, 0.456, 0.406]);
        assert!(!imagenet.bgr);
        let caffe = PrepareOptions { preset: Some(Preset::Caffe), ..Default::default() }.resolve(3).unwrap();
        assert!(caffe.bgr && caffe.scale == 1.0);
        let mine = PrepareOptions { preset: Some(Preset::Imagenet), mean: Some(vec![0.5]), bgr: true, ..Default::default() }.resolve(3).unwrap();
        assert_eq!((mine.mean.as_slice(), mine.std.as_slice(), mine.bgr), (&[0.5][..], &[0.229, 0.224, 0.225][..], true));
        let default = PrepareOptions::default().resolve(3).unwrap();
        assert_eq!(default, Preset::Unit.preparation());
        let grey = PrepareOptions { preset: Some(Preset::Imagenet), ..Default::default() }.resolve(1).unwrap();
        assert!((grey.mean[0] - 0.449).abs() < 1e-6 && grey.mean.len() == 1);
        for bad in [
            PrepareOptions { mean: Some(vec![1.0, 2.0]), ..Default::default() },
            PrepareOptions { std: Some(vec![0.0]), ..Default::default() },
            PrepareOptions { scale: Some(0.0), ..Default::default() },
        ] {
            assert!(bad.resolve(3).is_err(), "{bad:?}");
        }
        assert!(PrepareOptions { bgr: true, ..Default::default() }.resolve(1).is_err());
        assert_ne!(imagenet.key(), mine.key());
        assert_ne!(Preset::Unit.preparation().key(), Preparation { bgr: true, ..Preset::Unit.preparation() }.key());
    }

    #[test]
    fn applies_per_channel_in_either_layout_and_order() {
        // A 1x2 image: pixel 0 is (10, 20, 30), pixel 1 is (40, 50, 60).
        let q: Vec<i8> = [10u8, 20, 30, 40, 50, 60].iter().map(|&v| (v as i16 - 128) as i8).collect();
        let p = Preparation { scale: 0.5, mean: vec![1.0, 2.0, 3.0], std: vec![1.0, 2.0, 4.0], bgr: true };
        let nchw = Geometry { layout: Layout::Nchw, height: 1, width: 2, channels: 3 };
        let mut out = Vec::new();
        p.apply(&nchw, &q, &mut out);
        // Network channel 0 is blue (30, 60), 1 green (20, 50), 2 red (10, 40).
        let want = [(15.0 - 1.0) / 1.0, (30.0 - 1.0) / 1.0, (10.0 - 2.0) / 2.0, (25.0 - 2.0) / 2.0, (5.0 - 3.0) / 4.0, (20.0 - 3.0) / 4.0];
        assert_eq!(out, want);
        let nhwc = Geometry { layout: Layout::Nhwc, ..nchw };
        let mut out = Vec::new();
        p.apply(&nhwc, &q, &mut out);
        assert_eq!(out, [want[0], want[2], want[4], want[1], want[3], want[5]]);
    }
}
