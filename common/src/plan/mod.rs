//! The activation arena: where every tensor lives, and the exact peak.
//!
//! Two plans, both exact:
//!
//! - [`Plan`] (whole tensors, what [`crate::interp::run_with`] walks). A sequential network
//!   needs, while layer `i` runs, its input and its output and nothing else. The plan puts the
//!   model input at the bottom of the arena and alternates each layer's output between the top
//!   and the bottom end, so the two live tensors never overlap and the arena is exactly
//!   `max_i(in_i + out_i)` bytes: the least any schedule of whole tensors can use. Flatten moves
//!   no bytes, so its output shares its input's slot. The naive ping-pong bound (two buffers
//!   each as large as the largest tensor) is reported for comparison.
//! - [`BandPlan`] (row bands, what [`crate::interp::Stream`] walks): the first layers run one
//!   output row at a time, so their tensors live in windows of a few rows.
//!
//! [`CameraPlan`] is the band plan a camera model runs with on the chip: preprocessing's row
//! buffers ([`RowBuffers`]) in its scratch.
//!
//! Everything here is plain integer code with no allocation, so a firmware `build.rs` can run it
//! on the blob and declare a static arena of exactly the plan's bytes.

mod band;
mod camera;

pub(crate) use band::RowWindow;
pub use band::{BandPlan, MAX_SCRATCH_BYTES};
pub use camera::{CameraPlan, RowBuffers};

use crate::format::{Layer, ModelDef, TensorInfo, MAX_LAYERS};

/// A tensor's place in the arena (bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Slot {
    pub offset: u32,
    pub len: u32,
}

impl Slot {
    pub fn range(&self) -> core::ops::Range<usize> {
        self.offset as usize..(self.offset + self.len) as usize
    }

    pub fn end(&self) -> u32 {
        self.offset + self.len
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    arena_bytes: u32,
    naive_bytes: u32,
    tensors: u8,
    slots: [Slot; MAX_LAYERS + 1],
}

impl Plan {
    /// Plans the arena for a validated definition and its tensor shapes.
    pub(crate) fn new(def: &ModelDef<'_>, tensors: &[TensorInfo; MAX_LAYERS + 1]) -> Plan {
        let n = def.layers.len();
        let largest = (0..=n).map(|i| tensors[i].shape.len() as u32).max().unwrap_or(0);
        let mut slots = [Slot::default(); MAX_LAYERS + 1];
        let arena = alternate(def, tensors, 0, &mut slots);
        Plan { arena_bytes: arena, naive_bytes: 2 * largest, tensors: (n + 1) as u8, slots }
    }

    /// Exact arena size in bytes.
    pub fn arena_bytes(&self) -> usize {
        self.arena_bytes as usize
    }

    /// Two buffers each the size of the largest tensor: what a plan without reuse would need.
    pub fn naive_ping_pong_bytes(&self) -> usize {
        self.naive_bytes as usize
    }

    /// Where tensor `i` lives (0 = input, `i + 1` = output of layer `i`).
    pub fn slot(&self, i: usize) -> Slot {
        self.slots[i]
    }

    /// Number of tensors (layers + 1).
    pub fn tensor_count(&self) -> usize {
        self.tensors as usize
    }
}

/// Whole-tensor layout of tensors `first..=n`: tensor `first` at the bottom, each layer's output
/// at the other end from its input (flatten shares its input's slot). Fills `slots[first..=n]`
/// and returns the bytes it spans, `max(in + out)` over the layers `first..n`.
fn alternate(def: &ModelDef<'_>, tensors: &[TensorInfo; MAX_LAYERS + 1], first: usize, slots: &mut [Slot; MAX_LAYERS + 1]) -> u32 {
    let layers = &def.layers[first..];
    let len = |i: usize| tensors[i].shape.len() as u32; // <= MAX_TENSOR_BYTES (2^24)
    let mut arena = len(first);
    for (i, node) in (first..).zip(layers) {
        if !matches!(node.layer, Layer::Flatten) {
            arena = arena.max(len(i) + len(i + 1));
        }
    }
    // Side of each tensor: false = bottom (offset 0), true = top (ends at `arena`).
    let mut top = false;
    slots[first] = Slot { offset: 0, len: len(first) };
    for (i, node) in (first..).zip(layers) {
        if !matches!(node.layer, Layer::Flatten) {
            top = !top;
        }
        let l = len(i + 1);
        slots[i + 1] = Slot { offset: if top { arena - l } else { 0 }, len: l };
    }
    arena
}
