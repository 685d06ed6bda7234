//! What every firmware binary shares: the QEMU application (`firmware/qemu/`) and the Black
//! Pill board (`firmware/blackpill/`) link this library and add only their I/O and timing.
//!
//! - [`model`]: the embedded model blob and the static arena sized for it at build time.
//! - [`pipeline`]: the camera-to-output path: the arena split between the row bands and
//!   preprocessing's row buffers, preprocessing row by row, the network in row bands, with a
//!   per-layer hook for timing.
//! - [`kernels`]: the kernel set every binary and on-target test runs.
//! - [`once`]: a static buffer handed out once; `stack` (on the chip only): the stack
//!   high-water mark.
//!
//! Everything but `stack` builds on the host too, where `cargo test` runs the pipeline's
//! tests against `common`'s reference.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod kernels;
pub mod model;
pub mod once;
pub mod pipeline;
#[cfg(target_os = "none")]
pub mod stack;
