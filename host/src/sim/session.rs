//! A car on a track, frame by frame: physics sub-steps, lap progress, interventions and the
//! statistics of the drive.
//!
//! Each frame the driver's steering is held for [`FRAME_DT`] and the car moves in
//! [`PHYSICS_STEPS`] exact arcs. After every sub-step the car's centre is located on the centre
//! line; when it is more than [`INTERVENTION_DISTANCE`] off, an intervention is counted and the
//! car is put back on the centre line at the nearest point, heading along the road (as a safety
//! driver would), and the drive goes on.

use super::metrics::{Intervention, PathPoint, Report};
use super::track::{Location, Track};
use super::vehicle::{Car, Pose};
use super::{FRAME_DT, PHYSICS_STEPS};

/// Lateral error (m) beyond which the safety driver takes over. The road's half width is 3.75 m
/// and the car's 1 m: at 1 m off the centre line the car is still well on the road.
pub const INTERVENTION_DISTANCE: f64 = 1.0;

pub struct Session<'t> {
    track: &'t Track,
    car: Car,
    loc: Location,
    frames: u64,
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
        self.frames as f64 * FRAME_DT
    }

    /// Distance driven along the track, in laps.
    pub fn laps(&self) -> f64 {
        self.progress / self.track.length()
    }

    /// Interventions so far.
    pub fn interventions(&self) -> usize {
        self.interventions.len()
    }

    /// Drives one frame with `steering` held.
    pub fn step(&mut self, steering: f32) {
        let dt = FRAME_DT / PHYSICS_STEPS as f64;
        let length = self.track.length();
        for k in 1..=PHYSICS_STEPS {
            self.car.step(steering, dt);
            let loc = self.track.locate([self.car.pose.x, self.car.pose.y], Some(self.loc.segment));
            // Arc-length change, unwrapped across the start line.
            self.progress += (loc.s - self.loc.s + length / 2.0).rem_euclid(length) - length / 2.0;
            self.loc = loc;
            let err = loc.lateral.abs();
            self.sum_abs_lateral += err;
            self.max_abs_lateral = self.max_abs_lateral.max(err);
            self.samples += 1;
            if err > INTERVENTION_DISTANCE {
                let (x, y) = (self.car.pose.x, self.car.pose.y);
                let time = self.time() + dt * k as f64;
                self.interventions.push(Intervention { time, x, y, s: loc.s });
                self.loc = place_on_centre_line(self.track, &mut self.car, loc.s);
            }
        }
        self.frames += 1;
        self.path.push(PathPoint { x: self.car.pose.x, y: self.car.pose.y, lateral: self.loc.lateral });
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
