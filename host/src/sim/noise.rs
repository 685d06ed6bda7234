//! Deterministic randomness: seeded streams for choices (track shape, colours, drift) and
//! stateless hashes for textures, so that the same seed always gives the same bytes.

use common::rng::Rng;

/// An independent random stream for one purpose (`purpose` is any constant), derived from a seed.
pub fn stream(seed: u64, purpose: u64) -> Rng {
    Rng::new(hash(seed, purpose as i64, 0x5EED))
}

/// Uniform in `[lo, hi)`.
pub fn uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(rng.next_u64())
}

/// `true` with probability `p`.
pub fn chance(rng: &mut Rng, p: f64) -> bool {
    unit(rng.next_u64()) < p
}

/// One of `items`, uniformly.
pub fn pick<T: Copy>(rng: &mut Rng, items: &[T]) -> T {
    items[(rng.next_u64() % items.len() as u64) as usize]
}

/// The top 53 bits of `bits` as a number in `[0, 1)`.
#[inline]
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A 64-bit hash of a seed and a lattice point (SplitMix64's finalizer over a mixed key).
#[inline]
pub fn hash(seed: u64, x: i64, y: i64) -> u64 {
    let mut z = seed ^ (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// [`hash`] as a number in `[0, 1)`.
#[inline]
pub fn hash_unit(seed: u64, x: i64, y: i64) -> f64 {
    unit(hash(seed, x, y))
}

/// Smooth value noise in `[0, 1)`: random values on a square lattice of spacing `cell`,
/// interpolated with smoothstep weights. With `period` (in cells) it tiles, which the sky needs
/// to wrap around 360 degrees without a seam.
#[derive(Clone, Copy, Debug)]
pub struct ValueNoise {
    pub seed: u64,
    pub cell: f64,
    pub period: Option<i64>,
}

impl ValueNoise {
    pub fn at(&self, x: f64, y: f64) -> f64 {
        let (gx, gy) = (x / self.cell, y / self.cell);
        let (x0, y0) = (gx.floor(), gy.floor());
        let (fx, fy) = (smoothstep(gx - x0), smoothstep(gy - y0));
        let wrap = |i: i64| self.period.map_or(i, |p| i.rem_euclid(p));
        let (x0, y0) = (x0 as i64, y0 as i64);
        let v = |i: i64, j: i64| hash_unit(self.seed, wrap(i), wrap(j));
        let top = lerp(v(x0, y0), v(x0 + 1, y0), fx);
        let bottom = lerp(v(x0, y0 + 1), v(x0 + 1, y0 + 1), fx);
        lerp(top, bottom, fy)
    }
}

/// Fractal noise in `[0, 1)`: `octaves` layers of [`ValueNoise`], each at half the cell size
/// and half the weight of the previous one.
pub fn fractal(seed: u64, cell: f64, octaves: u32, period: Option<i64>, x: f64, y: f64) -> f64 {
    let (mut sum, mut weight, mut total) = (0.0, 1.0, 0.0);
    for k in 0..octaves {
        let noise = ValueNoise { seed: hash(seed, k as i64, 0), cell: cell / (1u64 << k) as f64, period: period.map(|p| p << k) };
        sum += weight * noise.at(x, y);
        total += weight;
        weight *= 0.5;
    }
    sum / total
}

#[inline]
fn smoothstep(t: f64) -> f64 {
    t * t * (3.0 - 2.0 * t)
}

#[inline]
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periodic_noise_wraps_without_a_seam() {
        let n = ValueNoise { seed: 7, cell: 4.0, period: Some(8) };
        for y in [0.3, 5.5, 17.0] {
            assert!((n.at(0.7, y) - n.at(32.7, y)).abs() < 1e-12);
        }
    }

    #[test]
    fn fractal_stays_in_unit_range() {
        for i in 0..1000 {
            let v = fractal(3, 10.0, 4, None, i as f64 * 0.37, i as f64 * 1.3);
            assert!((0.0..1.0).contains(&v), "{v}");
        }
    }
}
