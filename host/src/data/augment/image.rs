//! Augmentation of small classification images (traffic signs, CIFAR): a random similarity
//! transform (rotation, scale, translation) with bilinear sampling, an optional mirror, and
//! brightness.

use common::preprocess::PixelFormat;

use super::tone::Tone;
use crate::data::Rng;

/// How classification images are augmented.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageAugment {
    /// Rotation uniform in `-max..max` degrees about the image centre.
    pub max_rotation_deg: f32,
    /// Scale uniform in `1 - max .. 1 + max`.
    pub max_scale: f32,
    /// Translation uniform in `-max..max` pixels of the stored frame, each axis.
    pub max_shift_px: f32,
    /// Brightness gain uniform in `1 - brightness .. 1 + brightness`.
    pub brightness: f32,
    /// Probability of a left-right mirror. 0 for traffic signs (a mirrored "turn left" is
    /// "turn right"); 0.5 suits CIFAR-10.
    pub flip_p: f32,
}

impl Default for ImageAugment {
    /// The traffic-sign setting: +-10 degrees, +-10 % scale, +-2 px, +-25 % brightness, no mirror.
    fn default() -> Self {
        ImageAugment { max_rotation_deg: 10.0, max_scale: 0.1, max_shift_px: 2.0, brightness: 0.25, flip_p: 0.0 }
    }
}

impl ImageAugment {
    /// No augmentation: augmented examples are then the plain ones (for a trainer that always
    /// asks for augmentation, when a run should have none).
    pub fn none() -> Self {
        ImageAugment { max_rotation_deg: 0.0, max_scale: 0.0, max_shift_px: 0.0, brightness: 0.0, flip_p: 0.0 }
    }
}

/// The augmentation of one image: what [`ImageAugment`] drew.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImageTransform {
    pub rotation_deg: f32,
    pub scale: f32,
    pub shift: [f32; 2],
    pub gain: f32,
    pub flip: bool,
}

impl ImageTransform {
    pub const IDENTITY: ImageTransform = ImageTransform { rotation_deg: 0.0, scale: 1.0, shift: [0.0, 0.0], gain: 1.0, flip: false };

    pub fn draw(aug: &ImageAugment, rng: &mut Rng) -> ImageTransform {
        let mut sym = |max: f32| rng.uniform(-max, max);
        let rotation_deg = sym(aug.max_rotation_deg);
        let scale = 1.0 + sym(aug.max_scale);
        let shift = [sym(aug.max_shift_px), sym(aug.max_shift_px)];
        let gain = 1.0 + sym(aug.brightness);
        ImageTransform { rotation_deg, scale, shift, gain, flip: rng.chance(aug.flip_p) }
    }

    /// Writes the transformed `w x h` RGB888 image `src` into `dst`: the content is mirrored,
    /// then scaled and rotated about the centre, then moved by `shift`. Samples outside the
    /// image repeat its edge (GTSRB crops keep a margin around the sign, so little is invented).
    pub fn apply(&self, src: &[u8], w: usize, h: usize, format: PixelFormat, dst: &mut [u8]) {
        let tone = Tone::new(self.gain, format);
        if (self.rotation_deg, self.scale, self.shift, self.flip) == (0.0, 1.0, [0.0, 0.0], false) {
            // No geometry (validation examples): the tone alone, three times faster.
            for (s, d) in src.chunks_exact(3).zip(dst.chunks_exact_mut(3)) {
                d.copy_from_slice(&tone.pixel([s[0], s[1], s[2]]));
            }
            return;
        }
        let (sin, cos) = self.rotation_deg.to_radians().sin_cos();
        let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
        let at = |x: usize, y: usize| -> [f32; 3] {
            let i = (y * w + x) * 3;
            [src[i] as f32, src[i + 1] as f32, src[i + 2] as f32]
        };
        for y in 0..h {
            for x in 0..w {
                // Inverse map: output pixel -> source position.
                let (px, py) = (x as f32 - cx - self.shift[0], y as f32 - cy - self.shift[1]);
                let mut u = (cos * px + sin * py) / self.scale + cx;
                let v = (-sin * px + cos * py) / self.scale + cy;
                if self.flip {
                    u = w as f32 - 1.0 - u;
                }
                let (u, v) = (u.clamp(0.0, w as f32 - 1.0), v.clamp(0.0, h as f32 - 1.0));
                // Non-negative, so truncation is floor (and `+ 0.5` then truncation rounds):
                // cheaper than `floor`/`round`, library calls on baseline x86-64.
                let (x0, y0) = (u as usize, v as usize);
                let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
                let (fx, fy) = (u - x0 as f32, v - y0 as f32);
                let (p00, p01, p10, p11) = (at(x0, y0), at(x1, y0), at(x0, y1), at(x1, y1));
                let mut p = [0u8; 3];
                for c in 0..3 {
                    let top = p00[c] + (p01[c] - p00[c]) * fx;
                    let bottom = p10[c] + (p11[c] - p10[c]) * fx;
                    p[c] = (top + (bottom - top) * fy + 0.5) as u8;
                }
                let i = (y * w + x) * 3;
                dst[i..i + 3].copy_from_slice(&tone.pixel(p));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil::gradient;

    fn apply(t: &ImageTransform, src: &[u8], w: usize, h: usize) -> Vec<u8> {
        let mut dst = vec![0u8; src.len()];
        t.apply(src, w, h, PixelFormat::Rgb888, &mut dst);
        dst
    }

    #[test]
    fn identity_is_exact() {
        let src = gradient(9, 7);
        assert_eq!(apply(&ImageTransform::IDENTITY, &src, 9, 7), src);
        // The general warp path, with no visible geometry, agrees with the fast path.
        let tiny = ImageTransform { rotation_deg: 1e-4, ..ImageTransform::IDENTITY };
        assert_eq!(apply(&tiny, &src, 9, 7), src);
    }

    #[test]
    fn whole_pixel_shift_and_mirror_move_pixels() {
        let (w, h) = (8, 5);
        let src = gradient(w, h);
        let t = ImageTransform { shift: [2.0, 1.0], ..ImageTransform::IDENTITY };
        let out = apply(&t, &src, w, h);
        let px = |f: &[u8], x: usize, y: usize| f[(y * w + x) * 3..(y * w + x) * 3 + 3].to_vec();
        assert_eq!(px(&out, 5, 3), px(&src, 3, 2));
        assert_eq!(px(&out, 0, 0), px(&src, 0, 0), "edge repeated");
        let m = apply(&ImageTransform { flip: true, ..ImageTransform::IDENTITY }, &src, w, h);
        assert_eq!(px(&m, 1, 2), px(&src, w - 2, 2));
    }

    #[test]
    fn quarter_turn_of_a_square_rotates_pixels() {
        let n = 5;
        let src = gradient(n, n);
        let out = apply(&ImageTransform { rotation_deg: 90.0, ..ImageTransform::IDENTITY }, &src, n, n);
        // Output (x, y) samples source (y, n-1-x): the content turned a quarter clockwise on screen.
        let px = |f: &[u8], x: usize, y: usize| f[(y * n + x) * 3..(y * n + x) * 3 + 3].to_vec();
        for y in 0..n {
            for x in 0..n {
                assert_eq!(px(&out, x, y), px(&src, y, n - 1 - x), "({x},{y})");
            }
        }
    }

    #[test]
    fn none_draws_the_identity() {
        let mut rng = Rng::new(4);
        assert!((0..20).all(|_| ImageTransform::draw(&ImageAugment::none(), &mut rng) == ImageTransform::IDENTITY));
    }

    #[test]
    fn draws_stay_in_range_and_repeat_with_the_seed() {
        let aug = ImageAugment::default();
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            (0..100).map(|_| ImageTransform::draw(&aug, &mut rng)).collect::<Vec<_>>()
        };
        let a = draw(9);
        assert_eq!(a, draw(9));
        assert!(a.iter().all(|t| t.rotation_deg.abs() <= 10.0 && (0.9..=1.1).contains(&t.scale) && t.shift.iter().all(|s| s.abs() <= 2.0) && !t.flip));
    }
}
