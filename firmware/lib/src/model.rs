//! The embedded model and the static arena sized for it at build time.
//!
//! `build.rs` parses the blob named by `PILOT_MODEL` with `common` and writes the sizes below
//! (`OUT_DIR/model.rs`), so the arena is exactly the model's camera plan
//! (`common::plan::CameraPlan`: the row-band plan with preprocessing's row buffers) and a model
//! that does not fit the chip fails the build. [`crate::pipeline::Pipeline`] lays the arena out.

use common::{Model, ParseError};

use crate::once::Once;

include!(concat!(env!("OUT_DIR"), "/model.rs"));

/// The activation arena, word-aligned (optimized kernels load 32 bits at a time, and the
/// preprocessing rows in it are u16s).
#[repr(C, align(4))]
struct Arena([i8; ARENA_BYTES]);

static ARENA: Once<Arena> = Once::new(Arena([0; ARENA_BYTES]));

/// Parses and validates the embedded blob (it may have been corrupted in flash, or built with
/// `PILOT_MODEL_UNCHECKED`): the caller reports the error, never panics.
// Never inlined: decoding and validation move the ~2.3 KB model by value several times (about
// 7 KB of temporaries); in a frame of their own they are gone before inference starts, instead
// of staying in the caller's frame under every kernel's scratch.
#[inline(never)]
pub fn parse() -> Result<Model<'static>, ParseError> {
    Model::parse(BLOB)
}

/// The arena, once.
pub fn arena() -> Option<&'static mut [i8]> {
    ARENA.take().map(|a| &mut a.0[..])
}
