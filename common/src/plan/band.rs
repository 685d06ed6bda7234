//! Row bands: the first layers run one output row at a time, so their tensors never exist whole.
//!
//! A conv or pool layer's output row `oy` reads only the input rows of its window,
//! `oy * stride - pad_top ..` for `kernel_h` rows. When the first `k` layers (the "band chain",
//! conv and pool layers only) compute each output row as soon as the rows it reads exist, every
//! tensor before tensor `k` (the model input included) lives in a window of at most `kernel_h`
//! rows of the layer that reads it, and only tensor `k` is held whole; the layers from `k` on
//! run on whole tensors as in [`super::Plan`]. (This is the patch-based inference of
//! MCUNet/TinyEngine, with patches that are whole rows, so no output is ever computed twice.)
//!
//! While rows stream in, the arena holds tensor `k` at the bottom, every window above it, then
//! the caller's `scratch` (preprocessing's row buffers, word-aligned). Once the last row is in,
//! the windows are dead and layers `k..` alternate from tensor `k` at the bottom. The arena is
//! the larger of the two phases, exactly; [`BandPlan::new`] tries every `k` (0 is the
//! whole-tensor plan, with the input held whole) and keeps the smallest.
//!
//! PilotNet: the 66x200x3 input and conv1's 31x98x24 output (112.5 KB together) become windows
//! of 5 rows (3,000 and 11,760 B), conv2's output a window of 5 rows (8,460 B), and only
//! conv3's 5,280 B output is whole: 28,500 B.

use super::{alternate, Slot};
use crate::format::{Layer, Model, MAX_LAYERS};

/// Most scratch bytes a plan counts: with tensors of at most 2^24 bytes (33 of them), every
/// offset stays below 2^32.
pub const MAX_SCRATCH_BYTES: usize = 1 << 31;

/// How a conv or pool layer reads its input rows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowWindow {
    pub kernel: u16,
    pub stride: u16,
    pub pad_top: u16,
}

impl RowWindow {
    /// The row geometry of a conv or pool layer; `None` for layers that need their whole input.
    pub(crate) fn of(layer: &Layer<'_>) -> Option<RowWindow> {
        let w = layer.window()?;
        Some(RowWindow { kernel: w.kernel_h as u16, stride: w.stride_h as u16, pad_top: w.pads.top as u16 })
    }

    /// The first window row of output row `oy` (negative: top padding).
    pub(crate) fn start(&self, oy: u16) -> i32 {
        oy as i32 * self.stride as i32 - self.pad_top as i32
    }

    /// The input rows `lo..hi` that output row `oy` reads, in an input `h` rows high.
    pub(crate) fn rows(&self, oy: u16, h: u16) -> (u16, u16) {
        let start = self.start(oy);
        (start.clamp(0, h as i32) as u16, (start + self.kernel as i32).clamp(0, h as i32) as u16)
    }
}

/// Where every tensor of a row-band schedule lives, and the exact arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BandPlan {
    arena_bytes: u32,
    banded: u8,
    tensors: u8,
    slots: [Slot; MAX_LAYERS + 1],
    scratch: Slot,
}

impl BandPlan {
    /// The band chain with the smallest arena (ties: the shorter chain, which shifts fewer
    /// rows), keeping `scratch_bytes` free while rows stream in. A `scratch_bytes` above
    /// [`MAX_SCRATCH_BYTES`] counts as that many (no chip has them; every offset stays in `u32`).
    pub fn new(model: &Model<'_>, scratch_bytes: usize) -> BandPlan {
        let mut best = BandPlan::build(model, 0, scratch_bytes);
        for k in 1..=BandPlan::max_bands(model) {
            let plan = BandPlan::build(model, k, scratch_bytes);
            if plan.arena_bytes < best.arena_bytes {
                best = plan;
            }
        }
        best
    }

    /// The plan whose first `banded` layers run row by row; `None` beyond
    /// [`BandPlan::max_bands`].
    pub fn with_bands(model: &Model<'_>, banded: usize, scratch_bytes: usize) -> Option<BandPlan> {
        (banded <= BandPlan::max_bands(model)).then(|| BandPlan::build(model, banded, scratch_bytes))
    }

    /// The longest possible band chain: the leading conv and pool layers.
    pub fn max_bands(model: &Model<'_>) -> usize {
        model.layers().iter().take_while(|n| RowWindow::of(&n.layer).is_some()).count()
    }

    fn build(model: &Model<'_>, k: usize, scratch_bytes: usize) -> BandPlan {
        let tensors = model.tensors();
        let mut slots = [Slot::default(); MAX_LAYERS + 1];
        let tail = alternate(model.def(), tensors, k, &mut slots);

        let mut end = slots[k].end();
        for (j, node) in model.layers()[..k].iter().enumerate() {
            let s = tensors[j].shape;
            let window = RowWindow::of(&node.layer).map_or(s.h, |w| w.kernel.min(s.h));
            let len = window as u32 * s.w as u32 * s.c as u32;
            slots[j] = Slot { offset: end, len };
            end += len;
        }
        // Word-aligned: the caller keeps u16 (and u32) buffers there.
        let scratch = match scratch_bytes.min(MAX_SCRATCH_BYTES) as u32 {
            0 => Slot { offset: end, len: 0 },
            len => Slot { offset: end.next_multiple_of(4), len },
        };
        BandPlan { arena_bytes: tail.max(scratch.end()), banded: k as u8, tensors: model.layers().len() as u8 + 1, slots, scratch }
    }

    /// Exact arena size in bytes, the scratch included.
    pub fn arena_bytes(&self) -> usize {
        self.arena_bytes as usize
    }

    /// Layers computed row by row (0: the input is held whole and every layer runs whole).
    pub fn banded_layers(&self) -> usize {
        self.banded as usize
    }

    /// True when tensor `i` lives in a window of rows rather than whole.
    pub fn is_window(&self, i: usize) -> bool {
        i < self.banded as usize
    }

    /// Where tensor `i` lives (0 = input, `i + 1` = output of layer `i`): its window while rows
    /// stream in, or its whole-tensor slot.
    pub fn slot(&self, i: usize) -> Slot {
        self.slots[i]
    }

    /// The caller's bytes while rows stream in (preprocessing's row buffers), word-aligned.
    /// Tensor `k` and the windows lie below it: the arena up to `scratch().offset` is what
    /// [`crate::interp::Stream::push_row`] needs.
    pub fn scratch(&self) -> Slot {
        self.scratch
    }

    /// Number of tensors (layers + 1).
    pub fn tensor_count(&self) -> usize {
        self.tensors as usize
    }
}
