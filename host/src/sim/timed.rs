//! The closed loop in continuous time: a frame is captured at `t`, the pilot steers from it, and
//! its command reaches the wheels at `t + latency`; until then the wheels hold the previous
//! command (straight before the first). The next frame is captured when the [`Timing`] says,
//! one period after this one. The physics keeps its 10 ms grid ([`Session::advance`] splits a
//! step where a command lands or a frame is captured).
//!
//! At [`Timing::ideal`] (every 0.1 s, no latency) every event falls on a frame tick and this is
//! exactly the simulator's historical frame-by-frame loop, to the bit.

use std::collections::VecDeque;

use anyhow::Context;

use super::clock::Timing;
use super::drive::{Pilot, Tick};
use super::expert::Expert;
use super::metrics::Report;
use super::render::{Camera, Frame};
use super::session::Session;
use super::track::Track;
use super::world::World;

/// The commands that reached the wheels during a drive.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Decisions {
    pub count: u64,
    /// When the first and the last reached the wheels (ns since the start).
    pub first_ns: u64,
    pub last_ns: u64,
    /// Their latencies added up (ns).
    pub latency_sum_ns: u64,
}

impl Decisions {
    fn land(&mut self, at: u64, latency: u64) {
        if self.count == 0 {
            self.first_ns = at;
        }
        self.count += 1;
        self.last_ns = at;
        self.latency_sum_ns += latency;
    }

    /// Commands per second, between the first and the last (0 with fewer than two).
    pub fn per_second(&self) -> f64 {
        if self.count < 2 || self.last_ns == self.first_ns {
            return 0.0;
        }
        (self.count - 1) as f64 * 1e9 / (self.last_ns - self.first_ns) as f64
    }

    /// Mean seconds from a frame's capture to its command.
    pub fn mean_latency_s(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        self.latency_sum_ns as f64 / self.count as f64 / 1e9
    }
}

/// A drive and its timing.
#[derive(Clone, Debug)]
pub struct TimedReport {
    pub report: Report,
    pub decisions: Decisions,
}

/// Drives `laps` laps of `track` at `speed` (m/s), timed by `timing`. With a `world` the centre
/// camera is rendered at every capture (a camera pilot needs it). `observe` sees every capture
/// after the pilot has steered from it; its error stops the drive. A drive that has not finished
/// after three times the lap time (a pilot that keeps being put back) stops there; its report
/// shows the laps done. The drive ends on a frame tick.
pub fn drive_timed(
    track: &Track,
    world: Option<&World>,
    pilot: &mut Pilot<'_>,
    speed: f64,
    laps: f64,
    timing: &Timing,
    mut observe: impl FnMut(&Tick<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<TimedReport> {
    let mut session = Session::new(track, speed);
    let camera = Camera::centre();
    let mut frame = Frame::default();
    let time_limit = 3.0 * laps * track.length() / speed + 10.0;
    let mut next_capture = 0u64;
    // Commands on their way to the wheels: (when they land, steering, latency).
    let mut pending: VecDeque<(u64, f32, u64)> = VecDeque::new();
    let mut wheels = 0.0f32;
    let mut decisions = Decisions::default();
    loop {
        let now = session.now_ns();
        if session.on_tick() && !(session.laps() < laps && session.time() < time_limit) {
            break;
        }
        while let Some(&(at, steering, latency)) = pending.front() {
            if at > now {
                break;
            }
            wheels = steering;
            decisions.land(at, latency);
            pending.pop_front();
        }
        if next_capture == now {
            let expert = Expert.steer(track, session.car(), session.location());
            let seen = world.map(|w| {
                w.render(&camera, &session.car().pose, &mut frame);
                &frame
            });
            let (steering, counted) = match pilot {
                Pilot::Expert => (expert, None),
                Pilot::Camera(driver) => {
                    let steering = driver.steer_at(seen.context("a camera driver needs the world rendered")?, session.time())?;
                    (steering, driver.counted())
                }
            };
            let slot = timing.slot(counted);
            observe(&Tick { session: &session, frame: seen, steering, expert, time: session.time() })?;
            // One core computes the frames in turn: a command never overtakes the one before.
            let at = pending.back().map_or(0, |p| p.0).max(now + slot.latency_ns);
            pending.push_back((at, steering, at - now));
            next_capture = now + slot.period_ns.max(1);
            // A command without latency lands now, before the car moves.
            continue;
        }
        let next_command = pending.front().map_or(u64::MAX, |p| p.0);
        let until = next_capture.min(next_command).min(now + session.to_next_tick_ns());
        session.advance(until - now, wheels);
    }
    Ok(TimedReport { report: session.report(), decisions })
}
