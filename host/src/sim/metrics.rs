//! How well a drive went: the PilotNet autonomy metric and lateral error statistics.

use std::fmt;

/// Seconds a human is assumed to need per intervention in the PilotNet autonomy metric.
pub const SECONDS_PER_INTERVENTION: f64 = 6.0;

/// PilotNet's autonomy, `(1 - interventions * 6 s / elapsed s) * 100`, in percent. Clamped at 0:
/// a car that needs help every 6 s or more often has no autonomy left to measure.
pub fn autonomy(interventions: usize, elapsed_s: f64) -> f64 {
    if elapsed_s <= 0.0 {
        return 0.0;
    }
    ((1.0 - interventions as f64 * SECONDS_PER_INTERVENTION / elapsed_s) * 100.0).max(0.0)
}

/// A point of the driven path, one per camera frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathPoint {
    pub x: f64,
    pub y: f64,
    /// Signed distance from the centre line (m, positive left).
    pub lateral: f64,
}

/// Where the car was when it was put back on the centre line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Intervention {
    /// Seconds since the start.
    pub time: f64,
    pub x: f64,
    pub y: f64,
    /// Arc length along the track (m).
    pub s: f64,
}

/// The outcome of one drive.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub elapsed_s: f64,
    /// Distance driven along the track, in laps (fractional).
    pub laps: f64,
    pub interventions: Vec<Intervention>,
    /// Mean and largest absolute lateral error of the car's centre (m), over every physics step.
    pub mean_abs_lateral: f64,
    pub max_abs_lateral: f64,
    pub path: Vec<PathPoint>,
}

impl Report {
    /// Autonomy in percent (see [`autonomy`]).
    pub fn autonomy(&self) -> f64 {
        autonomy(self.interventions.len(), self.elapsed_s)
    }

    /// Whole laps driven.
    pub fn laps_completed(&self) -> u64 {
        // A hair of tolerance: a lap of N samples ends exactly on the start line.
        (self.laps + 1e-9).floor() as u64
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "autonomy {:.1}%  interventions {}  time {:.1} s  laps {} ({:.2})  lateral error mean {:.3} m, max {:.3} m",
            self.autonomy(),
            self.interventions.len(),
            self.elapsed_s,
            self.laps_completed(),
            self.laps,
            self.mean_abs_lateral,
            self.max_abs_lateral
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autonomy_formula() {
        assert_eq!(autonomy(0, 100.0), 100.0);
        assert!((autonomy(2, 60.0) - 80.0).abs() < 1e-12);
        assert_eq!(autonomy(20, 60.0), 0.0);
    }
}
