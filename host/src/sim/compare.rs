//! Networks side by side (`pilot sim compare`): each one's cost and frame rate on every board,
//! and its autonomy when it drives unseen tracks at one board's timing. This is the trade-off
//! `models/fastnet/README.md` tabulates.

use anyhow::{Context, Result};
use common::board::cost::FrameCost;
use common::board::timing::Pipeline;
use common::board::{Board, BOARDS};
use common::Model;

use super::clock::Timing;
use super::drive::{ModelDriver, Pilot};
use super::metrics::autonomy;
use super::timed::drive_timed;
use super::track::Track;
use super::world::World;

/// How the networks drive.
pub struct CompareOptions {
    pub seeds: Vec<u64>,
    pub laps: f64,
    /// m/s.
    pub speed: f64,
    /// Whose timing they drive at.
    pub board: &'static Board,
}

/// One board's frame rate for a network.
pub struct Rate {
    pub board: &'static str,
    pub decisions_per_second: f64,
    pub latency_ms: f64,
}

/// One network's figures.
pub struct Candidate {
    pub name: String,
    pub macs: u64,
    /// Network and preprocessing on `CompareOptions::board`'s camera frames.
    pub instructions: u64,
    /// Every board's, in [`BOARDS`] order.
    pub rates: Vec<Rate>,
    /// Percent over all the tracks, int8 reference, at the board's timing.
    pub autonomy: f64,
    pub interventions: usize,
}

/// The figures of the int8 network `blob` (named `name` in reports).
pub fn candidate(name: &str, blob: &[u8], opts: &CompareOptions) -> Result<Candidate> {
    let model = Model::parse(blob).with_context(|| format!("{name}: not a model blob"))?;
    let front = opts.board.front_end(&model).with_context(|| format!("{name}: the model takes no camera frames"))?;
    let cost = FrameCost::of(&model, Some(&front.frames));
    let rates = BOARDS
        .iter()
        .filter_map(|b| {
            let t = b.frame_timing(&model, Pipeline::Sequential)?;
            Some(Rate { board: b.name, decisions_per_second: t.decisions_per_second() as f64, latency_ms: t.latency_ns as f64 / 1e6 })
        })
        .collect();
    let timing = Timing::board(opts.board, &model, Pipeline::Sequential, false).context("the model takes no camera frames")?;
    let mut driver = ModelDriver::new(blob)?;
    let (mut interventions, mut elapsed) = (0, 0.0);
    for &seed in &opts.seeds {
        let track = Track::generate(seed);
        let world = World::new(&track, seed);
        let r = drive_timed(&track, Some(&world), &mut Pilot::Camera(&mut driver), opts.speed, opts.laps, &timing, |_| Ok(()))?.report;
        interventions += r.interventions.len();
        elapsed += r.elapsed_s;
    }
    Ok(Candidate {
        name: name.to_string(),
        macs: model.macs(),
        instructions: cost.network().total() + cost.preprocess.total(),
        rates,
        autonomy: autonomy(interventions, elapsed),
        interventions,
    })
}
