//! Image classification data (GTSRB, image folders, CIFAR-10) held at the model's frame size.
//!
//! Each image is cropped (GTSRB: to its sign's region of interest) and resized to the model's
//! frame size once, at load, by `common` preprocessing: the stored frame is what the chip's
//! camera pipeline would hand the network (a 32x32 sign crop for `zoo::sign_input()`). An
//! example augments that frame and runs the model's preprocessing on it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use common::format::InputSpec;
use common::preprocess::Rect;

use crate::data::augment::{ImageAugment, ImageTransform};
use crate::data::batch::with_scratch;
use crate::data::cifar::{self, CifarPart};
use crate::data::frame::{FrameStore, Image, ModelInput};
use crate::data::split::{by_group, Split, SplitOptions};
use crate::data::{gtsrb, image_folder, Examples, Rng};

/// How to load a classification set.
#[derive(Clone, Debug)]
pub struct ClassificationOptions {
    /// The model input (e.g. `zoo::sign_input()`): images are stored at its frame size.
    pub input: InputSpec,
    pub augment: ImageAugment,
    /// Show a progress bar while decoding.
    pub progress: bool,
}

impl ClassificationOptions {
    /// Default (traffic-sign) augmentation, with a progress bar.
    pub fn new(input: InputSpec) -> Self {
        ClassificationOptions { input, augment: ImageAugment::default(), progress: true }
    }
}

/// An image file to load, with its label.
pub(crate) struct LabeledFile {
    pub path: PathBuf,
    pub label: u16,
    /// Files of one group are never split between training and validation (a GTSRB track);
    /// `None`: the image is its own group.
    pub group: Option<u64>,
    /// The part of the image to keep; `None`: all of it.
    pub roi: Option<Roi>,
}

/// A region of interest from an annotation file.
pub(crate) struct Roi {
    pub rect: Rect,
    /// The image size the annotation states (the region is only valid for that size).
    pub width: u16,
    pub height: u16,
    /// `file:line` of the annotation, for errors.
    pub at: String,
}

/// Labeled images in memory, at the model's frame size.
pub struct ClassificationData {
    class_names: Vec<String>,
    labels: Vec<u16>,
    groups: Vec<u64>,
    store: FrameStore,
    input: ModelInput,
    augment: ImageAugment,
}

impl ClassificationData {
    /// The GTSRB training set in its official layout: `root` is the folder holding
    /// `Final_Training/Images/000CC/` (or that `Images` folder itself). Images are cropped to
    /// their region of interest; the split groups them by (class, track).
    pub fn gtsrb(root: &Path, opts: &ClassificationOptions) -> Result<Self> {
        Self::from_files(gtsrb::training_files(root)?, gtsrb::class_names(), opts)
    }

    /// The GTSRB test set: a folder of images with one labeled GT CSV (`GT-final_test.csv`),
    /// or that CSV's path. Every image is its own split group.
    pub fn gtsrb_test(path: &Path, opts: &ClassificationOptions) -> Result<Self> {
        Self::from_files(gtsrb::test_files(path)?, gtsrb::class_names(), opts)
    }

    /// One subfolder per class (classes sorted by folder name), each image resized whole.
    pub fn image_folder(root: &Path, opts: &ClassificationOptions) -> Result<Self> {
        let (class_names, files) = image_folder::files(root)?;
        Self::from_files(files, class_names, opts)
    }

    /// The CIFAR-10 binary batches in `dir` (`data_batch_1.bin`..`data_batch_5.bin` for
    /// training, `test_batch.bin` for test).
    pub fn cifar10(dir: &Path, part: CifarPart, opts: &ClassificationOptions) -> Result<Self> {
        let set = cifar::read(dir, part)?;
        let input = ModelInput::new(&opts.input)?;
        let whole = Rect { x: 0, y: 0, w: cifar::SIDE, h: cifar::SIDE };
        let records: Vec<usize> = (0..set.labels.len()).collect();
        let store = FrameStore::fill(input.pp.frame_w, input.pp.frame_h, &records, "converting images", opts.progress, |&i, frame| {
            let img = Image { width: cifar::SIDE, height: cifar::SIDE, rgb: set.image(i).to_vec() };
            img.resize_into(whole, input.pp.frame_w, input.pp.frame_h, frame)
        })?;
        let labels: Vec<u16> = set.labels.iter().map(|&l| l as u16).collect();
        let groups = (0..labels.len() as u64).collect();
        Ok(ClassificationData { class_names: set.class_names, labels, groups, store, input, augment: opts.augment.clone() })
    }

    fn from_files(files: Vec<LabeledFile>, class_names: Vec<String>, opts: &ClassificationOptions) -> Result<Self> {
        let input = ModelInput::new(&opts.input)?;
        let (w, h) = (input.pp.frame_w, input.pp.frame_h);
        let store = FrameStore::fill(w, h, &files, "decoding images", opts.progress, |file, frame| {
            let img = Image::decode(&file.path)?;
            let crop = match &file.roi {
                Some(roi) if (img.width, img.height) != (roi.width, roi.height) => {
                    bail!("{}: {} is {}x{}, but the annotation says {}x{}", roi.at, file.path.display(), img.width, img.height, roi.width, roi.height)
                }
                Some(roi) => roi.rect,
                None => Rect { x: 0, y: 0, w: img.width, h: img.height },
            };
            img.resize_into(crop, w, h, frame)
        })?;
        let labels = files.iter().map(|f| f.label).collect();
        // Own groups for ungrouped images, disjoint from any annotated group id (< 2^63).
        let groups = files.iter().enumerate().map(|(i, f)| f.group.unwrap_or(1 << 63 | i as u64)).collect();
        Ok(ClassificationData { class_names, labels, groups, store, input, augment: opts.augment.clone() })
    }

    /// Number of classes the model must output (labels are `0..num_classes()`).
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    pub fn labels(&self) -> &[u16] {
        &self.labels
    }

    /// The stored RGB888 frame of image `index` (the model's frame size).
    pub fn frame(&self, index: usize) -> &[u8] {
        self.store.get(index)
    }

    /// A leak-free split (by track for GTSRB, by image otherwise; see [`SplitOptions`]).
    pub fn split(&self, opts: &SplitOptions) -> Result<Split> {
        by_group(&self.groups, opts)
    }
}

impl Examples for ClassificationData {
    type Target = u16;

    fn len(&self) -> usize {
        self.labels.len()
    }

    fn input(&self) -> &InputSpec {
        &self.input.spec
    }

    /// The class of the image.
    fn example(&self, index: usize, rng: &mut Rng, augment: bool, out: &mut [i8]) -> u16 {
        let t = match augment {
            true => ImageTransform::draw(&self.augment, rng),
            false => ImageTransform::IDENTITY,
        };
        let src = self.store.get(index);
        let (w, h) = (self.store.width() as usize, self.store.height() as usize);
        with_scratch(src.len(), |frame| {
            t.apply(src, w, h, self.input.pp.format, frame);
            self.input.make_input(frame, out);
        });
        self.labels[index]
    }
}
