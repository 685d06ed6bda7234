//! The expert driver, and the mistakes injected while it records.
//!
//! The expert reads the car's state on the track (not the camera): lateral error `e` of the
//! car's centre (positive left), course error `psi` (direction of motion minus the road's
//! heading) and the road's curvature over the next frame `kappa_road`. It commands the path
//! curvature `kappa = kappa_road - k1 e - k2 psi` with `k1 = w^2 / v^2`, `k2 = 2 w / v`, which
//! makes the lateral error a critically damped oscillator of natural frequency
//! `w` = [`RECOVERY_RATE`] (`e'' + 2 w e' + w^2 e = 0`): it follows the centre line through
//! curves and returns to it from an offset in about 2 s without overshoot. The curvature becomes
//! a steering command through the bicycle model ([`steering_for_curvature`]).
//!
//! For recording, [`Drift`] now and then pushes the executed steering to one side for up to
//! 1.8 s, until the car would be 0.25 to 0.7 m off the centre, and the expert brings it back.
//! The label recorded for every frame, drift or not, is the expert's own command for the state
//! the camera shows: during a push that is the recovery the expert asks for (it is outvoted
//! for a moment, but its answer is the right one for that picture). So the data shows the
//! network off-centre views with recovery labels and never teaches it the injected mistakes.

use common::rng::Rng;

use super::noise::{self, chance, uniform};
use super::track::{wrap_angle, Location, Track};
use super::vehicle::{steering_for_curvature, Car};
use super::FRAME_DT;

/// Natural frequency of the expert's return to the centre line (1/s).
pub const RECOVERY_RATE: f64 = 2.0;

/// Follows the road's centre line (see the module docs).
#[derive(Clone, Copy, Debug)]
pub struct Expert;

impl Expert {
    /// The steering command for `car` at `loc` on `track`, in `[-1, 1]`.
    pub fn steer(&self, track: &Track, car: &Car, loc: &Location) -> f32 {
        let v = car.speed.max(0.1);
        let road = track.mean_curvature(loc.s, v * FRAME_DT);
        let psi = wrap_angle(car.course() - loc.heading);
        let kappa = road - (RECOVERY_RATE / v).powi(2) * loc.lateral - 2.0 * RECOVERY_RATE / v * psi;
        steering_for_curvature(kappa).clamp(-1.0, 1.0) as f32
    }

    /// The expert's command for a car `offset_left` metres left of the centre line, parallel
    /// to a straight road: the label correction that makes a side camera's view (which sees
    /// the road as if the car were offset) consistent with the expert's own recoveries.
    pub fn correction_for_offset(offset_left: f64, speed: f64) -> f32 {
        steering_for_curvature(-(RECOVERY_RATE / speed).powi(2) * offset_left) as f32
    }
}

/// Injected mistakes for recording (see the module docs). Deterministic for a seed.
#[derive(Clone, Debug)]
pub struct Drift {
    rng: Rng,
    /// Time at which the next push starts.
    next: f64,
    push: Option<Push>,
}

#[derive(Clone, Copy, Debug)]
struct Push {
    /// Added to the expert's steering.
    bias: f32,
    until: f64,
    /// How far off the centre line (m) this push may take the car.
    limit: f64,
}

/// A push ends when the car, continuing its sideways motion for this long, would pass its
/// limit: the expert needs about that long to turn the motion around.
const REACTION: f64 = 0.3;
/// Steering noise added to every executed command (uniform, +-).
const NOISE: f64 = 0.02;

impl Drift {
    pub fn new(seed: u64) -> Self {
        let mut rng = noise::stream(seed, 0xD41F7);
        let next = uniform(&mut rng, 2.0, 5.0);
        Drift { rng, next, push: None }
    }

    /// The steering actually executed at time `t` when the expert commands `command` and the
    /// car is `lateral` metres left of the centre line, moving sideways at `lateral_rate` m/s.
    pub fn apply(&mut self, t: f64, command: f32, lateral: f64, lateral_rate: f64) -> f32 {
        if self.push.is_none() && t >= self.next {
            let side = if chance(&mut self.rng, 0.5) { 1.0 } else { -1.0 };
            self.push = Some(Push {
                bias: (side * uniform(&mut self.rng, 0.12, 0.3)) as f32,
                until: t + uniform(&mut self.rng, 0.6, 1.8),
                limit: uniform(&mut self.rng, 0.25, 0.7),
            });
        }
        let mut executed = command + (NOISE * uniform(&mut self.rng, -1.0, 1.0)) as f32;
        if let Some(push) = self.push {
            let heading_out = (lateral + REACTION * lateral_rate).abs();
            if t >= push.until || heading_out >= push.limit {
                self.push = None;
                self.next = t + uniform(&mut self.rng, 2.5, 7.0);
            } else {
                executed += push.bias;
            }
        }
        executed.clamp(-1.0, 1.0)
    }
}
