//! Small images and files that the data tests write into temporary folders.

use std::path::Path;

/// A `w x h` RGB888 image whose every pixel differs from its neighbours (R follows x, G follows
/// y, B mixes both), so that geometric mistakes show.
pub fn gradient(w: usize, h: usize) -> Vec<u8> {
    let (sx, sy) = ((w - 1).max(1), (h - 1).max(1));
    let mut v = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            v.extend_from_slice(&[(x * 255 / sx) as u8, (y * 255 / sy) as u8, ((x * 7 + y * 13) % 256) as u8]);
        }
    }
    v
}

/// Writes an RGB888 image; the file name's extension picks the format (jpg, png, ppm).
pub fn write_image(path: &Path, rgb: &[u8], w: u32, h: u32) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    image::save_buffer(path, rgb, w, h, image::ExtendedColorType::Rgb8).unwrap();
}

/// A flat-colour RGB888 image.
pub fn solid(w: usize, h: usize, rgb: [u8; 3]) -> Vec<u8> {
    rgb.iter().copied().cycle().take(w * h * 3).collect()
}
