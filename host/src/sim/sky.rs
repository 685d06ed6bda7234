//! The sky and the distant scenery as a cylindrical panorama: gradient, clouds, hills and a
//! tree line, indexed by azimuth and elevation. Everything in it is "at infinity": it turns
//! with the car's heading but does not move as the car drives.

use std::f64::consts::TAU;

use super::look::{mix, scale, Look};
use super::noise::{self, fractal, uniform};
use super::texture::pack_f;

/// Columns over 360 degrees (a power of two: the renderer wraps azimuth with a mask).
pub const PANORAMA_W: usize = 1024;
/// Rows from the horizon upwards.
pub const PANORAMA_H: usize = 128;
/// Elevation per panorama row (radians): 0.2 degrees, so 25.6 degrees in all.
pub const ROW_ANGLE: f64 = 0.2 * std::f64::consts::PI / 180.0;

pub struct Sky {
    /// Packed colours, row 0 at the horizon.
    pub texels: Vec<u32>,
}

impl Sky {
    pub fn paint(look: &Look, seed: u64) -> Sky {
        let rng = &mut noise::stream(seed, 0x5C7);
        let hills = hill_profile(seed);
        let trees = tree_profile(rng, look.tree_density);
        let mut texels = Vec::with_capacity(PANORAMA_W * PANORAMA_H);
        for row in 0..PANORAMA_H {
            let elevation = (row as f64 + 0.5) * ROW_ANGLE;
            let height = elevation / (PANORAMA_H as f64 * ROW_ANGLE);
            for col in 0..PANORAMA_W {
                let mut colour = mix(look.sky_horizon, look.sky_zenith, height.powf(0.6));
                let x = col as f64;
                let y = row as f64 * 2.5;
                let cloud = fractal(seed ^ 0xC10D, PANORAMA_W as f64 / 16.0, 4, Some(16), x, y);
                let cover = ((cloud - (1.0 - look.cloud_cover)) / 0.15).clamp(0.0, 1.0);
                colour = mix(colour, look.cloud, cover * 0.9);
                if elevation < hills[col] {
                    // Lighter and bluer towards the ridge: aerial perspective on a far slope.
                    let shade = 0.8 + 0.3 * fractal(seed ^ 0x4111, 32.0, 3, Some(32), x, row as f64 * 4.0);
                    let slope = scale(look.hills, shade);
                    colour = mix(slope, look.haze, 0.35 + 0.3 * (elevation / hills[col]));
                }
                if elevation < trees[col] {
                    colour = mix(look.trees, look.haze, 0.25);
                }
                texels.push(pack_f(colour));
            }
        }
        Sky { texels }
    }
}

/// Height of the hills (radians of elevation) per panorama column: gentle ridges up to 6
/// degrees, lower in some directions.
fn hill_profile(seed: u64) -> Vec<f64> {
    let max = 6.0f64.to_radians();
    (0..PANORAMA_W)
        .map(|col| {
            let v = fractal(seed ^ 0x4177, PANORAMA_W as f64 / 8.0, 4, Some(8), col as f64, 0.0);
            (max * (v - 0.2) / 0.8).max(0.002)
        })
        .collect()
}

/// Height of the tree line (radians) per column: rounded crowns, clustered into woods.
fn tree_profile(rng: &mut common::rng::Rng, density: f64) -> Vec<f64> {
    let mut top = vec![0.0f64; PANORAMA_W];
    let count = (density * 300.0) as usize;
    for _ in 0..count {
        let centre = uniform(rng, 0.0, PANORAMA_W as f64);
        let half = uniform(rng, 1.0, 4.0);
        let height = uniform(rng, 1.5, 5.0).to_radians();
        for k in (centre - half).floor() as i64..=(centre + half).ceil() as i64 {
            let u = (k as f64 - centre) / half;
            if u.abs() < 1.0 {
                let col = k.rem_euclid(PANORAMA_W as i64) as usize;
                top[col] = top[col].max(height * (1.0 - u * u).sqrt());
            }
        }
    }
    top
}

/// Panorama column of an azimuth (radians, counter-clockwise), fractional.
pub fn column_of(azimuth: f64) -> f64 {
    azimuth / TAU * PANORAMA_W as f64
}
