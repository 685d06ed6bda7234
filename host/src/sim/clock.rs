//! The closed loop's clock: when a frame is captured, and when its command reaches the servo.
//!
//! A frame captured at `t` steers from `t + latency`; the next frame is captured one period
//! after this one. Both come from a board's timing model (`common::board`: the camera, the
//! preprocessing and the network on the board's core, sequential or overlapped), or, with the
//! firmware in the loop, from the firmware's own instruction counts for each frame. "Ideal"
//! timing is the simulator's historical loop, 10 decisions a second with no latency, kept for
//! comparison.
//!
//! The capture time is the start of the camera's frame (its VSYNC), as the board model counts
//! its latency from there.

use std::fmt;

use anyhow::Context;

use common::board::cost::FrameCost;
use common::board::front_end::FrontEnd;
use common::board::timing::{frame_timing, FrameTiming, Pipeline};
use common::board::Board;
use common::Model;

use super::FRAME_NS;

/// One frame's timing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// From this frame's capture to the next one's (ns).
    pub period_ns: u64,
    /// From this frame's capture to its command reaching the servo (ns).
    pub latency_ns: u64,
}

impl Slot {
    pub fn decisions_per_second(&self) -> f64 {
        1e9 / self.period_ns.max(1) as f64
    }
}

/// Instructions the firmware counted for one frame (its log under `-icount shift=0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counted {
    pub network: u64,
    /// Preprocessing of the frame the firmware was given (not reading its rows).
    pub preprocess: u64,
}

/// How a drive is timed.
#[derive(Clone, Debug)]
pub struct Timing {
    /// For reports: `ideal`, a board's name, or `custom`.
    pub name: String,
    /// Every frame's timing, or the model's prediction when frames are timed by the firmware.
    pub slot: Slot,
    /// The board's timing model, when the timing is a board's.
    pub board: Option<BoardTiming>,
}

/// A model's timing on a board.
#[derive(Clone, Copy, Debug)]
pub struct BoardTiming {
    pub board: &'static Board,
    /// The prediction: period, latency and where the time goes.
    pub frame: FrameTiming,
    /// Time each frame by the driver's own instruction counts ([`Counted`]) instead.
    pub counted: bool,
    cost: FrameCost,
    /// The camera set up for the model, and the firmware's preprocessing of its frames.
    front: FrontEnd,
    /// The preprocessing instructions of the frames the firmware in the loop is given (the
    /// simulator's own, not the board camera's), predicted by the same cost model.
    given_preprocess: u64,
}

impl Timing {
    /// 10 decisions a second, each applied at once: the simulator's historical loop.
    pub fn ideal() -> Timing {
        Timing { name: "ideal".into(), slot: Slot { period_ns: FRAME_NS, latency_ns: 0 }, board: None }
    }

    /// A period and a latency of your own (seconds).
    pub fn custom(period_s: f64, latency_s: f64) -> anyhow::Result<Timing> {
        anyhow::ensure!(period_s.is_finite() && (1e-3..=60.0).contains(&period_s), "the period must be between 0.001 and 60 s, not {period_s}");
        anyhow::ensure!(latency_s.is_finite() && (0.0..=60.0).contains(&latency_s), "the latency must be between 0 and 60 s, not {latency_s}");
        let ns = |s: f64| (s * 1e9).round() as u64;
        Ok(Timing { name: "custom".into(), slot: Slot { period_ns: ns(period_s), latency_ns: ns(latency_s) }, board: None })
    }

    /// `model` on `board` with `pipeline`, as `common::board` predicts it; `None` when the model
    /// takes no camera frames. With `counted`, each frame is timed by the instructions the
    /// driver counted for it (the firmware in QEMU), falling back to the prediction for a
    /// frame without counts.
    pub fn board(board: &'static Board, model: &Model<'_>, pipeline: Pipeline, counted: bool) -> Option<Timing> {
        let front = board.front_end(model)?;
        let cost = FrameCost::of(model, Some(&front.frames));
        let frame = frame_timing(&front.camera, board.work(&cost, &front.frames), pipeline);
        let given = model.def().input.preprocess.map(|pp| FrameCost::of(model, Some(&pp)).preprocess.total());
        Some(Timing {
            name: board.name.into(),
            slot: Slot { period_ns: frame.period_ns, latency_ns: frame.latency_ns },
            board: Some(BoardTiming { board, frame, counted, cost, front, given_preprocess: given.unwrap_or(cost.preprocess.total()) }),
        })
    }

    /// The timing of a frame whose driver counted `counted` instructions (if it counts them).
    pub fn slot(&self, counted: Option<Counted>) -> Slot {
        match (&self.board, counted) {
            (Some(b), Some(c)) if b.counted => b.measured(c),
            _ => self.slot,
        }
    }
}

/// The names `--board` takes: `ideal` and every board's.
pub fn names() -> Vec<&'static str> {
    std::iter::once("ideal").chain(common::board::BOARDS.iter().map(|b| b.name)).collect()
}

/// The timing called `name` ([`names`]): `ideal`, or `model` on the board of that name with
/// `pipeline` ([`Timing::board`]; a board needs the model whose work it times).
pub fn named(name: &str, model: Option<&Model<'_>>, pipeline: Pipeline, counted: bool) -> anyhow::Result<Timing> {
    if name.eq_ignore_ascii_case("ideal") {
        return Ok(Timing::ideal());
    }
    let board = common::board::by_name(name).with_context(|| format!("no board called {name:?}; the timings are {}", names().join(", ")))?;
    let model = model.with_context(|| format!("the {} board's timing is a network's frame rate and latency on it: it needs a network to time", board.name))?;
    Timing::board(board, model, pipeline, counted).with_context(|| format!("model {:?} takes no camera frames, so it has no frame timing", model.name()))
}

impl BoardTiming {
    /// The frame timing for the counted instructions: the network's count as it is (the
    /// network's work does not depend on the camera), the preprocessing's scaled from the
    /// frames the firmware was given to the board camera's by the cost model's ratio.
    fn measured(&self, c: Counted) -> Slot {
        let on_board = self.cost.preprocess.total();
        let preprocess = (c.preprocess as u128 * on_board as u128 / self.given_preprocess.max(1) as u128) as u64;
        let work = self.board.work_measured(&self.cost, &self.front.frames, c.network, preprocess);
        let t = frame_timing(&self.front.camera, work, self.frame.pipeline);
        Slot { period_ns: t.period_ns, latency_ns: t.latency_ns }
    }
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

impl fmt::Display for Timing {
    /// `blackpill (sequential): 1.00 decisions/s, latency 935 ms (camera 327 + preprocessing
    /// 61 + network 548)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.slot;
        match &self.board {
            Some(b) => {
                let t = &b.frame;
                write!(
                    f,
                    "{} ({}): {:.2} decisions/s, latency {:.0} ms (camera {:.0} + preprocessing {:.0} + network {:.0})",
                    self.name,
                    t.pipeline.name(),
                    s.decisions_per_second(),
                    ms(t.latency_ns),
                    ms(t.camera_latency_ns()),
                    ms(t.work.preprocess_ns),
                    ms(t.work.network_ns())
                )?;
                if b.counted {
                    write!(f, "; each frame timed by the firmware's own instruction counts")?;
                }
                Ok(())
            }
            None if s.latency_ns == 0 => write!(f, "{}: {:.2} decisions/s, no latency", self.name, s.decisions_per_second()),
            None => write!(f, "{}: {:.2} decisions/s, latency {:.0} ms", self.name, s.decisions_per_second(), ms(s.latency_ns)),
        }
    }
}
