//! Does the model fit the reference chip? Its flash and RAM come from `memory.rs`, which the
//! binaries' `memory.x` come from too.

#[path = "memory.rs"]
mod memory;

use memory::{CHIP, FLASH_BYTES, RAM_BYTES};

use super::Sizes;

/// Stack the firmware needs besides its static buffers. Measured high-water mark of the QEMU
/// application: 10,836 B with PilotNet, 10,844 B with the sign CNN, set while parsing (the
/// ~2.3 KB `Model` moves by value through postcard, serde and validation: 7.4 KB of
/// temporaries in `model::parse`'s own frame, 1.1 KB in `Model::from_def`, on top of the 2.2 KB
/// `main` frame that keeps the model). During inference the stack stays near 8 KB: `main`,
/// the application's frame loop (2.1 KB: the row-band stream, file handles, per-layer table)
/// and the optimized kernels' scratch (at most 3.6 KB: `kernels::conv`'s column blocks).
pub const MIN_STACK_BYTES: usize = 12 * 1024;
/// Statics other than the model buffers (logger state, flags): a generous bound.
pub const OTHER_STATICS_BYTES: usize = 256;

/// Checks that the model's buffers and a minimum stack fit the chip's RAM and the blob its
/// flash; the error says by how many bytes they do not.
pub fn check_fit(s: &Sizes, blob_bytes: usize) -> Result<(), String> {
    let ram_needed = s.arena + OTHER_STATICS_BYTES + MIN_STACK_BYTES;
    if ram_needed > RAM_BYTES {
        return Err(format!(
            "the model does not fit {CHIP}'s RAM: activation arena {} B (row-band memory plan, \
             preprocessing row buffers {} B included; whole tensors would need {} B) + other \
             statics {OTHER_STATICS_BYTES} B + minimum stack {MIN_STACK_BYTES} B = {ram_needed} B \
             > {RAM_BYTES} B of RAM; {} bytes missing",
            s.arena,
            s.scratch,
            s.whole_arena,
            ram_needed - RAM_BYTES
        ));
    }
    if blob_bytes > FLASH_BYTES {
        return Err(format!("the model blob ({blob_bytes} B) does not fit {CHIP}'s {FLASH_BYTES} B of flash; {} bytes missing", blob_bytes - FLASH_BYTES));
    }
    Ok(())
}
