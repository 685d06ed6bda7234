//! What the camera sees of a track: its look, the painted ground and the sky panorama. Built
//! once per track; rendering a frame only reads it.

use super::ground::Ground;
use super::look::Look;
use super::sky::Sky;
use super::texture::{pack_f, MipMap};
use super::track::Track;

pub struct World {
    pub look: Look,
    pub ground: Ground,
    pub sky: Sky,
    /// The haze colour, packed.
    pub(super) haze: u32,
}

impl World {
    /// The scenery of `track`, its appearance drawn from `seed` (use the track's seed: one
    /// number then names the whole world).
    pub fn new(track: &Track, seed: u64) -> World {
        let look = Look::random(seed);
        let ground = Ground::paint(track, &look, seed);
        let sky = Sky::paint(&look, seed);
        let haze = pack_f(look.haze);
        World { look, ground, sky, haze }
    }

    /// The ground map, for top-down pictures.
    pub fn map(&self) -> &MipMap {
        &self.ground.map
    }
}
