//! The activation arena: where every tensor lives, and the exact peak.
//!
//! A sequential network needs, while layer `i` runs, its input and its output and nothing else.
//! The plan puts the model input at the bottom of the arena and alternates each layer's output
//! between the top and the bottom end, so the two live tensors never overlap and the arena is
//! exactly `max_i(in_i + out_i)` bytes: the least any schedule of whole tensors can use. Flatten
//! moves no bytes, so its output shares its input's slot. The naive ping-pong bound (two buffers
//! each as large as the largest tensor) is reported for comparison.
//!
//! Everything here is plain integer code with no allocation, so a firmware `build.rs` can run it
//! on the blob and declare a static arena of exactly [`Plan::arena_bytes`].

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
        let len = |i: usize| tensors[i].shape.len() as u32; // <= MAX_TENSOR_BYTES (2^24)

        let mut arena = len(0);
        let mut largest = len(0);
        for (i, node) in def.layers.iter().enumerate() {
            largest = largest.max(len(i + 1));
            if !matches!(node.layer, Layer::Flatten) {
                arena = arena.max(len(i) + len(i + 1));
            }
        }

        // Side of each tensor: false = bottom (offset 0), true = top (ends at `arena`).
        let mut slots = [Slot::default(); MAX_LAYERS + 1];
        let mut top = false;
        slots[0] = Slot { offset: 0, len: len(0) };
        for (i, node) in def.layers.iter().enumerate() {
            if !matches!(node.layer, Layer::Flatten) {
                top = !top;
            }
            let l = len(i + 1);
            slots[i + 1] = Slot { offset: if top { arena - l } else { 0 }, len: l };
        }
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
