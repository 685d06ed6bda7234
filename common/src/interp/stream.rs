//! The model input arrives row by row; the band chain of a [`BandPlan`] computes each output
//! row as soon as the rows it reads exist, and the rest of the network runs once the last row
//! is in.
//!
//! Each windowed tensor `j` holds the rows `top[j]..produced[j]` contiguously from the start of
//! its window, so a kernel sees a window as a small tensor of `hi - lo` rows, with the layer's
//! top and bottom pads cut to the padding rows that window really has: it then computes exactly
//! the one output row the whole-tensor layer would, and any [`Kernels`] implementation works
//! unchanged. Before a new row enters a full window, the rows no pending output reads are
//! dropped by moving the rest up (`kernel_h - stride` rows per output row: 166 KB of copies per
//! PilotNet frame, against 26.9 M multiply-accumulates; a ring of rows would need kernels that
//! read rows out of order).
//!
//! A new row is consumed at once, depth first: after a layer produces a row, the next layer
//! produces every row it can before the first layer goes on. That is what bounds every window
//! to `kernel_h` rows: a row arrives only when the pending output of its reader is not yet
//! computable, so it lies inside that output's window.

use core::ops::Range;

use super::{apply, check_len, run_whole, split, Kernels, RunError, Tensor, TensorMut};
use crate::format::{Layer, Model, TensorInfo, MAX_LAYERS};
use crate::plan::{BandPlan, RowWindow, Slot};
use crate::shape::Shape;

/// One frame's way through a model in row bands. Reusable: [`Stream::finish`] readies it for
/// the next frame.
#[derive(Clone, Debug)]
pub struct Stream<'s, 'm> {
    model: &'s Model<'m>,
    plan: BandPlan,
    /// Rows of tensor `j` produced so far (tensor 0: rows pushed).
    produced: [u16; MAX_LAYERS + 1],
    /// The tensor row at the start of window `j`: it holds rows `top[j]..produced[j]`.
    top: [u16; MAX_LAYERS],
}

impl<'s, 'm> Stream<'s, 'm> {
    /// Streams through the smallest plan ([`BandPlan::new`]), keeping `scratch_bytes` of the
    /// arena free for the caller while rows come in.
    pub fn new(model: &'s Model<'m>, scratch_bytes: usize) -> Self {
        Stream::with_plan(model, BandPlan::new(model, scratch_bytes))
    }

    /// Streams with the first `banded` layers in row bands ([`BandPlan::with_bands`]).
    pub fn with_bands(model: &'s Model<'m>, banded: usize, scratch_bytes: usize) -> Option<Self> {
        BandPlan::with_bands(model, banded, scratch_bytes).map(|plan| Stream::with_plan(model, plan))
    }

    fn with_plan(model: &'s Model<'m>, plan: BandPlan) -> Self {
        Stream { model, plan, produced: [0; MAX_LAYERS + 1], top: [0; MAX_LAYERS] }
    }

    /// The arena layout: the arena must have [`BandPlan::arena_bytes`]; while rows come in,
    /// only the bytes below [`BandPlan::scratch`] belong to the stream.
    pub fn plan(&self) -> &BandPlan {
        &self.plan
    }

    /// Takes the next model-input row (`W * C` values) and computes every band row it
    /// completes, calling `after(layer, rows, output_rows)` for each. `arena` needs the bytes
    /// below the plan's scratch (it may be the whole arena); they must be left alone between
    /// the rows of one frame.
    pub fn push_row<K, F>(&mut self, kernels: &mut K, arena: &mut [i8], row: &[i8], mut after: F) -> Result<(), RunError>
    where
        K: Kernels + ?Sized,
        F: FnMut(usize, Range<u16>, &[i8]),
    {
        let input = self.model.input().shape;
        let expected = input.w as usize * input.c as usize;
        if row.len() != expected {
            return Err(RunError::RowLength { expected, got: row.len() });
        }
        if self.produced[0] == input.h {
            return Err(RunError::RowCount { expected: input.h, got: input.h + 1 });
        }
        check_len(arena, self.plan.scratch().offset as usize)?;
        if let Some(dest) = self.place(arena, 0, self.produced[0]) {
            arena[dest.range()].copy_from_slice(row);
        }
        self.produced[0] += 1;

        // Depth first (module docs): go down after every row produced, back up when stuck.
        let banded = self.plan.banded_layers();
        let mut j = 0;
        loop {
            if j < banded && self.ready(j) {
                self.band_row(kernels, arena, j, &mut after);
                if j + 1 < banded {
                    j += 1;
                }
            } else if j == 0 {
                break;
            } else {
                j -= 1;
            }
        }
        Ok(())
    }

    /// Once every input row is in, runs the layers after the band chain on whole tensors,
    /// calling `after(layer, 0..h, output)` for each, and returns the model output (in `arena`,
    /// which must now be the whole arena). The stream is then ready for the next frame.
    pub fn finish<'ar, K, F>(&mut self, kernels: &mut K, arena: &'ar mut [i8], mut after: F) -> Result<&'ar [i8], RunError>
    where
        K: Kernels + ?Sized,
        F: FnMut(usize, Range<u16>, &[i8]),
    {
        let h = self.model.input().shape.h;
        if self.produced[0] != h {
            return Err(RunError::RowCount { expected: h, got: self.produced[0] });
        }
        check_len(arena, self.plan.arena_bytes())?;
        let (model, plan) = (self.model, &self.plan);
        let out = run_whole(model, kernels, arena, plan.banded_layers(), |i| plan.slot(i), |i, out| after(i, 0..model.tensor(i + 1).shape.h, out));
        self.produced = [0; MAX_LAYERS + 1];
        self.top = [0; MAX_LAYERS];
        Ok(out)
    }

    /// Band layer `j` and how it reads rows.
    fn band_layer(&self, j: usize) -> (&'s Layer<'m>, RowWindow) {
        let layer = &self.model.layers()[j].layer;
        (layer, RowWindow::of(layer).expect("the band chain holds conv and pool layers only"))
    }

    /// True when band layer `j` can compute its next output row.
    fn ready(&self, j: usize) -> bool {
        let oy = self.produced[j + 1];
        oy < self.model.tensor(j + 1).shape.h && self.band_layer(j).1.rows(oy, self.model.tensor(j).shape.h).1 <= self.produced[j]
    }

    /// Where row `r` (the next one) of tensor `j` goes: its row of a whole tensor, or the end
    /// of its window after dropping the rows no pending output reads; `None` when no output
    /// reads it.
    fn place(&mut self, arena: &mut [i8], j: usize, r: u16) -> Option<Slot> {
        let shape = self.model.tensor(j).shape;
        let row = shape.w as u32 * shape.c as u32;
        let slot = self.plan.slot(j);
        if !self.plan.is_window(j) {
            return Some(Slot { offset: slot.offset + r as u32 * row, len: row });
        }
        let pending = self.produced[j + 1];
        if pending == self.model.tensor(j + 1).shape.h {
            return None; // the rows below the last output's window
        }
        let (lo, _) = self.band_layer(j).1.rows(pending, shape.h);
        if r < lo {
            // Between two windows (a stride above the kernel): every held row is older, so dead.
            self.top[j] = r + 1;
            return None;
        }
        if lo > self.top[j] {
            let (drop, held) = ((lo - self.top[j]) as u32, (r - self.top[j]) as u32);
            if drop < held {
                move_rows_up(arena, slot.offset as usize, row as usize, drop as usize, held as usize);
            }
            self.top[j] = lo;
        }
        let at = (r - self.top[j]) as u32 * row;
        // (The plan makes this impossible; a message without values keeps their formatting
        // code out of the chip's flash.)
        assert!(at + row <= slot.len, "a row overflows its window");
        Some(Slot { offset: slot.offset + at, len: row })
    }

    /// Computes the next output row of band layer `j` (unless no later layer reads it).
    fn band_row<K, F>(&mut self, kernels: &mut K, arena: &mut [i8], j: usize, after: &mut F)
    where
        K: Kernels + ?Sized,
        F: FnMut(usize, Range<u16>, &[i8]),
    {
        let oy = self.produced[j + 1];
        if let Some(dest) = self.place(arena, j + 1, oy) {
            let (from, to) = (self.model.tensor(j), self.model.tensor(j + 1));
            let (layer, window) = self.band_layer(j);
            let (lo, hi) = window.rows(oy, from.shape.h);
            let start = window.start(oy);
            let row = from.shape.w as u32 * from.shape.c as u32;
            let held = Slot { offset: self.plan.slot(j).offset + (lo - self.top[j]) as u32 * row, len: (hi - lo) as u32 * row };
            // Padding rows of this window only: above row 0 and below the last row.
            let pad_top = (lo as i32 - start) as u8;
            let pad_bottom = (start + window.kernel as i32 - hi as i32) as u8;
            let (x, y) = split(arena, held, dest);
            let input = Tensor { data: x, info: TensorInfo { shape: Shape::new(hi - lo, from.shape.w, from.shape.c), ..from } };
            let output = TensorMut { data: y, info: TensorInfo { shape: Shape::new(1, to.shape.w, to.shape.c), ..to } };
            apply(kernels, &layer.with_row_pads(pad_top, pad_bottom), input, output);
            after(j, oy..oy + 1, &arena[dest.range()]);
        }
        self.produced[j + 1] += 1;
    }
}

/// Moves rows `drop..held` of the window at `at` (rows of `row` bytes) to its start. One row at
/// a time: with `drop >= 1` each row's source and destination are disjoint, so this links the
/// small `memcpy` rather than the 1.5 KB `memmove` that `copy_within` needs (flash counts on
/// the chip).
fn move_rows_up(arena: &mut [i8], at: usize, row: usize, drop: usize, held: usize) {
    for r in drop..held {
        let (dst, src) = arena.split_at_mut(at + r * row);
        dst[at + (r - drop) * row..][..row].copy_from_slice(&src[..row]);
    }
}
