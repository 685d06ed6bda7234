//! RGB textures packed one texel per `u32` (`0x00BBGGRR`), with a mip chain, sampled bilinearly
//! in 16.16 fixed point.
//!
//! Packing lets one multiply interpolate red and blue together (they sit 16 bits apart, with
//! room for the 8-bit weight in between) and green on its own: bilinear filtering costs a few
//! integer operations per pixel, which is what lets the camera render over 1000 frames/s.

/// Packs an RGB colour.
#[inline]
pub const fn pack(rgb: [u8; 3]) -> u32 {
    rgb[0] as u32 | (rgb[1] as u32) << 8 | (rgb[2] as u32) << 16
}

/// The RGB bytes of a packed colour.
#[inline]
pub const fn unpack(p: u32) -> [u8; 3] {
    [p as u8, (p >> 8) as u8, (p >> 16) as u8]
}

/// Packs a colour given as floats in 0..=255 (rounded, clamped).
pub fn pack_f(rgb: [f64; 3]) -> u32 {
    // Rounds half up (the values are non-negative after clamping); cheaper than `round`.
    let c = |v: f64| (v.clamp(0.0, 255.0) + 0.5) as u8;
    pack([c(rgb[0]), c(rgb[1]), c(rgb[2])])
}

/// `a * (256 - w) / 256 + b * w / 256` per channel, `w` in `0..=256`.
#[inline(always)]
pub fn lerp_packed(a: u32, b: u32, w: u32) -> u32 {
    const RB: u32 = 0x00FF_00FF;
    const G: u32 = 0x0000_FF00;
    let iw = 256 - w;
    let rb = (((a & RB) * iw + (b & RB) * w) >> 8) & RB;
    let g = (((a & G) * iw + (b & G) * w) >> 8) & G;
    rb | g
}

/// One level of a texture: `w x h` packed texels, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Level {
    pub w: usize,
    pub h: usize,
    pub texels: Vec<u32>,
}

impl Level {
    /// Bilinear sample at texel coordinates `(u, v)` in 16.16 fixed point, texel centres at
    /// integers; coordinates outside the texture clamp to its edge.
    #[inline(always)]
    pub fn bilinear(&self, u: i32, v: i32) -> u32 {
        let (max_x, max_y) = (self.w as i32 - 2, self.h as i32 - 2);
        let (x, y) = (u >> 16, v >> 16);
        // Clamping the integer part keeps the fraction: past the edge it extrapolates inside
        // the last texel pair, which is a blend of edge texels, never a read out of bounds.
        let (x, y) = (x.clamp(0, max_x) as usize, y.clamp(0, max_y) as usize);
        let (fx, fy) = (((u >> 8) & 255) as u32, ((v >> 8) & 255) as u32);
        let i = y * self.w + x;
        let top = lerp_packed(self.texels[i], self.texels[i + 1], fx);
        let bottom = lerp_packed(self.texels[i + self.w], self.texels[i + self.w + 1], fx);
        lerp_packed(top, bottom, fy)
    }

    /// The next coarser level: 2x2 box filter (an odd last row or column is averaged with
    /// itself).
    fn halve(&self) -> Level {
        let (w, h) = (self.w.div_ceil(2), self.h.div_ceil(2));
        let mut texels = Vec::with_capacity(w * h);
        for y in 0..h {
            let (y0, y1) = (2 * y, (2 * y + 1).min(self.h - 1));
            for x in 0..w {
                let (x0, x1) = (2 * x, (2 * x + 1).min(self.w - 1));
                let quad = [(x0, y0), (x1, y0), (x0, y1), (x1, y1)].map(|(x, y)| self.texels[y * self.w + x]);
                let mut sum = [2u32; 3];
                for t in quad {
                    let [r, g, b] = unpack(t);
                    sum[0] += r as u32;
                    sum[1] += g as u32;
                    sum[2] += b as u32;
                }
                texels.push(pack(sum.map(|s| (s / 4) as u8)));
            }
        }
        Level { w, h, texels }
    }
}

/// A texture and its successively halved levels, down to a few texels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MipMap {
    levels: Vec<Level>,
}

impl MipMap {
    /// Builds the chain under `base` (at least 2x2).
    pub fn new(base: Level) -> Self {
        assert!(base.w >= 2 && base.h >= 2 && base.texels.len() == base.w * base.h);
        let mut levels = vec![base];
        while let Some(last) = levels.last().filter(|l| l.w >= 8 && l.h >= 8) {
            let next = last.halve();
            levels.push(next);
        }
        MipMap { levels }
    }

    /// Level `k` (0 is the full resolution), or the coarsest when `k` is beyond it.
    pub fn level(&self, k: usize) -> &Level {
        &self.levels[k.min(self.levels.len() - 1)]
    }

    pub fn levels(&self) -> usize {
        self.levels.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lerp_packed_matches_per_channel_arithmetic() {
        let (a, b) = ([10u8, 200, 255], [255u8, 0, 17]);
        for w in [0u32, 1, 77, 128, 255, 256] {
            let got = unpack(lerp_packed(pack(a), pack(b), w));
            for c in 0..3 {
                let want = (a[c] as u32 * (256 - w) + b[c] as u32 * w) >> 8;
                assert_eq!(got[c] as u32, want, "w {w} channel {c}");
            }
        }
    }

    #[test]
    fn bilinear_interpolates_and_clamps() {
        let level = Level { w: 2, h: 2, texels: vec![pack([0, 0, 0]), pack([200, 0, 0]), pack([0, 0, 0]), pack([200, 0, 0])] };
        assert_eq!(unpack(level.bilinear(1 << 15, 0))[0], 100);
        assert_eq!(unpack(level.bilinear(-5 << 16, 3 << 16))[0], 0);
        let mips = MipMap::new(Level { w: 16, h: 9, texels: vec![pack([8, 16, 32]); 144] });
        assert_eq!(mips.levels(), 2);
        assert!(mips.level(9).texels.iter().all(|&t| t == pack([8, 16, 32])));
    }
}
