//! The car: a kinematic bicycle model at constant speed.
//!
//! The state is the pose of the car's centre (midway between the axles). Steering `u` in
//! `[-1, 1]` sets the front wheel angle `delta = -u * MAX_WHEEL_ANGLE` (positive `u` turns
//! right, as in the Udacity simulator; a positive `delta` turns left, counter-clockwise). With
//! the slip angle `beta = atan(tan(delta) / 2)` the centre moves along `heading + beta` and the
//! heading turns at `speed * cos(beta) * tan(delta) / WHEELBASE`. Steering is held constant
//! over a step, so each step is an exact circular arc (no integration drift).

use std::f64::consts::PI;

/// Distance between the axles (m), a mid-size car.
pub const WHEELBASE: f64 = 2.6;
/// Front wheel angle at full steering (radians): 25 degrees, a turning circle of 5.6 m radius.
pub const MAX_WHEEL_ANGLE: f64 = 25.0 * PI / 180.0;
/// Default speed: 9 m/s, about 20 mph (the Udacity simulator's recordings run at up to 30 mph).
pub const DEFAULT_SPEED: f64 = 9.0;
/// Metres per second to miles per hour (the Udacity log's speed column).
pub const MPH_PER_MPS: f64 = 2.236_936;

/// Position of the car's centre and its heading (radians, counter-clockwise from +x).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pose {
    pub x: f64,
    pub y: f64,
    pub heading: f64,
}

impl Pose {
    /// Unit vector pointing forward.
    pub fn forward(&self) -> [f64; 2] {
        [self.heading.cos(), self.heading.sin()]
    }

    /// Unit vector pointing to the car's left.
    pub fn left(&self) -> [f64; 2] {
        [-self.heading.sin(), self.heading.cos()]
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Car {
    pub pose: Pose,
    /// Metres per second, constant.
    pub speed: f64,
    /// The steering in effect, in `[-1, 1]`.
    pub steering: f32,
}

/// Front wheel angle and slip angle of the centre for a steering command.
fn angles(steering: f32) -> (f64, f64) {
    let delta = -(steering.clamp(-1.0, 1.0) as f64) * MAX_WHEEL_ANGLE;
    (delta, (delta.tan() / 2.0).atan())
}

impl Car {
    /// A car standing at `pose` with the wheels straight.
    pub fn new(pose: Pose, speed: f64) -> Self {
        Car { pose, speed, steering: 0.0 }
    }

    /// Direction in which the car's centre moves: heading plus the slip angle.
    pub fn course(&self) -> f64 {
        self.pose.heading + angles(self.steering).1
    }

    /// Moves the car for `dt` seconds with `steering` held (clamped to `[-1, 1]`).
    pub fn step(&mut self, steering: f32, dt: f64) {
        self.steering = steering.clamp(-1.0, 1.0);
        let (delta, beta) = angles(self.steering);
        let yaw_rate = self.speed * beta.cos() * delta.tan() / WHEELBASE;
        let p = &mut self.pose;
        let course = p.heading + beta;
        if yaw_rate.abs() < 1e-12 {
            p.x += self.speed * dt * course.cos();
            p.y += self.speed * dt * course.sin();
        } else {
            let r = self.speed / yaw_rate;
            let turn = yaw_rate * dt;
            p.x += r * ((course + turn).sin() - course.sin());
            p.y -= r * ((course + turn).cos() - course.cos());
            p.heading += turn;
        }
    }
}

/// The steering that makes the car's centre follow a path of curvature `kappa` (1/m, positive
/// left), before clamping to `[-1, 1]`.
pub fn steering_for_curvature(kappa: f64) -> f64 {
    // Radius R of the centre's circle: R = L / (cos(beta) tan(delta)) with tan(beta) = tan(delta)/2,
    // so tan(delta) = L kappa / sqrt(1 - (L kappa / 2)^2).
    let lk = WHEELBASE * kappa;
    let tan_delta = lk / (1.0 - (lk / 2.0).powi(2)).max(1e-6).sqrt();
    -tan_delta.atan() / MAX_WHEEL_ANGLE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steering_for_a_curvature_drives_that_circle() {
        let r = 20.0;
        let u = steering_for_curvature(1.0 / r) as f32;
        assert!(u < 0.0, "a left curve needs negative (left) steering");
        // The centre moves at the slip angle to the heading: start with the motion tangent.
        let beta = ((-(u as f64) * MAX_WHEEL_ANGLE).tan() / 2.0).atan();
        let mut car = Car::new(Pose { x: 0.0, y: -r, heading: -beta }, 9.0);
        for _ in 0..1000 {
            car.step(u, 0.01);
            let radius = car.pose.x.hypot(car.pose.y);
            assert!((radius - r).abs() < 1e-4, "{radius}");
        }
    }

    #[test]
    fn positive_steering_turns_right() {
        let mut car = Car::new(Pose { x: 0.0, y: 0.0, heading: 0.0 }, 9.0);
        car.step(1.0, 0.5);
        assert!(car.pose.heading < 0.0 && car.pose.y < 0.0, "{car:?}");
    }
}
