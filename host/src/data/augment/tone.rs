//! Photometric changes (brightness, shadow) and the camera's bit depth as one lookup table per
//! channel, so each pixel costs three table reads whatever the augmentation.

use common::preprocess::PixelFormat;

/// Per-channel 256-entry tables: `out = depth(min(255, round(v * gain)))`.
pub struct Tone([[u8; 256]; 3]);

impl Tone {
    /// `gain` scales every channel (brightness, or a shadow's darkening); `format` is the
    /// camera's pixel format: for RGB565 each value is truncated to 5/6/5 bits and widened back
    /// by bit replication, exactly as the chip widens what the camera sends.
    pub fn new(gain: f32, format: PixelFormat) -> Tone {
        let bits = match format {
            PixelFormat::Rgb888 => [8, 8, 8],
            PixelFormat::Rgb565Be | PixelFormat::Rgb565Le => [5, 6, 5],
        };
        // Gain in 16.16 fixed point: integer arithmetic keeps building the tables (twice per
        // driving example) cheap; float `round` is a library call on baseline x86-64.
        let g = (gain.max(0.0) * 65536.0 + 0.5) as u32;
        let mut lut = [[0u8; 256]; 3];
        for (table, bits) in lut.iter_mut().zip(bits) {
            for (v, out) in table.iter_mut().enumerate() {
                let scaled = ((v as u32 * g + 32768) >> 16).min(255) as u8;
                *out = widen(scaled >> (8 - bits), bits);
            }
        }
        Tone(lut)
    }

    /// Maps one pixel.
    #[inline]
    pub fn pixel(&self, p: [u8; 3]) -> [u8; 3] {
        [self.0[0][p[0] as usize], self.0[1][p[1] as usize], self.0[2][p[2] as usize]]
    }
}

/// A `bits`-bit value widened to 8 bits by bit replication.
fn widen(v: u8, bits: u32) -> u8 {
    if bits >= 8 {
        v
    } else {
        (v << (8 - bits)) | (v >> (2 * bits - 8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::preprocess::{rgb565, to_rgb565};

    #[test]
    fn unit_gain_rgb888_is_identity() {
        let t = Tone::new(1.0, PixelFormat::Rgb888);
        for v in 0..=255u8 {
            assert_eq!(t.pixel([v, v, v]), [v, v, v]);
        }
    }

    #[test]
    fn rgb565_depth_matches_the_chip_widening() {
        let t = Tone::new(1.0, PixelFormat::Rgb565Be);
        for v in 0..=255u8 {
            for p in [[v, 0, 0], [0, v, 0], [0, 0, v], [v, 255 - v, v / 3]] {
                assert_eq!(t.pixel(p), rgb565(to_rgb565(p)), "{p:?}");
            }
        }
    }

    #[test]
    fn gain_scales_and_saturates() {
        let t = Tone::new(0.5, PixelFormat::Rgb888);
        assert_eq!(t.pixel([200, 101, 0]), [100, 51, 0]);
        let t = Tone::new(2.0, PixelFormat::Rgb888);
        assert_eq!(t.pixel([200, 100, 1]), [255, 200, 2]);
    }
}
