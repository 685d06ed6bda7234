//! The forward camera: a pinhole rendering 320x160 RGB888 frames like the Udacity simulator's
//! (60 degree vertical field of view, horizon at row 62, the car's bonnet in the bottom rows, so
//! PilotNet's crop of rows 60..135 shows the road).
//!
//! The ground is flat, so every image row below the horizon sees the ground at one forward
//! distance, and along a row the ground point moves linearly: per row the renderer computes the
//! texture coordinates of the first pixel and the step per pixel once, picks the mip level
//! whose texels match the pixel's footprint, and then only steps and samples (bilinear, fixed
//! point) across the row. Rows above the horizon read the sky panorama at the row's elevation
//! and each column's azimuth. Distant ground fades into haze.
//!
//! Cameras: the centre camera sits over the car's centre, 1.4 m up, pitched 7.4 degrees down;
//! the left and right cameras are the same camera moved [`SIDE_CAMERA_OFFSET`] = 0.8 m to the
//! side (about where the mirrors are).

use image::RgbImage;

use super::sky::{column_of, PANORAMA_H, PANORAMA_W, ROW_ANGLE};
use super::texture::{lerp_packed, unpack};
use super::vehicle::Pose;
use super::world::World;

pub const FRAME_W: usize = 320;
pub const FRAME_H: usize = 160;
/// Focal length in pixels: a 60 degree vertical field of view (Unity's default camera, which
/// the Udacity simulator uses): `80 / tan(30 deg)`.
pub const FOCAL: f64 = 138.564_064_605_510_2;
/// Image row of the horizon (between rows 61 and 62), as in Udacity frames.
pub const HORIZON_ROW: f64 = 62.0;
/// Height of the cameras above the ground (m).
pub const CAMERA_HEIGHT: f64 = 1.4;
/// Sideways distance of the left and right cameras from the centre camera (m).
pub const SIDE_CAMERA_OFFSET: f64 = 0.8;
/// Top of the bonnet at the image's centre column (row), and its curvature (rows per
/// column squared).
const BONNET_TOP: f64 = 141.0;
const BONNET_CURVE: f64 = 0.000_42;
/// How far the bonnet appears to move sideways per metre of camera offset (pixels).
const BONNET_SHIFT: f64 = 45.0;

/// A 320x160 RGB888 camera frame, row-major, 3 bytes per pixel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    rgb: Vec<u8>,
}

impl Default for Frame {
    fn default() -> Self {
        Frame { rgb: vec![0; FRAME_W * FRAME_H * 3] }
    }
}

impl Frame {
    pub fn rgb(&self) -> &[u8] {
        &self.rgb
    }

    pub fn rgb_mut(&mut self) -> &mut [u8] {
        &mut self.rgb
    }

    pub fn to_image(&self) -> RgbImage {
        RgbImage::from_raw(FRAME_W as u32, FRAME_H as u32, self.rgb.clone()).expect("frame size matches")
    }
}

/// What one image row sees.
#[derive(Clone, Copy, Debug)]
enum RowView {
    /// Sky panorama row.
    Sky(usize),
    Ground {
        /// Forward distance of the row's ground line (m).
        forward: f64,
        /// Sideways metres per pixel along the row.
        lateral_per_px: f64,
        /// Size of a pixel's footprint on the ground (m): geometric mean of its width and depth.
        footprint: f64,
    },
}

/// One of the car's cameras.
#[derive(Clone, Debug)]
pub struct Camera {
    /// Metres left of the car's centre (negative: to the right).
    offset_left: f64,
    rows: Vec<RowView>,
    /// Azimuth of each column, clockwise from the heading, in panorama columns (16.16 fixed).
    column_azimuth: Vec<i32>,
    /// Per row: the columns `[start, end)` the bonnet covers (empty when `start == end`).
    bonnet: Vec<(usize, usize)>,
    /// Per pixel of the frame: the bonnet's shading, 0..=255.
    bonnet_shade: Vec<u8>,
}

impl Camera {
    pub fn centre() -> Camera {
        Camera::new(0.0)
    }

    pub fn left() -> Camera {
        Camera::new(SIDE_CAMERA_OFFSET)
    }

    pub fn right() -> Camera {
        Camera::new(-SIDE_CAMERA_OFFSET)
    }

    /// A camera `offset_left` metres left of the car's centre.
    pub fn new(offset_left: f64) -> Camera {
        let (cx, cy) = (FRAME_W as f64 / 2.0, FRAME_H as f64 / 2.0);
        let pitch = ((cy - HORIZON_ROW) / FOCAL).atan();
        let (sp, cp) = pitch.sin_cos();
        // A ray through row y: forward (cp - yn sp), up -(sp + yn cp), per unit of depth.
        let drop = |y: f64| {
            let yn = (y - cy) / FOCAL;
            (sp + yn * cp, cp - yn * sp)
        };
        let rows = (0..FRAME_H)
            .map(|row| {
                let y = row as f64 + 0.5;
                let (down, ahead) = drop(y);
                if down <= 0.0 {
                    let elevation = (-down).atan2(ahead);
                    return RowView::Sky(((elevation / ROW_ANGLE) as usize).min(PANORAMA_H - 1));
                }
                let t = CAMERA_HEIGHT / down;
                let forward = t * ahead;
                let (next_down, next_ahead) = drop(y + 1.0);
                let depth = forward - CAMERA_HEIGHT / next_down * next_ahead;
                let lateral_per_px = t / FOCAL;
                RowView::Ground { forward, lateral_per_px, footprint: (lateral_per_px * depth.abs()).sqrt() }
            })
            .collect();
        let column_azimuth = (0..FRAME_W)
            .map(|col| {
                let xn = (col as f64 + 0.5 - cx) / FOCAL;
                (column_of((xn * cp).atan()) * 65536.0).round() as i32
            })
            .collect();
        let centre = cx + offset_left * BONNET_SHIFT;
        let mut bonnet = Vec::with_capacity(FRAME_H);
        let mut bonnet_shade = vec![0u8; FRAME_W * FRAME_H];
        for row in 0..FRAME_H {
            let y = row as f64 + 0.5;
            let half = ((y - BONNET_TOP) / BONNET_CURVE).max(0.0).sqrt();
            let start = (centre - half).round().clamp(0.0, FRAME_W as f64) as usize;
            let end = (centre + half).round().clamp(0.0, FRAME_W as f64) as usize;
            bonnet.push((start, end.max(start)));
            for col in start..end {
                let x = col as f64 + 0.5 - centre;
                let edge = y - (BONNET_TOP + BONNET_CURVE * x * x);
                // Darker towards the sides, a bright reflection along the front edge.
                let side = 1.0 - (x / 260.0).powi(2);
                let highlight = 0.35 * (-edge / 2.5).exp();
                bonnet_shade[row * FRAME_W + col] = ((0.55 * side + 0.25 + highlight).min(1.0) * 255.0) as u8;
            }
        }
        Camera { offset_left, rows, column_azimuth, bonnet, bonnet_shade }
    }
}

impl World {
    /// Renders what `camera` on a car at `pose` sees into `frame`.
    pub fn render(&self, camera: &Camera, pose: &Pose, frame: &mut Frame) {
        let (fwd, left) = (pose.forward(), pose.left());
        let eye = [pose.x + left[0] * camera.offset_left, pose.y + left[1] * camera.offset_left];
        let heading_col = (column_of(pose.heading) * 65536.0) as i64;
        let bonnet = self.look.bonnet.map(|c| c as u32);
        let map = &self.ground.map;
        let texel = super::ground::TEXEL;
        for (row, out) in frame.rgb.chunks_exact_mut(FRAME_W * 3).enumerate() {
            let (b0, b1) = camera.bonnet[row];
            match camera.rows[row] {
                RowView::Sky(pano_row) => {
                    let texels = &self.sky.texels[pano_row * PANORAMA_W..][..PANORAMA_W];
                    for (px, &az) in out.chunks_exact_mut(3).zip(&camera.column_azimuth) {
                        let col = ((heading_col - az as i64) >> 16) as usize & (PANORAMA_W - 1);
                        px.copy_from_slice(&unpack(texels[col])[..]);
                    }
                }
                RowView::Ground { forward, lateral_per_px, footprint } => {
                    let k = (footprint / texel).log2().floor().clamp(0.0, (map.levels() - 1) as f64) as i32;
                    let level = map.level(k as usize);
                    let size = texel * (1 << k) as f64;
                    // Level-k texel centres sit at level-0 coordinates i * 2^k + (2^k - 1) / 2.
                    let shift = ((1 << k) as f64 - 1.0) / 2.0 * texel;
                    let first = (0.5 - FRAME_W as f64 / 2.0) * lateral_per_px;
                    let p0 = [
                        eye[0] + fwd[0] * forward - left[0] * first - self.ground.origin[0] - shift,
                        eye[1] + fwd[1] * forward - left[1] * first - self.ground.origin[1] - shift,
                    ];
                    let fixed = |v: f64| (v / size * 65536.0).round() as i32;
                    let (u0, v0) = (fixed(p0[0]), fixed(p0[1]));
                    let (du, dv) = (fixed(-left[0] * lateral_per_px), fixed(-left[1] * lateral_per_px));
                    let haze = (256.0 * (1.0 - (-forward / self.look.haze_distance).exp())) as u32;
                    let span = |out: &mut [u8], from: usize| {
                        let (mut u, mut v) = (u0 + du * from as i32, v0 + dv * from as i32);
                        for px in out.chunks_exact_mut(3) {
                            let c = lerp_packed(level.bilinear(u, v), self.haze, haze);
                            px.copy_from_slice(&unpack(c)[..]);
                            u += du;
                            v += dv;
                        }
                    };
                    span(&mut out[..b0 * 3], 0);
                    span(&mut out[b1 * 3..], b1);
                    let shades = &camera.bonnet_shade[row * FRAME_W..][b0..b1];
                    for (px, &shade) in out[b0 * 3..b1 * 3].chunks_exact_mut(3).zip(shades) {
                        for c in 0..3 {
                            px[c] = ((bonnet[c] * shade as u32) >> 8).min(255) as u8;
                        }
                    }
                }
            }
        }
    }
}
