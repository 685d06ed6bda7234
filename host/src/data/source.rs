//! Where a data set comes from and how it is opened: its kind ([`DataKind`], recorded with a
//! training run), the label settings of driving recordings ([`LabelDefaults`]), and the one
//! way to load either kind for a model input ([`open`]).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use common::format::InputSpec;
use serde::{Deserialize, Serialize};

use super::{CifarPart, ClassificationData, ClassificationOptions, DrivingAugment, DrivingData, DrivingOptions, ImageAugment, Split, SplitOptions};

/// The kind of a data set, detected from its layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DataKind {
    /// Udacity-format driving recordings (`driving_log.csv` + `IMG/`).
    Driving,
    /// GTSRB's official training layout (per-class folders with `GT-*.csv` and regions of
    /// interest).
    Gtsrb,
    /// GTSRB's official test layout (`Final_Test/Images/*.ppm` with `GT-final_test.csv`).
    GtsrbTest,
    /// One folder per class.
    Images,
    /// CIFAR-10 binary batches.
    Cifar,
}

impl DataKind {
    pub fn name(self) -> &'static str {
        match self {
            DataKind::Driving => "driving",
            DataKind::Gtsrb => "gtsrb",
            DataKind::GtsrbTest => "gtsrbtest",
            DataKind::Images => "images",
            DataKind::Cifar => "cifar",
        }
    }

    pub fn is_driving(self) -> bool {
        self == DataKind::Driving
    }

    /// The classification layout of `dir`: GTSRB (training or test), CIFAR-10 binary batches,
    /// or one folder per class.
    pub fn detect(dir: &Path) -> DataKind {
        if dir.join("Final_Training").join("Images").is_dir() || dir.join("00000").join("GT-00000.csv").is_file() {
            DataKind::Gtsrb
        } else if super::gtsrb::is_test_layout(dir) {
            DataKind::GtsrbTest
        } else {
            DataKind::detect_classify(dir)
        }
    }

    /// CIFAR-10 binary batches, or one folder per class (what `pilot train classify` takes).
    pub fn detect_classify(dir: &Path) -> DataKind {
        if dir.join("data_batch_1.bin").exists() || dir.join("test_batch.bin").exists() {
            DataKind::Cifar
        } else {
            DataKind::Images
        }
    }
}

/// How driving labels are made for recordings whose `recording.toml` does not say.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LabelDefaults {
    /// Steering added for the left camera's image (subtracted for the right one).
    pub side_correction: f32,
    /// Rows averaged per label (odd; 1 = as recorded).
    pub smooth_steering: usize,
}

impl LabelDefaults {
    /// The Udacity simulator's customary 0.2, labels as recorded.
    pub const UDACITY: LabelDefaults = LabelDefaults { side_correction: 0.2, smooth_steering: 1 };
}

/// What to load: the folders, their kind, and for training the augmentation.
#[derive(Clone, Debug)]
pub struct Source {
    pub dirs: Vec<PathBuf>,
    pub kind: DataKind,
    /// Driving recordings without a `recording.toml` of their own.
    pub labels: LabelDefaults,
    /// Augment training examples (and, for driving, load the side cameras).
    pub augment: bool,
    /// Driving: keep only the first rows (quick experiments).
    pub max_rows: Option<usize>,
    pub progress: bool,
}

/// A loaded data set of either kind.
pub enum DataSet {
    Driving(DrivingData),
    Classification(ClassificationData),
}

impl DataSet {
    pub fn len(&self) -> usize {
        use super::Examples;
        match self {
            DataSet::Driving(d) => d.len(),
            DataSet::Classification(c) => c.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The leak-free validation split (by time block, track or image).
    pub fn split(&self, opts: &SplitOptions) -> Result<Split> {
        match self {
            DataSet::Driving(d) => d.split(opts),
            DataSet::Classification(c) => c.split(opts),
        }
    }
}

/// Loads `source` for a model taking `input`.
pub fn open(source: &Source, input: InputSpec) -> Result<DataSet> {
    Ok(match source.kind {
        DataKind::Driving => DataSet::Driving(load_driving(source, input)?),
        _ => DataSet::Classification(load_classification(source, input)?),
    })
}

/// Loads driving recordings for a model taking `input`.
pub fn load_driving(source: &Source, input: InputSpec) -> Result<DrivingData> {
    let mut opts = DrivingOptions::new(input);
    if !source.augment {
        opts.augment = DrivingAugment::none();
        opts.side_cameras = false;
    }
    opts.augment.steering_correction = source.labels.side_correction;
    opts.smooth_steering = source.labels.smooth_steering;
    opts.max_rows = source.max_rows;
    opts.progress = source.progress;
    DrivingData::load(&source.dirs, &opts)
}

/// Loads a classification set for a model taking `input`.
pub fn load_classification(source: &Source, input: InputSpec) -> Result<ClassificationData> {
    let [dir] = &source.dirs[..] else { bail!("a classification set is one --data folder, got {}", source.dirs.len()) };
    let mut opts = ClassificationOptions::new(input);
    opts.progress = source.progress;
    if !source.augment {
        opts.augment = ImageAugment::none();
    }
    match source.kind {
        DataKind::Gtsrb => ClassificationData::gtsrb(dir, &opts),
        DataKind::GtsrbTest => ClassificationData::gtsrb_test(dir, &opts),
        DataKind::Images => ClassificationData::image_folder(dir, &opts),
        DataKind::Cifar => ClassificationData::cifar10(dir, CifarPart::Train, &opts),
        DataKind::Driving => bail!("driving recordings are not a classification set"),
    }
    .with_context(|| format!("cannot load {}", dir.display()))
}

/// The validation split of a run: `val_split` of the data, drawn with `seed`.
pub fn split_options(val_split: f32, seed: u64) -> SplitOptions {
    SplitOptions { val_fraction: val_split, seed, ..SplitOptions::default() }
}
