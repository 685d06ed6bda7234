//! Training-time augmentation on raw RGB888 frames, before `common` preprocessing, so that the
//! network still sees only inputs the chip's preprocessing can produce. Every transform is drawn
//! from a [`Rng`](crate::data::Rng), so a seed reproduces it.
//!
//! - [`drive`]: camera choice, mirror, horizontal shift (with their steering changes),
//!   brightness and shadows, for PilotNet.
//! - [`image`]: small rotations, scaling, translation and brightness, for signs and CIFAR.
//! - `tone`: brightness, shadow and the camera's bit depth as per-channel lookup tables.

pub mod drive;
pub mod image;
mod tone;

pub use drive::{Camera, DriveTransform, DrivingAugment, Shadow};
pub use image::{ImageAugment, ImageTransform};
