//! The instructions one frame costs the firmware: preprocessing every camera row, the network
//! in row bands and whole tensors, every layer through the firmware's own kernels.
//!
//! [`walk`] follows the firmware's control flow for one frame without touching any data: the
//! camera rows through `RowStream`, each input row into the row-band stream (its windows,
//! the rows it moves, each band row's kernel call), the layers after the band chain, and
//! inside every kernel call its loops (pixel, channel and depth blocks, columns, chunks,
//! window positions). It counts [`Event`]s; each costs a fixed number of instructions
//! ([`Event::sixteenths`], in sixteenths of an instruction). [`FrameCost::of`] sums them per layer the way the QEMU
//! application's log charges them (a layer is charged from the previous layer's clock read to
//! its own), so its figures compare one to one with `pilot bench firmware`'s.
//!
//! Everything is counted: pooling windows, requantization, copies, the stream's
//! bookkeeping, preprocessing. A huge pooling layer costs what its windows cost, not nothing.

mod conv;
mod depthwise;
mod events;
mod memory;
mod pool;
mod preprocess;

pub use events::{Event, EVENTS};

use crate::format::{Conv2d, Layer, Model, Pads, Window, MAX_LAYERS};
use crate::plan::{BandPlan, RowWindow, Slot};
use crate::preprocess::{Preprocess, RowStream};
use crate::shape::Shape;

/// The kind of code an instruction belongs to: each has its own cycles per instruction
/// ([`super::cpi`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// The multiply-accumulate loops (`dot_rows`) for 2 to 4 pixels, weights streamed from
    /// flash.
    Mac,
    /// The same for one pixel (dense layers, a row's last pixel): one load of columns per
    /// weight word, so flash and loads weigh more.
    MacOne,
    /// Widening the columns to 16 bits (`widen`).
    Widen,
    /// Copying window rows a word at a time (`copy_words`).
    Copy,
    /// Requantization.
    Requant,
    /// Compiled control code: the kernels' bookkeeping, the stream.
    Control,
    /// The pooling kernels.
    Pool,
    /// `memcpy` and `memset`.
    Memory,
    /// Preprocessing the camera rows.
    Preprocess,
    /// The depthwise kernel's sweeps: taps of four channels (`LDRD` pairs and `SMLABB`/
    /// `SMLATT`) and the requantization in registers.
    DepthwiseMac,
    /// The depthwise kernel's gathering: a word of four channels widened into two slots.
    DepthwiseGather,
}

/// Number of regions.
pub const REGIONS: usize = 11;

impl Region {
    pub const ALL: [Region; REGIONS] = [
        Region::Mac,
        Region::MacOne,
        Region::Widen,
        Region::Copy,
        Region::Requant,
        Region::Control,
        Region::Pool,
        Region::Memory,
        Region::Preprocess,
        Region::DepthwiseMac,
        Region::DepthwiseGather,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Region::Mac => "multiply-accumulate",
            Region::MacOne => "multiply-accumulate, one pixel",
            Region::Widen => "widen",
            Region::Copy => "row copies",
            Region::Requant => "requantization",
            Region::Control => "control",
            Region::Pool => "pooling",
            Region::Memory => "memcpy/memset",
            Region::Preprocess => "preprocessing",
            Region::DepthwiseMac => "depthwise multiply-accumulate",
            Region::DepthwiseGather => "depthwise gathering",
        }
    }
}

/// Instructions, per region (kept in sixteenths: fitted paths cost fractions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Instructions {
    sixteenths: [u64; REGIONS],
}

impl Instructions {
    pub fn total(&self) -> u64 {
        (self.sixteenths.iter().sum::<u64>() + 8) / 16
    }

    pub fn get(&self, r: Region) -> u64 {
        (self.sixteenths[r as usize] + 8) / 16
    }

    /// Adds `n` passes through the path of `e`.
    pub fn add_event(&mut self, e: Event, n: u64) {
        self.sixteenths[e.region() as usize] += n * e.sixteenths();
    }

    pub fn add(&mut self, other: &Instructions) {
        for (a, b) in self.sixteenths.iter_mut().zip(other.sixteenths) {
            *a += b;
        }
    }

    /// Cycles at `milli_cpi[r]` thousandths of a cycle per instruction of region `r`.
    pub fn cycles(&self, milli_cpi: impl Fn(Region) -> u32) -> u64 {
        let milli: u64 = Region::ALL.iter().map(|&r| self.sixteenths[r as usize] * milli_cpi(r) as u64).sum();
        (milli / 16 + 500) / 1000
    }
}

/// Whom the events since the last charge belong to (the QEMU application's clock reads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charge {
    /// Preprocessing (everything outside the network's clock reads).
    Preprocess,
    /// Layer `i`: from the previous clock read to the one after its row (or tensor).
    Layer(usize),
    /// The network, after a pushed row's last band row: no layer's.
    Streamed,
    /// The same after the last whole layer.
    Tail,
}

/// Takes the events of a walk.
pub trait Ledger {
    /// `n` passes through the path of `e`.
    fn add(&mut self, e: Event, n: u64);
    /// The events since the last charge belong to `to`.
    fn charge(&mut self, to: Charge) {
        let _ = to;
    }
}

/// The instructions of one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameCost {
    layers: [Instructions; MAX_LAYERS],
    n_layers: u8,
    banded: u8,
    /// Preprocessing every camera row (none without a preprocessing spec).
    pub preprocess: Instructions,
    /// Network instructions no layer is charged with, while rows stream in.
    pub streamed_other: Instructions,
    /// The same after the band chain.
    pub tail_other: Instructions,
    pending: Instructions,
}

impl Ledger for FrameCost {
    fn add(&mut self, e: Event, n: u64) {
        self.pending.add_event(e, n);
    }

    fn charge(&mut self, to: Charge) {
        let bucket = match to {
            Charge::Preprocess => &mut self.preprocess,
            Charge::Layer(i) => &mut self.layers[i],
            Charge::Streamed => &mut self.streamed_other,
            Charge::Tail => &mut self.tail_other,
        };
        bucket.add(&self.pending);
        self.pending = Instructions::default();
    }
}

impl FrameCost {
    /// The instructions of one frame of `model`, its camera rows preprocessed by `frame` (the
    /// model's own spec when `None`; no preprocessing when the model has none).
    pub fn of(model: &Model<'_>, frame: Option<&Preprocess>) -> FrameCost {
        let mut cost = FrameCost {
            layers: [Instructions::default(); MAX_LAYERS],
            n_layers: model.layers().len() as u8,
            banded: crate::plan::CameraPlan::of(model).bands.banded_layers() as u8,
            preprocess: Instructions::default(),
            streamed_other: Instructions::default(),
            tail_other: Instructions::default(),
            pending: Instructions::default(),
        };
        walk(model, frame, &mut cost);
        cost
    }

    /// Layer `i`, as the firmware's log charges it.
    pub fn layer(&self, i: usize) -> Instructions {
        self.layers[i]
    }

    pub fn layer_count(&self) -> usize {
        self.n_layers as usize
    }

    /// Layers computed in row bands as the rows come in.
    pub fn banded_layers(&self) -> usize {
        self.banded as usize
    }

    /// The banded layers and the stream's bookkeeping while rows come in.
    pub fn network_streamed(&self) -> Instructions {
        let mut sum = self.streamed_other;
        for l in &self.layers[..self.banded as usize] {
            sum.add(l);
        }
        sum
    }

    /// The layers after the band chain.
    pub fn network_tail(&self) -> Instructions {
        let mut sum = self.tail_other;
        for l in &self.layers[self.banded as usize..self.n_layers as usize] {
            sum.add(l);
        }
        sum
    }

    /// The whole network (the firmware log's "inference").
    pub fn network(&self) -> Instructions {
        let mut sum = self.network_streamed();
        sum.add(&self.network_tail());
        sum
    }
}

/// Walks one frame of `model` (camera rows preprocessed by `frame`, or the model's own spec)
/// through the firmware's control flow, giving its events to `t` and charging them as the
/// QEMU application's log does.
pub fn walk(model: &Model<'_>, frame: Option<&Preprocess>, t: &mut impl Ledger) {
    let mut s = StreamWalk::new(model);
    let input = model.input().shape;
    match frame.copied().or(model.def().input.preprocess) {
        Some(pp) => preprocess::frame(t, &pp, input, |t, _| {
            t.charge(Charge::Preprocess);
            s.push_row(t);
        }),
        None => {
            for _ in 0..input.h {
                s.push_row(t);
            }
        }
    }
    t.charge(Charge::Preprocess);
    s.finish(t);
}

/// The row-band stream's state (`common::interp::Stream`), without data.
struct StreamWalk<'s, 'm> {
    model: &'s Model<'m>,
    plan: BandPlan,
    produced: [u16; MAX_LAYERS + 1],
    top: [u16; MAX_LAYERS],
}

impl<'s, 'm> StreamWalk<'s, 'm> {
    fn new(model: &'s Model<'m>) -> Self {
        StreamWalk { model, plan: crate::plan::CameraPlan::of(model).bands, produced: [0; MAX_LAYERS + 1], top: [0; MAX_LAYERS] }
    }

    fn row_bytes(&self, j: usize) -> usize {
        let s = self.model.tensor(j).shape;
        s.w as usize * s.c as usize
    }

    /// `Stream::push_row` of the next input row, with the application's clock reads.
    fn push_row(&mut self, t: &mut impl Ledger) {
        t.add(Event::StreamRow, 1);
        let r = self.produced[0];
        if let Some(dest) = self.place(t, 0, r) {
            // From preprocessing's output row, in the plan's scratch after the two
            // interpolated rows.
            let from = self.plan.scratch().offset as usize + 2 * RowStream::scratch_len(self.model.input().shape.w, 3).0;
            memory::memcpy(t, dest.len as usize, dest.offset as usize, from);
        }
        self.produced[0] += 1;
        let banded = self.plan.banded_layers();
        let mut j = 0;
        loop {
            t.add(Event::StreamStep, 1);
            let ready = j < banded && {
                t.add(Event::StreamReady, 1);
                self.ready(j)
            };
            if ready {
                self.band_row(t, j);
                if j + 1 < banded {
                    j += 1;
                }
            } else if j == 0 {
                break;
            } else {
                j -= 1;
            }
        }
        t.charge(Charge::Streamed);
    }

    fn window(&self, j: usize) -> RowWindow {
        RowWindow::of(&self.model.layers()[j].layer).expect("the band chain holds conv and pool layers only")
    }

    fn ready(&self, j: usize) -> bool {
        let oy = self.produced[j + 1];
        oy < self.model.tensor(j + 1).shape.h && self.window(j).rows(oy, self.model.tensor(j).shape.h).1 <= self.produced[j]
    }

    /// `Stream::place` of row `r` of tensor `j`.
    fn place(&mut self, t: &mut impl Ledger, j: usize, r: u16) -> Option<Slot> {
        let row = self.row_bytes(j) as u32;
        let slot = self.plan.slot(j);
        if !self.plan.is_window(j) {
            t.add(Event::StreamPlaceWhole, 1);
            return Some(Slot { offset: slot.offset + r as u32 * row, len: row });
        }
        t.add(Event::StreamPlaceWindow, 1);
        let pending = self.produced[j + 1];
        if pending == self.model.tensor(j + 1).shape.h {
            t.add(Event::StreamPlaceDone, 1);
            return None;
        }
        let (lo, _) = self.window(j).rows(pending, self.model.tensor(j).shape.h);
        if r < lo {
            t.add(Event::StreamPlaceBetween, 1);
            self.top[j] = r + 1;
            return None;
        }
        if lo > self.top[j] {
            let (drop, held) = ((lo - self.top[j]) as u32, (r - self.top[j]) as u32);
            if drop < held {
                t.add(Event::StreamMove, 1);
                for k in drop..held {
                    t.add(Event::StreamMoveRow, 1);
                    let (dst, src) = (slot.offset + (k - drop) * row, slot.offset + k * row);
                    memory::memcpy(t, row as usize, dst as usize, src as usize);
                }
            }
            self.top[j] = lo;
        }
        Some(Slot { offset: slot.offset + (r - self.top[j]) as u32 * row, len: row })
    }

    /// `Stream::band_row` of band layer `j`.
    fn band_row(&mut self, t: &mut impl Ledger, j: usize) {
        let oy = self.produced[j + 1];
        match self.place(t, j + 1, oy) {
            Some(dest) => {
                let (from, to) = (self.model.tensor(j).shape, self.model.tensor(j + 1).shape);
                let window = self.window(j);
                let (lo, hi) = window.rows(oy, from.h);
                let start = window.start(oy);
                let row = self.row_bytes(j);
                let at = self.plan.slot(j).offset as usize + (lo - self.top[j]) as usize * row;
                let (pad_top, pad_bottom) = ((lo as i32 - start) as u8, (start + window.kernel as i32 - hi as i32) as u8);
                let input = Shape::new(hi - lo, from.w, from.c);
                let output = Shape::new(1, to.w, to.c);
                match self.model.layers()[j].layer.with_row_pads(pad_top, pad_bottom) {
                    Layer::Conv2d(l) => {
                        t.add(Event::StreamBandConv, 1);
                        conv::conv2d(t, &l, conv::Input { shape: input, len: input.len(), at }, output, dest.offset as usize)
                    }
                    Layer::Depthwise(l) => {
                        t.add(Event::StreamBandDepthwise, 1);
                        depthwise::depthwise(t, &l, input, output)
                    }
                    Layer::MaxPool(p) => {
                        t.add(Event::StreamBandPool, 1);
                        pool::max_pool(t, &p, input, output, dest.offset as usize)
                    }
                    Layer::AvgPool(p) => {
                        t.add(Event::StreamBandPool, 1);
                        pool::avg_pool(t, &p, input, output)
                    }
                    Layer::Dense(_) | Layer::Flatten => {}
                }
                t.charge(Charge::Layer(j));
            }
            None => t.add(Event::StreamBandRowSkipped, 1),
        }
        self.produced[j + 1] += 1;
    }

    /// `Stream::finish`: the layers after the band chain on whole tensors.
    fn finish(&mut self, t: &mut impl Ledger) {
        t.add(Event::StreamFinish, 1);
        for (i, node) in self.model.layers().iter().enumerate().skip(self.plan.banded_layers()) {
            let (is, os) = (self.model.tensor(i).shape, self.model.tensor(i + 1).shape);
            let (in_slot, out_slot) = (self.plan.slot(i), self.plan.slot(i + 1));
            let input = conv::Input { shape: is, len: in_slot.len as usize, at: in_slot.offset as usize };
            match node.layer {
                Layer::Conv2d(c) => {
                    t.add(Event::WholeConv, 1);
                    conv::conv2d(t, &c, input, os, out_slot.offset as usize)
                }
                Layer::Dense(d) => {
                    t.add(Event::WholeDense, 1);
                    let c = Conv2d {
                        out_channels: d.out_features,
                        window: Window::square(1, 1, Pads::default()),
                        relu: d.relu,
                        output: d.output,
                        weights: d.weights,
                        bias: d.bias,
                        multipliers: d.multipliers,
                    };
                    conv::conv2d(t, &c, input, os, out_slot.offset as usize)
                }
                Layer::MaxPool(p) => {
                    t.add(Event::WholePool, 1);
                    pool::max_pool(t, &p, is, os, out_slot.offset as usize)
                }
                Layer::AvgPool(p) => {
                    t.add(Event::WholePool, 1);
                    pool::avg_pool(t, &p, is, os)
                }
                Layer::Depthwise(l) => {
                    t.add(Event::WholeDepthwise, 1);
                    depthwise::depthwise(t, &l, is, os)
                }
                Layer::Flatten => t.add(Event::WholeFlatten, 1),
            }
            t.charge(Charge::Layer(i));
        }
        t.charge(Charge::Tail);
    }
}
