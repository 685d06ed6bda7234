//! Deterministic synthetic camera frames (RGB888), varied enough that every frame drives the
//! network differently: until the simulator renders real tracks, these stand in for camera
//! input.

use common::testing::Rng;

fn clamp(v: i64) -> u8 {
    v.clamp(0, 255) as u8
}

/// A road scene: sky above a random horizon, a grey road whose centre drifts and curves
/// towards the horizon, a centre line, textured grass, a brightness change and pixel noise.
pub fn road(rng: &mut Rng, w: usize, h: usize) -> Vec<u8> {
    let horizon = h as i64 * rng.range(25, 50) / 100;
    let offset = rng.range(-(w as i64) / 3, w as i64 / 3); // road centre at the bottom
    let curve = rng.range(-(w as i64) / 2, w as i64 / 2); // extra drift at the horizon
    let half_bottom = w as i64 * rng.range(25, 55) / 100;
    let sky = [rng.range(90, 170), rng.range(140, 200), rng.range(190, 255)];
    let road = rng.range(70, 130);
    let grass = [rng.range(20, 70), rng.range(90, 150), rng.range(20, 60)];
    let bright = rng.range(-30, 30);
    let noise = rng.range(0, 16);
    let mut f = vec![0u8; w * h * 3];
    for y in 0..h as i64 {
        // 0 at the horizon, 1024 at the bottom.
        let t = if y < horizon { 0 } else { (y - horizon) * 1024 / (h as i64 - horizon).max(1) };
        let centre = w as i64 / 2 + (offset * t + curve * (1024 - t) * (1024 - t) / 1024) / 1024;
        let half = 4 + half_bottom * t / 1024;
        for x in 0..w as i64 {
            let d = (x - centre).abs();
            let base = if y < horizon {
                [sky[0] + y * 40 / horizon.max(1), sky[1], sky[2]]
            } else if d < half / 20 + 1 && (y / 6) % 2 == 0 {
                [230, 230, 220]
            } else if d < half {
                [road, road, road + 5]
            } else {
                let tex = (x * 7 + y * 13) % 30;
                [grass[0] + tex, grass[1], grass[2]]
            };
            let i = ((y as usize) * w + x as usize) * 3;
            for c in 0..3 {
                let n = if noise == 0 { 0 } else { rng.range(-noise, noise) };
                f[i + c] = clamp(base[c] + bright + n);
            }
        }
    }
    f
}

/// A traffic-sign-like image: a coloured disc with a light inner bar on a cluttered
/// background, random size, position and colours, with noise.
pub fn sign(rng: &mut Rng, w: usize, h: usize) -> Vec<u8> {
    let (cx, cy) = (rng.range(w as i64 / 3, 2 * w as i64 / 3), rng.range(h as i64 / 3, 2 * h as i64 / 3));
    let r = rng.range(w as i64 / 5, w as i64 / 2);
    let ring = [rng.range(120, 255), rng.range(0, 90), rng.range(0, 200)];
    let inner = [rng.range(180, 255), rng.range(180, 255), rng.range(150, 255)];
    let bg = [rng.range(0, 200), rng.range(0, 200), rng.range(0, 200)];
    let noise = rng.range(2, 20);
    let mut f = vec![0u8; w * h * 3];
    for y in 0..h as i64 {
        for x in 0..w as i64 {
            let d2 = (x - cx).pow(2) + (y - cy).pow(2);
            let base = if d2 < (r * 3 / 5).pow(2) && (y - cy).abs() < r / 4 {
                inner
            } else if d2 < r * r {
                ring
            } else {
                [bg[0] + (x * 5) % 40, bg[1] + (y * 3) % 40, bg[2]]
            };
            let i = ((y as usize) * w + x as usize) * 3;
            for c in 0..3 {
                f[i + c] = clamp(base[c] + rng.range(-noise, noise));
            }
        }
    }
    f
}
