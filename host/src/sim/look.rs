//! The look of a world: colours, road markings, scenery density and lighting, drawn at random
//! per seed so that a network cannot pass by memorising one track's appearance.

use common::rng::Rng;

use super::noise::{self, chance, pick, uniform};

/// An RGB colour with channels in 0..=255 (floats while painting; packed at the end).
pub type Rgb = [f64; 3];

/// Where the road has red-and-white kerbs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kerbs {
    None,
    /// Along curves, like the Udacity simulator's first track.
    Curves,
    Everywhere,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Look {
    pub grass: Rgb,
    pub dirt: Rgb,
    /// Share of the ground covered by dirt patches, 0..1.
    pub dirt_cover: f64,
    pub asphalt: Rgb,
    pub edge_line: Rgb,
    pub centre_line: Rgb,
    pub centre_dashed: bool,
    pub kerbs: Kerbs,
    pub kerb_colours: [Rgb; 2],
    pub shoulder: Rgb,
    /// Width of the gravel or dirt strip beside the road (m).
    pub shoulder_width: f64,
    pub sky_zenith: Rgb,
    pub sky_horizon: Rgb,
    pub cloud: Rgb,
    /// Share of the sky covered by clouds, 0..1.
    pub cloud_cover: f64,
    pub hills: Rgb,
    pub trees: Rgb,
    /// Trees on the horizon, 0..1.
    pub tree_density: f64,
    /// Tree shadows on and near the road, per 10 m of road.
    pub shadows_per_10m: f64,
    /// How much a shadow darkens the ground, 0..1.
    pub shadow_strength: f64,
    /// Direction of the sun (radians): shadows stretch away from it.
    pub sun_azimuth: f64,
    /// What distant ground fades into.
    pub haze: Rgb,
    /// Distance (m) over which the ground fades 63% of the way into the haze.
    pub haze_distance: f64,
    /// The car's paint.
    pub bonnet: Rgb,
}

const GRASSES: [Rgb; 5] = [[74.0, 112.0, 48.0], [98.0, 118.0, 52.0], [126.0, 122.0, 70.0], [58.0, 90.0, 44.0], [150.0, 132.0, 92.0]];
const DIRTS: [Rgb; 3] = [[125.0, 100.0, 70.0], [150.0, 126.0, 92.0], [104.0, 86.0, 64.0]];
const WHITE_LINE: Rgb = [228.0, 228.0, 222.0];
const YELLOW_LINE: Rgb = [218.0, 180.0, 52.0];
const KERB_SETS: [[Rgb; 2]; 2] = [[[200.0, 42.0, 40.0], [232.0, 232.0, 232.0]], [[40.0, 70.0, 190.0], [232.0, 232.0, 232.0]]];
const BONNETS: [Rgb; 3] = [[176.0, 180.0, 184.0], [150.0, 30.0, 32.0], [40.0, 44.0, 52.0]];

impl Look {
    pub fn random(seed: u64) -> Look {
        let rng = &mut noise::stream(seed, 0x100C);
        let brightness = uniform(rng, 0.72, 1.15);
        let grass = pick(rng, &GRASSES);
        let grass = jitter(rng, grass, 0.08);
        let dirt = pick(rng, &DIRTS);
        let dirt = jitter(rng, dirt, 0.08);
        let grey = uniform(rng, 72.0, 135.0);
        let blue_tint = uniform(rng, 0.96, 1.08);
        let asphalt = jitter(rng, [grey, grey, grey * blue_tint], 0.03);
        let edge_line = if chance(rng, 0.7) { WHITE_LINE } else { YELLOW_LINE };
        let centre_line = if chance(rng, 0.5) { WHITE_LINE } else { YELLOW_LINE };
        let kerbs = pick(rng, &[Kerbs::None, Kerbs::Curves, Kerbs::Curves, Kerbs::Everywhere]);
        let overcast = chance(rng, 0.25);
        let sky_zenith = if overcast {
            let g = uniform(rng, 150.0, 185.0);
            [g, g + 3.0, g + 8.0]
        } else {
            [uniform(rng, 45.0, 95.0), uniform(rng, 100.0, 145.0), uniform(rng, 190.0, 235.0)]
        };
        let sky_horizon = mix(sky_zenith, [235.0, 238.0, 240.0], uniform(rng, 0.35, 0.65));
        let hills = jitter(rng, grass, 0.1);
        let hills = mix(hills, [60.0, 70.0, 60.0], uniform(rng, 0.1, 0.5));
        let haze = mix(hills, sky_horizon, 0.55);
        let look = Look {
            grass,
            dirt,
            dirt_cover: uniform(rng, 0.0, 0.45),
            asphalt,
            edge_line,
            centre_line,
            centre_dashed: chance(rng, 0.8),
            kerbs,
            kerb_colours: pick(rng, &KERB_SETS),
            shoulder: mix(dirt, asphalt, uniform(rng, 0.0, 0.6)),
            shoulder_width: uniform(rng, 0.3, 1.6),
            sky_zenith,
            sky_horizon,
            cloud: if overcast { [200.0, 202.0, 206.0] } else { [246.0, 246.0, 248.0] },
            cloud_cover: if overcast { uniform(rng, 0.5, 0.9) } else { uniform(rng, 0.0, 0.6) },
            hills,
            trees: jitter(rng, [38.0, 62.0, 34.0], 0.15),
            tree_density: uniform(rng, 0.0, 1.0),
            shadows_per_10m: if chance(rng, 0.25) { 0.0 } else { uniform(rng, 0.1, 0.7) },
            shadow_strength: if overcast { uniform(rng, 0.15, 0.3) } else { uniform(rng, 0.3, 0.55) },
            sun_azimuth: uniform(rng, 0.0, std::f64::consts::TAU),
            haze,
            haze_distance: uniform(rng, 250.0, 700.0),
            bonnet: pick(rng, &BONNETS),
        };
        look.lit(brightness)
    }

    /// Every colour scaled by the light level.
    fn lit(mut self, brightness: f64) -> Look {
        for c in [
            &mut self.grass,
            &mut self.dirt,
            &mut self.asphalt,
            &mut self.edge_line,
            &mut self.centre_line,
            &mut self.shoulder,
            &mut self.sky_zenith,
            &mut self.sky_horizon,
            &mut self.cloud,
            &mut self.hills,
            &mut self.trees,
            &mut self.haze,
            &mut self.bonnet,
        ] {
            *c = scale(*c, brightness);
        }
        self.kerb_colours = self.kerb_colours.map(|c| scale(c, brightness));
        self
    }
}

fn jitter(rng: &mut Rng, c: Rgb, amount: f64) -> Rgb {
    c.map(|v| v * (1.0 + uniform(rng, -amount, amount)))
}

pub fn mix(a: Rgb, b: Rgb, t: f64) -> Rgb {
    [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t]
}

pub fn scale(c: Rgb, k: f64) -> Rgb {
    c.map(|v| v * k)
}
