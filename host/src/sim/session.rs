//! A car on a track, in time: physics sub-steps, lap progress, interventions and the
//! statistics of the drive.
//!
//! Time runs in frame ticks of [`FRAME_DT`], each of [`PHYSICS_STEPS`] physics steps of
//! [`STEP_NS`] on a fixed grid. [`Session::step`] holds one steering for the rest of a tick;
//! [`Session::advance`] holds it for any stretch of time within the tick, so that a command can
//! reach the wheels, or a frame be captured, between grid points: the step it falls in is split
//! there. Each piece is an exact arc, so splitting changes the path only where the steering
//! changes. On every grid point the car's centre is checked against the centre line; when it is
//! more than [`INTERVENTION_DISTANCE`] off, an intervention is counted and the car is put back
//! on the centre line at the nearest point, heading along the road (as a safety driver would),
//! and the drive goes on. The lateral error statistics sample the same grid.

use super::metrics::{Intervention, PathPoint, Report};
use super::track::{Location, Track};
use super::vehicle::{Car, Pose};
use super::{FRAME_DT, FRAME_NS, PHYSICS_STEPS, STEP_NS};

/// Seconds of one physics step, as the loop has always computed it (a whole step advances the
/// car by exactly this, so ideal timing reproduces the historical drives to the bit).
const STEP_DT: f64 = FRAME_DT / PHYSICS_STEPS as f64;

/// Lateral error (m) beyond which the safety driver takes over. The road's half width is 3.75 m
/// and the car's 1 m: at 1 m off the centre line the car is still well on the road.
pub const INTERVENTION_DISTANCE: f64 = 1.0;

pub struct Session<'t> {
    track: &'t Track,
    car: Car,
    loc: Location,
    /// Whole frame ticks driven.
    frames: u64,
    /// Nanoseconds into the current tick, `0..FRAME_NS`.
    offset: u64,
    /// Metres driven along the track since the start (counting backwards motion negative).
    progress: f64,
    interventions: Vec<Intervention>,
    path: Vec<PathPoint>,
    sum_abs_lateral: f64,
    max_abs_lateral: f64,
    samples: u64,
}

impl<'t> Session<'t> {
    /// The car on the centre line at the start (`s = 0`), heading along the road.
    pub fn new(track: &'t Track, speed: f64) -> Self {
        let mut car = Car::new(Pose { x: 0.0, y: 0.0, heading: 0.0 }, speed);
        let loc = place_on_centre_line(track, &mut car, 0.0);
        let path = vec![PathPoint { x: car.pose.x, y: car.pose.y, lateral: 0.0 }];
        Session {
            track,
            car,
            loc,
            frames: 0,
            offset: 0,
            progress: 0.0,
            interventions: Vec::new(),
            path,
            sum_abs_lateral: 0.0,
            max_abs_lateral: 0.0,
            samples: 0,
        }
    }

    pub fn car(&self) -> &Car {
        &self.car
    }

    /// The car's centre relative to the centre line, now.
    pub fn location(&self) -> &Location {
        &self.loc
    }

    /// Seconds since the start.
    pub fn time(&self) -> f64 {
        // Whole ticks, then steps: on a tick this is `frames * FRAME_DT` exactly.
        self.frames as f64 * FRAME_DT + STEP_DT * (self.offset as f64 / STEP_NS as f64)
    }

    /// Nanoseconds since the start.
    pub fn now_ns(&self) -> u64 {
        self.frames * FRAME_NS + self.offset
    }

    /// Whether the clock is on a frame tick (where a drive may end).
    pub fn on_tick(&self) -> bool {
        self.offset == 0
    }

    /// Nanoseconds to the next frame tick.
    pub fn to_next_tick_ns(&self) -> u64 {
        FRAME_NS - self.offset
    }

    /// Distance driven along the track, in laps.
    pub fn laps(&self) -> f64 {
        self.progress / self.track.length()
    }

    /// Interventions so far.
    pub fn interventions(&self) -> usize {
        self.interventions.len()
    }

    /// Drives to the next frame tick with `steering` held: from a tick, one whole frame.
    pub fn step(&mut self, steering: f32) {
        self.advance(self.to_next_tick_ns(), steering);
    }

    /// Drives on for `ns` nanoseconds with `steering` held, but not past the next frame tick;
    /// returns the nanoseconds driven.
    pub fn advance(&mut self, ns: u64, steering: f32) -> u64 {
        let until = self.offset.saturating_add(ns).min(FRAME_NS);
        let driven = until - self.offset;
        let length = self.track.length();
        while self.offset < until {
            let grid = (self.offset / STEP_NS + 1) * STEP_NS;
            let end = grid.min(until);
            // A whole step moves by exactly STEP_DT (the ratio is 1.0).
            let dt = STEP_DT * ((end - self.offset) as f64 / STEP_NS as f64);
            self.car.step(steering, dt);
            let loc = self.track.locate([self.car.pose.x, self.car.pose.y], Some(self.loc.segment));
            // Arc-length change, unwrapped across the start line.
            self.progress += (loc.s - self.loc.s + length / 2.0).rem_euclid(length) - length / 2.0;
            self.loc = loc;
            self.offset = end;
            if end == grid {
                self.check(loc);
            }
        }
        if self.offset == FRAME_NS {
            self.frames += 1;
            self.offset = 0;
            self.path.push(PathPoint { x: self.car.pose.x, y: self.car.pose.y, lateral: self.loc.lateral });
        }
        driven
    }

    /// The safety driver's look at the car on a grid point, and the statistics' sample.
    fn check(&mut self, loc: Location) {
        let err = loc.lateral.abs();
        self.sum_abs_lateral += err;
        self.max_abs_lateral = self.max_abs_lateral.max(err);
        self.samples += 1;
        if err > INTERVENTION_DISTANCE {
            let (x, y) = (self.car.pose.x, self.car.pose.y);
            self.interventions.push(Intervention { time: self.time(), x, y, s: loc.s });
            self.loc = place_on_centre_line(self.track, &mut self.car, loc.s);
        }
    }

    /// The drive so far.
    pub fn report(&self) -> Report {
        Report {
            elapsed_s: self.time(),
            laps: self.laps(),
            interventions: self.interventions.clone(),
            mean_abs_lateral: if self.samples == 0 { 0.0 } else { self.sum_abs_lateral / self.samples as f64 },
            max_abs_lateral: self.max_abs_lateral,
            path: self.path.clone(),
        }
    }
}

/// Puts the car on the centre line at arc length `s`, heading along the road, wheels straight.
fn place_on_centre_line(track: &Track, car: &mut Car, s: f64) -> Location {
    let (p, heading) = track.pose_at(s);
    *car = Car::new(Pose { x: p[0], y: p[1], heading }, car.speed);
    track.locate(p, None)
}
