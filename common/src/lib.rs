//! The contract between the `pilot` host tool and the firmware.
//!
//! Everything here is `no_std`, allocation-free and integer-only on the int8 path, so that the
//! host (training inputs, reference inference, export) and the microcontroller run the very same
//! code and agree on every byte.
//!
//! - [`format`](mod@format): the versioned model blob (header + postcard payload), parsed zero-copy and fully
//!   validated into a [`Model`].
//! - [`plan`]: the activation arena layout and its exact peak size, for whole tensors and for
//!   row bands (the first layers computed row by row as the input streams in).
//! - [`quant`]: the one requantization rule every kernel uses.
//! - [`kernels`]: plain scalar reference kernels (the oracle).
//! - [`interp`]: runs a parsed model through any set of kernels (reference or optimized), on a
//!   whole input or row by row.
//! - [`rng`]: the one seeded random generator (tracks, splits, augmentation, test models).
//! - [`preprocess`]: camera frame -> crop -> resize -> colour -> int8 input, whole-frame and
//!   row-streaming.
//! - [`board`]: the boards the firmware runs on (clock, memory, cycles per instruction, camera)
//!   and the instructions and time one frame of a model costs on each.
//! - [`report`]: what a frame cost on the chip, as the record the firmware writes for the host.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod board;
pub mod format;
pub mod interp;
pub mod kernels;
pub mod plan;
pub mod preprocess;
pub mod quant;
pub mod report;
pub mod rng;
pub mod shape;
#[cfg(feature = "std")]
pub mod testing;

pub use format::{Layer, Model, ModelDef, ParseError};
pub use interp::{run, RunError};
pub use plan::Plan;
pub use shape::Shape;

/// Reinterprets bytes as `i8`.
///
/// Sound: `u8` and `i8` have the same size (1) and alignment (1), every bit pattern is a valid
/// `i8`, and the returned slice borrows the input for the same lifetime, so no aliasing rule
/// changes.
#[inline]
pub fn bytes_as_i8(bytes: &[u8]) -> &[i8] {
    // SAFETY: see the function's doc comment.
    unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<i8>(), bytes.len()) }
}

/// Reinterprets `i8` as bytes (the inverse of [`bytes_as_i8`]; sound for the same reasons).
#[inline]
pub fn i8_as_bytes(v: &[i8]) -> &[u8] {
    // SAFETY: same size, alignment and validity argument as `bytes_as_i8`.
    unsafe { core::slice::from_raw_parts(v.as_ptr().cast::<u8>(), v.len()) }
}
