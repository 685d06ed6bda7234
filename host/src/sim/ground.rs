//! The ground as a top-down texture map, painted once per track: grass with dirt patches, the
//! asphalt road with its edge and centre lines, kerbs, shoulders, and tree shadows.
//!
//! Each texel near the road gets road coordinates from the nearest point of the centre line
//! (`s` along, `d` across), so markings follow the curves exactly; every boundary is
//! antialiased by the share of the texel it covers. The camera then samples this map through
//! its mip chain, which keeps the far road free of shimmer.

use super::look::{mix, scale, Kerbs, Look, Rgb};
use super::noise::{self, fractal, hash_unit, uniform};
use super::texture::{pack_f, unpack, Level, MipMap};
use super::track::{Track, ROAD_HALF_WIDTH};

/// Texel size (m): 10 cm, enough for 15 cm wide lines to show.
pub const TEXEL: f64 = 0.1;
/// Ground painted around the track's bounding box (m). Beyond it the map's edge texels
/// repeat, which the haze hides at that distance.
const MARGIN: f64 = 40.0;
/// Texels within this distance of the centre line (m) get road coordinates.
const CORRIDOR: f64 = ROAD_HALF_WIDTH + 2.6;
/// Spacing of the low-frequency noise grid, in texels (interpolated in between).
const NOISE_STEP: usize = 8;
/// Edge line: 15 cm wide, 20 cm inside the road's edge.
const EDGE_LINE: (f64, f64) = (ROAD_HALF_WIDTH - 0.35, ROAD_HALF_WIDTH - 0.2);
const CENTRE_LINE_HALF_WIDTH: f64 = 0.06;
const KERB_WIDTH: f64 = 0.6;
/// Kerbs on curves: where the curvature averaged over 20 m of road exceeds 1/80 m.
const KERB_CURVATURE: f64 = 1.0 / 80.0;
/// Dashes of the centre line: 3 m painted, 6 m gap (each adjusted to fit a lap exactly).
const DASH_PERIOD: f64 = 9.0;
const KERB_STRIPE: f64 = 1.2;

pub struct Ground {
    pub map: MipMap,
    /// World coordinates of the centre of texel (0, 0) of level 0; texel `(i, j)` is at
    /// `origin + (i, j) * TEXEL` (`j` grows northwards).
    pub origin: [f64; 2],
}

impl Ground {
    pub fn paint(track: &Track, look: &Look, seed: u64) -> Ground {
        let (lo, hi) = track.bounds();
        let origin = [lo[0] - MARGIN, lo[1] - MARGIN];
        let w = ((hi[0] - lo[0] + 2.0 * MARGIN) / TEXEL).ceil() as usize + 1;
        let h = ((hi[1] - lo[1] + 2.0 * MARGIN) / TEXEL).ceil() as usize + 1;
        let coords = RoadCoords::compute(track, origin, w, h);
        let painter = Painter::new(track, look, seed, w, h);
        let mut texels = vec![0u32; w * h];
        // Texels are independent: paint bands of rows in parallel (same bytes either way).
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        let band_rows = h.div_ceil(threads);
        std::thread::scope(|scope| {
            for (band, out) in texels.chunks_mut(band_rows * w).enumerate() {
                let (painter, coords) = (&painter, &coords);
                scope.spawn(move || {
                    for (r, row) in out.chunks_mut(w).enumerate() {
                        let y = band * band_rows + r;
                        for (x, texel) in row.iter_mut().enumerate() {
                            let i = y * w + x;
                            let mut colour = painter.grass(x, y);
                            if coords.d[i].is_finite() {
                                colour = painter.road(colour, coords.s[i] as f64, coords.d[i] as f64, x, y);
                            }
                            *texel = pack_f(colour);
                        }
                    }
                });
            }
        });
        let mut base = Level { w, h, texels };
        cast_shadows(&mut base, track, look, seed, origin);
        Ground { map: MipMap::new(base), origin }
    }
}

/// For every texel within [`CORRIDOR`] of the centre line: arc length `s` of the nearest
/// centre-line point and signed distance `d` (positive left); `d` is infinite elsewhere.
struct RoadCoords {
    s: Vec<f32>,
    d: Vec<f32>,
}

/// Each segment claims the texels of its slab, the rectangle across it out to the corridor's
/// edge, lengthened at both ends so that the slabs of consecutive segments also cover the
/// wedge between them on the outside of a bend (0.2 m wide at the corridor's edge on the
/// sharpest curve). Where slabs overlap the nearer segment wins.
const SLAB_OVERLAP: f64 = 0.3;

impl RoadCoords {
    fn compute(track: &Track, origin: [f64; 2], w: usize, h: usize) -> Self {
        let mut s_out = vec![0f32; w * h];
        let mut d_out = vec![f32::INFINITY; w * h];
        let points = track.points();
        let n = points.len();
        let spacing = track.length() / n as f64;
        for i in 0..n {
            let (a, b) = (points[i], points[(i + 1) % n]);
            let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
            let len2 = dx * dx + dy * dy;
            let len = len2.sqrt();
            let (ux, uy) = (dx / len, dy / len);
            let (e, c) = (SLAB_OVERLAP, CORRIDOR);
            let slab = [
                [a[0] - ux * e + uy * c, a[1] - uy * e - ux * c],
                [b[0] + ux * e + uy * c, b[1] + uy * e - ux * c],
                [b[0] + ux * e - uy * c, b[1] + uy * e + ux * c],
                [a[0] - ux * e - uy * c, a[1] - uy * e + ux * c],
            ];
            for (ty, xs) in scan_rows(&slab, origin, w, h) {
                let py = origin[1] + ty as f64 * TEXEL - a[1];
                for tx in xs {
                    let px = origin[0] + tx as f64 * TEXEL - a[0];
                    let t = ((px * dx + py * dy) / len2).clamp(0.0, 1.0);
                    let (ex, ey) = (px - t * dx, py - t * dy);
                    let d2 = ex * ex + ey * ey;
                    let k = ty * w + tx;
                    let best = d_out[k] as f64;
                    if d2 < CORRIDOR * CORRIDOR && d2 < best * best {
                        let side = if dx * py - dy * px >= 0.0 { 1.0 } else { -1.0 };
                        d_out[k] = (side * d2.sqrt()) as f32;
                        s_out[k] = ((i as f64 + t) * spacing) as f32;
                    }
                }
            }
        }
        RoadCoords { s: s_out, d: d_out }
    }
}

/// The texels whose centres lie inside the convex polygon `poly` (world coordinates): per
/// texel row, the range of columns.
fn scan_rows(poly: &[[f64; 2]], origin: [f64; 2], w: usize, h: usize) -> impl Iterator<Item = (usize, std::ops::RangeInclusive<usize>)> + '_ {
    let (lo, hi) = poly.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| (lo.min(p[1]), hi.max(p[1])));
    let first = ((lo - origin[1]) / TEXEL).ceil().max(0.0) as usize;
    let last = (((hi - origin[1]) / TEXEL).floor().max(-1.0) as i64).min(h as i64 - 1);
    (first as i64..=last).filter_map(move |ty| {
        let y = origin[1] + ty as f64 * TEXEL;
        let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
        for k in 0..poly.len() {
            let (p, q) = (poly[k], poly[(k + 1) % poly.len()]);
            if (p[1] <= y) != (q[1] <= y) {
                let x = p[0] + (y - p[1]) / (q[1] - p[1]) * (q[0] - p[0]);
                x0 = x0.min(x);
                x1 = x1.max(x);
            }
        }
        let a = ((x0 - origin[0]) / TEXEL).ceil().max(0.0);
        let b = ((x1 - origin[0]) / TEXEL).floor().min(w as f64 - 1.0);
        (x0 <= x1 && a <= b).then_some((ty as usize, a as usize..=b as usize))
    })
}

/// Colours of the ground, texel by texel.
struct Painter<'a> {
    look: &'a Look,
    seed: u64,
    /// Low-frequency noise on a coarse grid: `[brightness, dirt]` per node.
    fields: Vec<[f32; 2]>,
    fields_w: usize,
    /// Per centre-line sample: whether it has kerbs.
    kerbs: Vec<bool>,
    track_length: f64,
    dash_period: f64,
    stripe: f64,
}

impl<'a> Painter<'a> {
    fn new(track: &Track, look: &'a Look, seed: u64, w: usize, h: usize) -> Self {
        let (fw, fh) = (w / NOISE_STEP + 2, h / NOISE_STEP + 2);
        let node = NOISE_STEP as f64 * TEXEL;
        let mut fields = Vec::with_capacity(fw * fh);
        for j in 0..fh {
            for i in 0..fw {
                let (x, y) = (i as f64 * node, j as f64 * node);
                let tone = fractal(seed ^ 0x70E, 24.0, 3, None, x, y);
                let dirt = fractal(seed ^ 0xD127, 30.0, 3, None, x, y);
                fields.push([tone as f32, dirt as f32]);
            }
        }
        let length = track.length();
        let n = track.points().len();
        let kerbs = (0..n)
            .map(|i| match look.kerbs {
                Kerbs::None => false,
                Kerbs::Everywhere => true,
                Kerbs::Curves => {
                    let s = i as f64 * length / n as f64;
                    track.mean_curvature(s - 10.0, 20.0).abs() > KERB_CURVATURE
                }
            })
            .collect();
        let fit = |period: f64, even: bool| {
            let k = (length / period).round().max(2.0) as u64;
            length / (if even { k + k % 2 } else { k }) as f64
        };
        Painter { look, seed, fields, fields_w: fw, kerbs, track_length: length, dash_period: fit(DASH_PERIOD, false), stripe: fit(KERB_STRIPE, true) }
    }

    /// Bilinear sample of the coarse noise fields at texel `(x, y)`.
    fn fields(&self, x: usize, y: usize) -> [f64; 2] {
        let (i, j) = (x / NOISE_STEP, y / NOISE_STEP);
        let (fx, fy) = ((x % NOISE_STEP) as f32 / NOISE_STEP as f32, (y % NOISE_STEP) as f32 / NOISE_STEP as f32);
        let at = |i: usize, j: usize| self.fields[j * self.fields_w + i];
        let (a, b, c, d) = (at(i, j), at(i + 1, j), at(i, j + 1), at(i + 1, j + 1));
        [0, 1].map(|k| {
            let top = a[k] + (b[k] - a[k]) * fx;
            let bottom = c[k] + (d[k] - c[k]) * fx;
            (top + (bottom - top) * fy) as f64
        })
    }

    /// Per-texel grain in `[-1, 1)`.
    fn grain(&self, x: usize, y: usize) -> f64 {
        2.0 * hash_unit(self.seed, x as i64, y as i64) - 1.0
    }

    fn grass(&self, x: usize, y: usize) -> Rgb {
        let [tone, dirt] = self.fields(x, y);
        let threshold = 1.0 - self.look.dirt_cover;
        let dirt_amount = ((dirt - threshold) / 0.08 + 0.5).clamp(0.0, 1.0);
        let base = mix(self.look.grass, self.look.dirt, dirt_amount);
        let lit = scale(base, 0.75 + 0.5 * tone);
        lit.map(|v| v + 14.0 * self.grain(x, y))
    }

    /// The road's colour at road coordinates `(s, d)` over the grass colour `under`.
    fn road(&self, under: Rgb, s: f64, d: f64, x: usize, y: usize) -> Rgb {
        let look = self.look;
        let ad = d.abs();
        let hw = ROAD_HALF_WIDTH;
        let grain = self.grain(x, y);
        let [tone, _] = self.fields(x, y);
        let mut colour = under;

        let shoulder_fade = ((hw + look.shoulder_width + 0.4 - ad) / 0.8).clamp(0.0, 1.0);
        colour = mix(colour, look.shoulder.map(|v| v + 18.0 * grain), shoulder_fade);
        let sample = ((s / self.track_length * self.kerbs.len() as f64) as usize).min(self.kerbs.len() - 1);
        if self.kerbs[sample] {
            let stripe = (s / self.stripe) as u64 % 2;
            let kerb = look.kerb_colours[stripe as usize].map(|v| v + 6.0 * grain);
            colour = mix(colour, kerb, coverage(ad, hw, hw + KERB_WIDTH));
        }
        // Asphalt, a little darker in the wheel tracks of both lanes.
        let worn = 1.0 - 0.06 * (coverage(ad, 0.85, 1.3) + coverage(ad, 2.45, 2.9));
        let asphalt = scale(look.asphalt, (0.9 + 0.2 * tone) * worn).map(|v| v + 12.0 * grain);
        colour = mix(colour, asphalt, coverage(ad, 0.0, hw));
        colour = mix(colour, look.edge_line, coverage(ad, EDGE_LINE.0, EDGE_LINE.1));
        let dash = !look.centre_dashed || s.rem_euclid(self.dash_period) < self.dash_period / 3.0;
        if dash {
            colour = mix(colour, look.centre_line, coverage(ad, 0.0, CENTRE_LINE_HALF_WIDTH));
        }
        colour
    }
}

/// Share of a texel centred at `x` (width [`TEXEL`]) that lies inside `[lo, hi]`.
fn coverage(x: f64, lo: f64, hi: f64) -> f64 {
    ((hi.min(x + TEXEL / 2.0) - lo.max(x - TEXEL / 2.0)) / TEXEL).clamp(0.0, 1.0)
}

/// Soft elliptical tree shadows near the road, stretched away from the sun.
fn cast_shadows(level: &mut Level, track: &Track, look: &Look, seed: u64, origin: [f64; 2]) {
    let rng = &mut noise::stream(seed, 0x5AD0);
    let count = (track.length() / 10.0 * look.shadows_per_10m).round() as usize;
    let (along, across) = ([look.sun_azimuth.cos(), look.sun_azimuth.sin()], [-look.sun_azimuth.sin(), look.sun_azimuth.cos()]);
    for _ in 0..count {
        let (p, heading) = track.pose_at(uniform(rng, 0.0, track.length()));
        let offset = uniform(rng, -(ROAD_HALF_WIDTH + 9.0), ROAD_HALF_WIDTH + 9.0);
        let centre = [p[0] - heading.sin() * offset, p[1] + heading.cos() * offset];
        let radius = uniform(rng, 1.2, 3.5);
        let (ra, rc) = (radius * uniform(rng, 1.2, 2.2), radius);
        let reach = ra + 0.5;
        let x0 = (((centre[0] - reach - origin[0]) / TEXEL).floor().max(0.0)) as usize;
        let y0 = (((centre[1] - reach - origin[1]) / TEXEL).floor().max(0.0)) as usize;
        let x1 = (((centre[0] + reach - origin[0]) / TEXEL).ceil().max(0.0) as usize).min(level.w - 1);
        let y1 = (((centre[1] + reach - origin[1]) / TEXEL).ceil().max(0.0) as usize).min(level.h - 1);
        for ty in y0..=y1 {
            for tx in x0..=x1 {
                let (px, py) = (origin[0] + tx as f64 * TEXEL - centre[0], origin[1] + ty as f64 * TEXEL - centre[1]);
                let (u, v) = ((px * along[0] + py * along[1]) / ra, (px * across[0] + py * across[1]) / rc);
                // 1 inside, fading to 0 over the outer 30% of the ellipse.
                let inside = ((1.0 - (u * u + v * v).sqrt()) / 0.3).clamp(0.0, 1.0);
                if inside > 0.0 {
                    let k = ty * level.w + tx;
                    let c = unpack(level.texels[k]).map(|v| v as f64);
                    level.texels[k] = pack_f(scale(c, 1.0 - look.shadow_strength * inside));
                }
            }
        }
    }
}
