//! Augmentation of driving frames, each change paired with what it does to the steering label.

use common::preprocess::PixelFormat;

use super::tone::Tone;
use crate::data::Rng;

/// One of the three cameras of a Udacity recording row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Camera {
    Center,
    Left,
    Right,
}

/// How driving frames are augmented. Positive steering turns right (the Udacity convention).
#[derive(Clone, Debug, PartialEq)]
pub struct DrivingAugment {
    /// Probability of training on a side camera instead of the centre one (left and right
    /// equally likely). Side cameras look like the car drifted off-centre, which teaches recovery.
    pub side_camera_p: f32,
    /// Steering added for the left camera's image and subtracted for the right one's, for
    /// recordings that do not give their own (see [`crate::data::recording`]).
    pub steering_correction: f32,
    /// Probability of mirroring the frame (the steering is negated): track 1 turns mostly left.
    pub flip_p: f32,
    /// Largest horizontal shift in frame pixels (uniform in `-max..=max`); the exposed border
    /// repeats the edge column.
    pub max_shift_px: u16,
    /// Steering added per pixel the image content moves right (it looks as if the car moved
    /// left of where it was, so it should steer right).
    pub steering_per_px: f32,
    /// Brightness gain uniform in `1 - brightness .. 1 + brightness`.
    pub brightness: f32,
    /// Probability of a shadow: a random quadrilateral spanning the frame height darkened.
    pub shadow_p: f32,
    /// The shadow's extra gain, uniform in `shadow_gain[0] .. shadow_gain[1]`.
    pub shadow_gain: [f32; 2],
}

impl Default for DrivingAugment {
    fn default() -> Self {
        DrivingAugment {
            side_camera_p: 0.5,
            steering_correction: 0.2,
            flip_p: 0.5,
            max_shift_px: 50,
            steering_per_px: 0.004,
            brightness: 0.3,
            shadow_p: 0.5,
            shadow_gain: [0.45, 0.8],
        }
    }
}

impl DrivingAugment {
    /// No augmentation: augmented examples are then the centre camera as recorded.
    pub fn none() -> Self {
        DrivingAugment { side_camera_p: 0.0, flip_p: 0.0, max_shift_px: 0, brightness: 0.0, shadow_p: 0.0, ..DrivingAugment::default() }
    }
}

/// A shadow quadrilateral with corners `(top[0], first row)`, `(top[1], first row)`,
/// `(bottom[1], last row)`, `(bottom[0], last row)`, x as fractions of the frame width.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shadow {
    pub top: [f32; 2],
    pub bottom: [f32; 2],
    pub gain: f32,
}

/// The augmentation of one example: what [`DrivingAugment`] drew.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DriveTransform {
    pub camera: Camera,
    pub flip: bool,
    /// Pixels the content moves right (negative: left), after the flip.
    pub shift_px: i32,
    pub gain: f32,
    pub shadow: Option<Shadow>,
}

impl DriveTransform {
    /// The centre camera as recorded.
    pub const IDENTITY: DriveTransform = DriveTransform { camera: Camera::Center, flip: false, shift_px: 0, gain: 1.0, shadow: None };

    /// Draws a transform; `side_cameras` says whether the row has left and right images.
    pub fn draw(aug: &DrivingAugment, side_cameras: bool, rng: &mut Rng) -> DriveTransform {
        let camera = match side_cameras && rng.chance(aug.side_camera_p) {
            false => Camera::Center,
            true if rng.chance(0.5) => Camera::Left,
            true => Camera::Right,
        };
        let flip = rng.chance(aug.flip_p);
        let shift_px = rng.int_in(-(aug.max_shift_px as i32), aug.max_shift_px as i32);
        let gain = rng.uniform(1.0 - aug.brightness, 1.0 + aug.brightness);
        let shadow = rng.chance(aug.shadow_p).then(|| {
            let mut edge = || {
                let (a, b) = (rng.unit(), rng.unit());
                [a.min(b), a.max(b)]
            };
            let (top, bottom) = (edge(), edge());
            Shadow { top, bottom, gain: rng.uniform(aug.shadow_gain[0], aug.shadow_gain[1]) }
        });
        DriveTransform { camera, flip, shift_px, gain, shadow }
    }

    /// The steering label of the transformed frame, clamped to the simulator's `[-1, 1]`;
    /// `correction` is the recording's side-camera correction.
    pub fn steering(&self, recorded: f32, correction: f32, aug: &DrivingAugment) -> f32 {
        let mut s = match self.camera {
            Camera::Center => recorded,
            Camera::Left => recorded + correction,
            Camera::Right => recorded - correction,
        };
        if self.flip {
            s = -s;
        }
        (s + self.shift_px as f32 * aug.steering_per_px).clamp(-1.0, 1.0)
    }

    /// Writes rows `rows` of the transformed `w x h` RGB888 frame `src` into `dst` (a whole
    /// frame buffer; other rows are left as they are, so callers transform only the rows their
    /// crop reads). Pixels get the depth of the camera's `format` (see `Tone`).
    pub fn apply(&self, src: &[u8], w: usize, h: usize, rows: std::ops::Range<usize>, format: PixelFormat, dst: &mut [u8]) {
        // Source column of each output column: shift (edge repeated), then mirror.
        let source_x: Vec<usize> = (0..w as i32)
            .map(|x| {
                let u = (x - self.shift_px).clamp(0, w as i32 - 1) as usize;
                if self.flip {
                    w - 1 - u
                } else {
                    u
                }
            })
            .collect();
        let light = Tone::new(self.gain, format);
        let shade = self.shadow.map(|s| (s, Tone::new(self.gain * s.gain, format)));
        for y in rows {
            let (src_row, dst_row) = (&src[y * w * 3..(y + 1) * w * 3], &mut dst[y * w * 3..(y + 1) * w * 3]);
            let (x0, x1) = match &shade {
                Some((s, _)) => s.span(y, w, h),
                None => (0, 0),
            };
            for (x, (out, &sx)) in dst_row.chunks_exact_mut(3).zip(&source_x).enumerate() {
                let p = [src_row[3 * sx], src_row[3 * sx + 1], src_row[3 * sx + 2]];
                let tone = match &shade {
                    Some((_, dark)) if (x0..x1).contains(&x) => dark,
                    _ => &light,
                };
                out.copy_from_slice(&tone.pixel(p));
            }
        }
    }
}

impl Shadow {
    /// Columns `x0..x1` of row `y` inside the quadrilateral.
    fn span(&self, y: usize, w: usize, h: usize) -> (usize, usize) {
        let t = y as f32 / (h.max(2) - 1) as f32;
        let at = |i: usize| ((self.top[i] + (self.bottom[i] - self.top[i]) * t) * w as f32).round() as usize;
        (at(0).min(w), at(1).min(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::testutil::gradient;

    const W: usize = 16;
    const H: usize = 6;

    fn apply(t: &DriveTransform, src: &[u8]) -> Vec<u8> {
        let mut dst = vec![0u8; src.len()];
        t.apply(src, W, H, 0..H, PixelFormat::Rgb888, &mut dst);
        dst
    }

    fn px(frame: &[u8], x: usize, y: usize) -> [u8; 3] {
        let i = (y * W + x) * 3;
        [frame[i], frame[i + 1], frame[i + 2]]
    }

    #[test]
    fn identity_copies_and_keeps_the_label() {
        let src = gradient(W, H);
        assert_eq!(apply(&DriveTransform::IDENTITY, &src), src);
        assert_eq!(DriveTransform::IDENTITY.steering(0.3, 0.2, &DrivingAugment::default()), 0.3);
    }

    #[test]
    fn flip_mirrors_and_negates() {
        let src = gradient(W, H);
        let t = DriveTransform { flip: true, ..DriveTransform::IDENTITY };
        let out = apply(&t, &src);
        for y in 0..H {
            for x in 0..W {
                assert_eq!(px(&out, x, y), px(&src, W - 1 - x, y));
            }
        }
        assert_eq!(t.steering(0.25, 0.2, &DrivingAugment::default()), -0.25);
    }

    #[test]
    fn shift_moves_content_and_repeats_the_edge() {
        let src = gradient(W, H);
        let t = DriveTransform { shift_px: 3, ..DriveTransform::IDENTITY };
        let out = apply(&t, &src);
        for y in 0..H {
            for x in 0..W {
                assert_eq!(px(&out, x, y), px(&src, x.saturating_sub(3), y));
            }
        }
        let aug = DrivingAugment::default();
        assert!((t.steering(0.1, aug.steering_correction, &aug) - (0.1 + 3.0 * 0.004)).abs() < 1e-6);
        let left = DriveTransform { shift_px: -2, flip: true, ..DriveTransform::IDENTITY };
        let out = apply(&left, &src);
        assert_eq!(px(&out, 0, 1), px(&src, W - 3, 1));
        assert_eq!(px(&out, W - 1, 1), px(&src, 0, 1));
    }

    #[test]
    fn side_cameras_correct_before_the_flip_and_labels_clamp() {
        let aug = DrivingAugment { steering_correction: 0.2, ..DrivingAugment::default() };
        let left = DriveTransform { camera: Camera::Left, ..DriveTransform::IDENTITY };
        let right = DriveTransform { camera: Camera::Right, ..DriveTransform::IDENTITY };
        assert!((left.steering(0.1, aug.steering_correction, &aug) - 0.3).abs() < 1e-6);
        assert!((right.steering(0.1, aug.steering_correction, &aug) + 0.1).abs() < 1e-6);
        let left_flipped = DriveTransform { flip: true, ..left };
        assert!((left_flipped.steering(0.1, aug.steering_correction, &aug) + 0.3).abs() < 1e-6);
        assert_eq!(left.steering(0.95, aug.steering_correction, &aug), 1.0);
    }

    #[test]
    fn shadow_darkens_only_inside_the_quadrilateral() {
        let src = vec![200u8; W * H * 3];
        let shadow = Shadow { top: [0.0, 0.25], bottom: [0.5, 1.0], gain: 0.5 };
        let t = DriveTransform { gain: 1.0, shadow: Some(shadow), ..DriveTransform::IDENTITY };
        let out = apply(&t, &src);
        // Top row: columns 0..4 dark; bottom row: columns 8..16 dark.
        for x in 0..W {
            assert_eq!(px(&out, x, 0)[0], if x < 4 { 100 } else { 200 }, "top x={x}");
            assert_eq!(px(&out, x, H - 1)[1], if x >= 8 { 100 } else { 200 }, "bottom x={x}");
        }
    }

    #[test]
    fn only_the_asked_rows_are_written() {
        let src = gradient(W, H);
        let mut dst = vec![7u8; src.len()];
        DriveTransform::IDENTITY.apply(&src, W, H, 2..4, PixelFormat::Rgb888, &mut dst);
        assert!(dst[..2 * W * 3].iter().all(|&v| v == 7));
        assert_eq!(&dst[2 * W * 3..4 * W * 3], &src[2 * W * 3..4 * W * 3]);
        assert!(dst[4 * W * 3..].iter().all(|&v| v == 7));
    }

    #[test]
    fn draws_are_deterministic_and_respect_the_config() {
        let aug = DrivingAugment::default();
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            (0..200).map(|_| DriveTransform::draw(&aug, true, &mut rng)).collect::<Vec<_>>()
        };
        let a = draw(5);
        assert_eq!(a, draw(5));
        assert_ne!(a, draw(6));
        assert!(a.iter().all(|t| t.shift_px.abs() <= 50 && (0.7..1.3).contains(&t.gain)));
        for cam in [Camera::Center, Camera::Left, Camera::Right] {
            assert!(a.iter().any(|t| t.camera == cam));
        }
        assert!(a.iter().any(|t| t.flip) && a.iter().any(|t| !t.flip));
        assert!(a.iter().any(|t| t.shadow.is_some()) && a.iter().any(|t| t.shadow.is_none()));
        let mut rng = Rng::new(1);
        assert!((0..100).all(|_| DriveTransform::draw(&aug, false, &mut rng).camera == Camera::Center));
        let none = DrivingAugment::none();
        assert!((0..100).all(|_| DriveTransform::draw(&none, true, &mut rng) == DriveTransform::IDENTITY));
    }
}
