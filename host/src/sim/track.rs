//! Procedurally generated closed tracks: the road's centre line and the questions the car, the
//! expert and the renderer ask of it (where am I, which way does the road go, how sharply).
//!
//! Generation ([`Track::generate`]) works like road design: a polygon of 5 to 11 corners on a
//! perturbed circle (random radius, angles, an oval stretch, and dents where a corner sits well
//! inside the circle), whose edges are the straights and whose corners are rounded by circular
//! arcs tangent to both edges, sharp (16-25 m radius) or gentle (25-90 m). Dents give S-bends.
//! The polyline is resampled every 0.5 m of arc length. A candidate is rejected, and the next
//! sub-seed tried, when a curve is tighter than [`MIN_RADIUS`] or two parts of the road come
//! closer than [`SEPARATION`] (so roads, kerbs and shoulders never overlap or cross).

use std::f64::consts::{PI, TAU};
use std::fmt;

use super::noise::{self, chance, uniform};

/// Half the road's width: a 7.5 m two-lane road (a car is about 2 m wide).
pub const ROAD_HALF_WIDTH: f64 = 3.75;
/// Tightest curve radius a generated track has (a sharp bend at 9 m/s: 0.55 g).
pub const MIN_RADIUS: f64 = 15.0;
/// Least distance between two parts of the road that are more than `SEPARATION_ARC` apart
/// along it: two road widths plus shoulders and grass in between.
pub const SEPARATION: f64 = 24.0;
const SEPARATION_ARC: f64 = 40.0;
/// Generated tracks are at least this long (m): 45 s a lap at the default speed.
const MIN_GENERATED_LENGTH: f64 = 400.0;
/// Arc length between centre-line samples (approximately: it divides the length exactly).
const SPACING: f64 = 0.5;
/// Curvature is averaged over this many samples on each side (2 m), smoothing the spline's
/// jumps of curvature at its control points.
const CURVATURE_SMOOTHING: usize = 4;
/// A generated candidate track is tried with this many sub-seeds at most. Typically a few
/// suffice; the tests check that many seeds succeed.
const MAX_ATTEMPTS: u64 = 10_000;

/// A closed road centre line, sampled at equal arc-length steps, driven in the order of its
/// samples.
#[derive(Clone, Debug)]
pub struct Track {
    points: Vec<[f64; 2]>,
    headings: Vec<f64>,
    curvatures: Vec<f64>,
    spacing: f64,
}

/// Where a point is relative to the centre line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Location {
    /// Arc length of the nearest centre-line point, in `[0, length)`.
    pub s: f64,
    /// Signed distance from the centre line, positive to the left of the driving direction.
    pub lateral: f64,
    /// Heading of the centre line there (radians, counter-clockwise from +x).
    pub heading: f64,
    /// Index of the nearest centre-line segment: the search hint for the next query.
    pub segment: usize,
}

/// Why a centre line is not a usable track.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TrackError {
    TooShort { length: f64 },
    TooSharp { s: f64, radius: f64 },
    TooClose { s1: f64, s2: f64, distance: f64 },
}

impl fmt::Display for TrackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TrackError::TooShort { length } => write!(f, "track is only {length:.1} m long"),
            TrackError::TooSharp { s, radius } => {
                write!(f, "curve of radius {radius:.1} m at {s:.0} m (minimum {MIN_RADIUS} m)")
            }
            TrackError::TooClose { s1, s2, distance } => {
                write!(f, "the road at {s1:.0} m and at {s2:.0} m is only {distance:.1} m apart (minimum {SEPARATION} m)")
            }
        }
    }
}

impl std::error::Error for TrackError {}

impl Track {
    /// The track of `seed`: the first valid candidate among its sub-seeds.
    pub fn generate(seed: u64) -> Track {
        (0..MAX_ATTEMPTS)
            .filter_map(|attempt| Track::from_centre_line(&candidate(seed, attempt)).ok())
            .find(|track| track.length() >= MIN_GENERATED_LENGTH)
            .unwrap_or_else(|| panic!("no valid track for seed {seed} in {MAX_ATTEMPTS} attempts"))
    }

    /// A track through a closed polyline (the last point connects back to the first), resampled
    /// by arc length and checked for sharpness and self-intersection.
    pub fn from_centre_line(polyline: &[[f64; 2]]) -> Result<Track, TrackError> {
        let (points, spacing) = resample(polyline, SPACING);
        let length = spacing * points.len() as f64;
        if points.len() < 16 || length < 4.0 * SEPARATION_ARC {
            return Err(TrackError::TooShort { length });
        }
        let n = points.len();
        let headings: Vec<f64> = (0..n)
            .map(|i| {
                let (a, b) = (points[(i + n - 1) % n], points[(i + 1) % n]);
                (b[1] - a[1]).atan2(b[0] - a[0])
            })
            .collect();
        let raw: Vec<f64> = (0..n).map(|i| wrap_angle(headings[(i + 1) % n] - headings[(i + n - 1) % n]) / (2.0 * spacing)).collect();
        let k = CURVATURE_SMOOTHING;
        let curvatures = (0..n).map(|i| (0..=2 * k).map(|j| raw[(i + n + j - k) % n]).sum::<f64>() / (2 * k + 1) as f64).collect();
        let track = Track { points, headings, curvatures, spacing };
        track.check()?;
        Ok(track)
    }

    fn check(&self) -> Result<(), TrackError> {
        let n = self.points.len();
        if let Some(i) = (0..n).find(|&i| self.curvatures[i].abs() > 1.0 / MIN_RADIUS) {
            return Err(TrackError::TooSharp { s: self.s_of(i), radius: 1.0 / self.curvatures[i].abs() });
        }
        // Every 2 m is close enough: SEPARATION has metres to spare.
        let step = (2.0 / self.spacing).round().max(1.0) as usize;
        let min_gap = (SEPARATION_ARC / self.spacing).ceil() as usize;
        for i in (0..n).step_by(step) {
            for j in (i + min_gap..n).step_by(step) {
                if n - (j - i) < min_gap {
                    break;
                }
                let (a, b) = (self.points[i], self.points[j]);
                let d2 = (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2);
                if d2 < SEPARATION * SEPARATION {
                    return Err(TrackError::TooClose { s1: self.s_of(i), s2: self.s_of(j), distance: d2.sqrt() });
                }
            }
        }
        Ok(())
    }

    /// Length of one lap (m).
    pub fn length(&self) -> f64 {
        self.spacing * self.points.len() as f64
    }

    /// The centre-line samples, in driving order.
    pub fn points(&self) -> &[[f64; 2]] {
        &self.points
    }

    fn s_of(&self, i: usize) -> f64 {
        i as f64 * self.spacing
    }

    /// Sample index at or before `s` and the fraction to the next one.
    fn sample(&self, s: f64) -> (usize, usize, f64) {
        let n = self.points.len();
        let x = s.rem_euclid(self.length()) / self.spacing;
        let i = (x.floor() as usize).min(n - 1);
        (i, (i + 1) % n, x - i as f64)
    }

    /// The centre-line point and heading at arc length `s` (any real: it wraps around).
    pub fn pose_at(&self, s: f64) -> ([f64; 2], f64) {
        let (i, j, t) = self.sample(s);
        let (a, b) = (self.points[i], self.points[j]);
        let heading = self.headings[i] + wrap_angle(self.headings[j] - self.headings[i]) * t;
        ([a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t], heading)
    }

    /// Signed curvature at `s` (1/m, positive turning left), interpolated between samples.
    pub fn curvature_at(&self, s: f64) -> f64 {
        let (i, j, t) = self.sample(s);
        self.curvatures[i] + (self.curvatures[j] - self.curvatures[i]) * t
    }

    /// Mean curvature over the stretch `[s, s + ahead]`.
    pub fn mean_curvature(&self, s: f64, ahead: f64) -> f64 {
        let steps = (ahead / self.spacing).ceil().max(1.0) as usize;
        (0..=steps).map(|k| self.curvature_at(s + ahead * k as f64 / steps as f64)).sum::<f64>() / (steps + 1) as f64
    }

    /// Where `p` is relative to the centre line. With a `hint` (the segment of the previous
    /// query) only the road within 20 m of it is searched, unless `p` turns out to be far from
    /// it; without one, the whole track.
    pub fn locate(&self, p: [f64; 2], hint: Option<usize>) -> Location {
        let n = self.points.len();
        if let Some(h) = hint {
            let window = (20.0 / self.spacing) as usize;
            let near = self.nearest(p, (0..=2 * window).map(|k| (h + n + k - window) % n));
            if near.lateral.abs() < 10.0 {
                return near;
            }
        }
        self.nearest(p, 0..n)
    }

    fn nearest(&self, p: [f64; 2], segments: impl Iterator<Item = usize>) -> Location {
        let n = self.points.len();
        let mut best = (f64::INFINITY, 0, 0.0, 0.0);
        for i in segments {
            let (a, b) = (self.points[i], self.points[(i + 1) % n]);
            let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
            let (px, py) = (p[0] - a[0], p[1] - a[1]);
            let len2 = dx * dx + dy * dy;
            let t = ((px * dx + py * dy) / len2).clamp(0.0, 1.0);
            let (ex, ey) = (px - t * dx, py - t * dy);
            let d2 = ex * ex + ey * ey;
            if d2 < best.0 {
                let side = if dx * py - dy * px >= 0.0 { 1.0 } else { -1.0 };
                best = (d2, i, t, side * d2.sqrt());
            }
        }
        let (_, i, t, lateral) = best;
        let s = (self.s_of(i) + t * self.spacing).rem_euclid(self.length());
        let heading = self.headings[i] + wrap_angle(self.headings[(i + 1) % n] - self.headings[i]) * t;
        Location { s, lateral, heading, segment: i }
    }

    /// The bounding box of the centre line: `(min, max)`.
    pub fn bounds(&self) -> ([f64; 2], [f64; 2]) {
        self.points
            .iter()
            .fold(([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]), |(lo, hi), p| ([lo[0].min(p[0]), lo[1].min(p[1])], [hi[0].max(p[0]), hi[1].max(p[1])]))
    }
}

/// Candidate `attempt` for `seed` as a dense closed polyline: a perturbed polygon whose
/// corners are rounded by circular arcs.
fn candidate(seed: u64, attempt: u64) -> Vec<[f64; 2]> {
    let mut rng = noise::stream(seed, attempt.wrapping_add(1));
    let n = 5 + (rng.next_u64() % 7) as usize;
    let radius = uniform(&mut rng, 75.0, 115.0);
    let wobble = uniform(&mut rng, 0.1, 0.3);
    let stretch = uniform(&mut rng, 0.75, 1.3);
    let mut corners: Vec<[f64; 2]> = (0..n)
        .map(|k| {
            let angle = TAU * (k as f64 + uniform(&mut rng, -0.3, 0.3)) / n as f64;
            let mut r = radius * (1.0 + wobble * uniform(&mut rng, -1.0, 1.0));
            // A dent: the road swings inwards and out again, an S-bend on each side.
            if chance(&mut rng, 0.3) {
                r *= uniform(&mut rng, 0.45, 0.75);
            }
            [r * angle.cos() * stretch, r * angle.sin() / stretch]
        })
        .collect();
    if rng.bool() {
        corners.reverse();
    }
    let radii: Vec<f64> = (0..n).map(|_| if chance(&mut rng, 0.35) { uniform(&mut rng, 16.0, 25.0) } else { uniform(&mut rng, 25.0, 90.0) }).collect();
    rounded_polygon(&corners, &radii, 0.25)
}

/// The closed polygon through `corners` with corner `i` replaced by a circular arc of radius
/// up to `radii[i]` tangent to both edges (straights between the arcs), sampled about every
/// `step` metres. A radius shrinks where two arcs would not fit on one edge (the track check
/// then rejects a corner that became too sharp).
fn rounded_polygon(corners: &[[f64; 2]], radii: &[f64], step: f64) -> Vec<[f64; 2]> {
    let n = corners.len();
    let unit = |a: [f64; 2], b: [f64; 2]| {
        let d = dist(a, b);
        [(b[0] - a[0]) / d, (b[1] - a[1]) / d]
    };
    let dirs: Vec<[f64; 2]> = (0..n).map(|i| unit(corners[i], corners[(i + 1) % n])).collect();
    let turns: Vec<f64> = (0..n)
        .map(|i| {
            let (a, b) = (dirs[(i + n - 1) % n], dirs[i]);
            wrap_angle(b[1].atan2(b[0]) - a[1].atan2(a[0]))
        })
        .collect();
    let tangent = |i: usize, r: f64| r * (turns[i].abs() / 2.0).tan();
    let mut radii = radii.to_vec();
    for i in 0..n {
        // Edge i runs from corner i to corner i + 1; its two arcs may use 90% of it.
        let j = (i + 1) % n;
        let room = 0.9 * dist(corners[i], corners[j]);
        let need = tangent(i, radii[i]) + tangent(j, radii[j]);
        if need > room {
            radii[i] *= room / need;
            radii[j] *= room / need;
        }
    }
    let mut out = Vec::new();
    for i in 0..n {
        let (d_in, d_out, turn, r) = (dirs[(i + n - 1) % n], dirs[i], turns[i], radii[i]);
        let t = tangent(i, r);
        let c = corners[i];
        let start = [c[0] - d_in[0] * t, c[1] - d_in[1] * t];
        let side = turn.signum();
        let centre = [start[0] - d_in[1] * r * side, start[1] + d_in[0] * r * side];
        let a0 = (start[1] - centre[1]).atan2(start[0] - centre[0]);
        let arc_steps = (r * turn.abs() / step).ceil().max(1.0) as usize;
        for k in 0..arc_steps {
            let a = a0 + turn * k as f64 / arc_steps as f64;
            out.push([centre[0] + r * a.cos(), centre[1] + r * a.sin()]);
        }
        let end = [c[0] + d_out[0] * t, c[1] + d_out[1] * t];
        let next = corners[(i + 1) % n];
        let t_next = tangent((i + 1) % n, radii[(i + 1) % n]);
        let straight_end = [next[0] - d_out[0] * t_next, next[1] - d_out[1] * t_next];
        let straight_steps = (dist(end, straight_end) / step).ceil().max(1.0) as usize;
        for k in 0..straight_steps {
            let f = k as f64 / straight_steps as f64;
            out.push([end[0] + (straight_end[0] - end[0]) * f, end[1] + (straight_end[1] - end[1]) * f]);
        }
    }
    out
}

/// `polyline` (closed) resampled at equal arc-length steps close to `step`; returns the
/// points and the exact step.
fn resample(polyline: &[[f64; 2]], step: f64) -> (Vec<[f64; 2]>, f64) {
    let n = polyline.len();
    let seg_len: Vec<f64> = (0..n).map(|i| dist(polyline[i], polyline[(i + 1) % n])).collect();
    let total: f64 = seg_len.iter().sum();
    let count = (total / step).round().max(1.0) as usize;
    let spacing = total / count as f64;
    let mut out = Vec::with_capacity(count);
    let (mut seg, mut seg_start) = (0, 0.0);
    for k in 0..count {
        let s = k as f64 * spacing;
        while seg < n - 1 && seg_start + seg_len[seg] <= s {
            seg_start += seg_len[seg];
            seg += 1;
        }
        let t = if seg_len[seg] > 0.0 { (s - seg_start) / seg_len[seg] } else { 0.0 };
        let (a, b) = (polyline[seg], polyline[(seg + 1) % n]);
        out.push([a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]);
    }
    (out, spacing)
}

pub fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// An angle in `(-pi, pi]`.
pub fn wrap_angle(a: f64) -> f64 {
    let a = a.rem_euclid(TAU);
    if a > PI {
        a - TAU
    } else {
        a
    }
}

/// A circle of `radius` driven counter-clockwise, starting at `(radius, 0)` (for tests and
/// calibration: a track whose answers are known in closed form).
pub fn circle(radius: f64) -> Vec<[f64; 2]> {
    let n = (TAU * radius / 0.25).ceil() as usize;
    (0..n).map(|k| k as f64 * TAU / n as f64).map(|a| [radius * a.cos(), radius * a.sin()]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_seeds_give_valid_tracks_of_sensible_size() {
        for seed in 0..40 {
            let track = Track::generate(seed);
            let len = track.length();
            assert!((250.0..1500.0).contains(&len), "seed {seed}: length {len}");
            let (lo, hi) = track.bounds();
            assert!(hi[0] - lo[0] < 320.0 && hi[1] - lo[1] < 320.0, "seed {seed}: {lo:?}..{hi:?}");
        }
    }

    #[test]
    fn tracks_have_straights_and_sharp_curves() {
        let (mut straight, mut sharp) = (0.0, 0.0);
        for seed in 0..10 {
            let t = Track::generate(seed);
            let ds = t.length() / t.points().len() as f64;
            for &k in &t.curvatures {
                straight += if k.abs() < 1.0 / 400.0 { ds } else { 0.0 };
                sharp += if k.abs() > 1.0 / 30.0 { ds } else { 0.0 };
            }
        }
        assert!(straight > 500.0 && sharp > 200.0, "straight {straight:.0} m, sharp {sharp:.0} m over 10 tracks");
    }

    #[test]
    fn locate_on_a_circle_matches_geometry() {
        let r = 40.0;
        let track = Track::from_centre_line(&circle(r)).unwrap();
        assert!((track.length() - TAU * r).abs() < 0.05);
        assert!((track.curvature_at(10.0) - 1.0 / r).abs() < 1e-3);
        // A point inside the circle is to the left of a counter-clockwise driver.
        let a: f64 = 1.0;
        let loc = track.locate([(r - 0.7) * a.cos(), (r - 0.7) * a.sin()], None);
        assert!((loc.lateral - 0.7).abs() < 1e-3, "{loc:?}");
        assert!((loc.s - r * a).abs() < 0.01, "{loc:?}");
        assert!((wrap_angle(loc.heading - (a + PI / 2.0))).abs() < 1e-3);
        let hinted = track.locate([(r + 0.3) * a.cos(), (r + 0.3) * a.sin()], Some(loc.segment));
        assert!((hinted.lateral + 0.3).abs() < 1e-3);
    }

    #[test]
    fn a_figure_eight_is_rejected() {
        let eight: Vec<[f64; 2]> = (0..2000).map(|k| k as f64 * TAU / 2000.0).map(|a| [100.0 * a.sin(), 60.0 * (2.0 * a).sin()]).collect();
        assert!(matches!(Track::from_centre_line(&eight), Err(TrackError::TooClose { .. })));
    }
}
