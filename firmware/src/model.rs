//! The embedded model and the static arena sized for it at build time.
//!
//! `build.rs` parses the blob named by `PILOT_MODEL` with `common` and writes the sizes below
//! (`OUT_DIR/model.rs`), so the arena is exactly the model's row-band memory plan
//! (`common::plan::BandPlan`) and a model that does not fit the chip fails the build.
//!
//! While a frame comes in, the plan keeps a region of the arena for the caller (its scratch):
//! preprocessing's row buffers live there ([`FrameBuffers`]), next to the row windows of the
//! first layers; once the last row is in, the rest of the network reuses it.

use common::{Model, ParseError};

use crate::once::Once;

include!(concat!(env!("OUT_DIR"), "/model.rs"));

/// The activation arena, word-aligned (optimized kernels load 32 bits at a time).
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

/// Preprocessing's row buffers, in the band plan's scratch region of the arena.
pub struct FrameBuffers<'a> {
    /// `RowStream`'s two interpolated rows.
    pub interp: &'a mut [u16],
    /// `RowStream`'s output row.
    pub out_row: &'a mut [i8],
    /// One camera row as it arrives.
    pub frame_row: &'a mut [u8],
}

impl<'a> FrameBuffers<'a> {
    /// Splits the plan's scratch region (`BandPlan::scratch`: word-aligned in the arena, at
    /// least [`SCRATCH_BYTES`]); `None` if it is shorter or not 2-aligned.
    pub fn split(scratch: &'a mut [i8]) -> Option<FrameBuffers<'a>> {
        let (interp, rest) = scratch.split_at_mut_checked(2 * INTERP_U16S)?;
        let (out_row, rest) = rest.split_at_mut_checked(OUT_ROW_BYTES)?;
        let (frame_row, _) = rest.split_at_mut_checked(FRAME_ROW_BYTES)?;
        if interp.as_ptr().align_offset(2) != 0 {
            return None;
        }
        // SAFETY: `interp` is an exclusive borrow of 2 * INTERP_U16S bytes at a 2-aligned
        // address (checked above), so it holds exactly INTERP_U16S aligned u16s; every bit
        // pattern is a valid u16; the new slice takes over the borrow for the same lifetime.
        let interp = unsafe { core::slice::from_raw_parts_mut(interp.as_mut_ptr().cast::<u16>(), INTERP_U16S) };
        // SAFETY: i8 and u8 have the same size, alignment and validity; same exclusive borrow.
        let frame_row = unsafe { core::slice::from_raw_parts_mut(frame_row.as_mut_ptr().cast::<u8>(), frame_row.len()) };
        Some(FrameBuffers { interp, out_row, frame_row })
    }
}
