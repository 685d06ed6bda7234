//! Training data: loaders for the real data sets, leak-free validation splits, augmentation,
//! steering balance, and examples made by the same `common` preprocessing the chip runs.
//!
//! Loading decodes every image once into memory (in parallel, with a progress bar); an example
//! is then made on demand: the raw RGB888 frame is augmented (optionally) and turned into the
//! int8 input tensor by `common::preprocess`, so the network trains on exactly the inputs the
//! chip computes.
//!
//! ```no_run
//! use host::data::{Balance, DrivingData, DrivingOptions, Examples, Rng, SplitOptions};
//! # fn main() -> anyhow::Result<()> {
//! let data = DrivingData::load(&["target/data/udacity-track1"], &DrivingOptions::new(host::zoo::pilotnet_input()))?;
//! let split = data.split(&SplitOptions { val_fraction: 0.2, seed: 1, ..SplitOptions::default() })?;
//! let mut rng = Rng::new(1);
//! let n = data.input().shape.len();
//! for epoch in 0..10 {
//!     let rows = data.epoch(&split.train, &Balance::default(), &mut rng);
//!     for batch in rows.chunks(64) {
//!         let (mut x, mut y) = (vec![0i8; batch.len() * n], vec![0f32; batch.len()]);
//!         data.fill_batch(batch, rng.next_u64(), true, &mut x, &mut y);
//!         // x: int8 inputs (real value q * 2^input.quant.scale_exp), y: steering
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Formats: [`DrivingData`] reads Udacity simulator recordings (what `pilot sim` records too);
//! [`ClassificationData`] reads GTSRB (official layout, cropped to each sign's region of
//! interest), image folders (one subfolder per class) and CIFAR-10 binary batches.

pub mod augment;
mod balance;
mod batch;
mod cifar;
mod classification;
mod driving;
mod frame;
mod gtsrb;
mod image_folder;
pub mod recording;
pub mod source;
mod split;
#[cfg(test)]
mod testutil;
mod text;
pub mod udacity;

pub use augment::{Camera, DriveTransform, DrivingAugment, ImageAugment, ImageTransform};
pub use balance::Balance;
pub use batch::Examples;
pub use cifar::{CifarPart, CLASS_NAMES as CIFAR10_CLASS_NAMES};
pub use classification::{ClassificationData, ClassificationOptions};
pub use common::rng::Rng;
pub use driving::{DrivingData, DrivingOptions};
pub use gtsrb::CLASS_NAMES as GTSRB_CLASS_NAMES;
pub use source::{load_classification, load_driving, open, split_options, DataKind, DataSet, LabelDefaults, Source};
pub use split::{Split, SplitOptions};
pub use udacity::{find_recordings, DrivingRow};
