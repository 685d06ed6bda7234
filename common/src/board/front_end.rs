//! The camera's set-up for a model: which of the sensor's modes, which window of its image, and
//! what output size, so that the microcontroller receives no more pixels than the network
//! needs.
//!
//! The OV2640's DSP crops a window out of the sensor's image and scales it (its zoom engine,
//! downscaling only, output sizes in multiples of 4) before it sends the frame. So the board
//! asks it for the model's crop, already at the network's input size: the readout is
//! `input_w x input_h` pixels (rounded up to multiples of 4) instead of a whole 320x240
//! frame, and the firmware's preprocessing is left with the colour conversion (an identity
//! resize: `common::preprocess`'s fast path with `k = 1`). The sensor mode is the fastest whose
//! image still holds the crop at no less than that resolution (the sub-sampled modes run at
//! twice and four times the full array's rate).
//!
//! Where the model's frames sit in the sensor's image: the frame the model was trained on,
//! scaled to fit inside the mode's image and centred (the sensor's field of view holds the
//! training camera's; for the simulator's 320x160 frame in a 4:3 image this is
//! `Preprocess::for_frame`'s mapping: full width, centred rows).
//!
//! On the simulator and in QEMU nothing changes: the host gives the model its own frames and
//! the model's own preprocessing. On a board the sensor's scaler takes the place of the
//! preprocessing's resize, so the network sees the same region at the same size, through a
//! different filter (the sensor's, not our bilinear one).

use super::camera::{Camera, SensorMode, OV2640_MODES};
use crate::preprocess::{Preprocess, Rect};
use crate::shape::Shape;

/// What the sensor is set up to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SensorSetup {
    pub mode: SensorMode,
    /// The window of the mode's image the DSP scales (its pixels; width and height multiples of
    /// 4, as the DSP's window registers count them).
    pub window: Rect,
    /// The frame it sends: the window scaled to this size (multiples of 4).
    pub out_w: u16,
    pub out_h: u16,
}

/// A camera set up for a model, and the firmware's preprocessing of its frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrontEnd {
    pub setup: SensorSetup,
    /// The board's camera sending `setup`'s frames (their size, the mode's frame period).
    pub camera: Camera,
    /// The preprocessing of those frames: the network's input in their top-left corner,
    /// unscaled, the model's colour conversion.
    pub frames: Preprocess,
}

/// `v` rounded up to a multiple of 4.
const fn up4(v: u16) -> u16 {
    v.div_ceil(4) * 4
}

/// The region of `mode`'s image that shows the model's crop (module documentation), in the
/// mode's pixels; `None` when it leaves the image or vanishes.
fn crop_in_mode(pp: &Preprocess, mode: &SensorMode) -> Option<Rect> {
    let (fw, fh) = (pp.frame_w as u64, pp.frame_h as u64);
    if fw == 0 || fh == 0 {
        return None;
    }
    let (mw, mh) = (mode.width as u64, mode.height as u64);
    // Scale num/den: the smaller of mw/fw and mh/fh.
    let (num, den) = if mw * fh <= mh * fw { (mw, fw) } else { (mh, fh) };
    let scale = |v: u16| v as u64 * num / den;
    let left = (mw - scale(pp.frame_w)) / 2;
    let top = (mh - scale(pp.frame_h)) / 2;
    let c = pp.crop;
    let (x0, x1) = (left + scale(c.x), left + scale(c.x + c.w));
    let (y0, y1) = (top + scale(c.y), top + scale(c.y + c.h));
    (x1 <= mw && y1 <= mh && x1 > x0 && y1 > y0).then(|| Rect { x: x0 as u16, y: y0 as u16, w: (x1 - x0) as u16, h: (y1 - y0) as u16 })
}

/// The window the DSP can take for `crop`: its registers count in units of 4 pixels, so the
/// size is rounded down to multiples of 4 (no less than `min_w x min_h`) and the centred
/// window's corner down to one.
fn dsp_window(crop: Rect, min_w: u16, min_h: u16) -> Option<Rect> {
    let (w, h) = (crop.w / 4 * 4, crop.h / 4 * 4);
    let corner = |at: u16, len: u16, kept: u16| (at + (len - kept) / 2) / 4 * 4;
    (w >= min_w && h >= min_h).then(|| Rect { x: corner(crop.x, crop.w, w), y: corner(crop.y, crop.h, h), w, h })
}

/// `camera` set up for a network whose input is `input`, trained on frames `pp` describes
/// (module documentation); `None` when no sensor mode holds the crop at the input's
/// resolution.
pub fn front_end(camera: &Camera, pp: &Preprocess, input: Shape) -> Option<FrontEnd> {
    let (out_w, out_h) = (up4(input.w), up4(input.h));
    OV2640_MODES.iter().find_map(|mode| {
        let window = dsp_window(crop_in_mode(pp, mode)?, out_w, out_h)?;
        let setup = SensorSetup { mode: *mode, window, out_w, out_h };
        let frames = Preprocess { frame_w: out_w, frame_h: out_h, format: camera.format, crop: Rect { x: 0, y: 0, w: input.w, h: input.h }, color: pp.color };
        Some(FrontEnd { setup, camera: camera.sending(&setup), frames })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::camera::{OV2640_CIF, OV2640_SVGA};
    use crate::board::BLACKPILL;
    use crate::preprocess::{ColorMode, PixelFormat};

    fn sim_frame(crop: Rect) -> Preprocess {
        Preprocess { frame_w: 320, frame_h: 160, format: PixelFormat::Rgb888, crop, color: ColorMode::Yuv }
    }

    #[test]
    fn pilotnet_gets_its_crop_at_its_input_size_in_the_fastest_mode() {
        // The 320x160 frame in CIF's 400x296: scaled by 1.25 to 400x200, rows from 48; its
        // rows 60..135 are 123..216, whose window is 92 rows from 120 (a multiple of 4).
        let f = front_end(&BLACKPILL.camera, &sim_frame(Rect { x: 0, y: 60, w: 320, h: 75 }), Shape::new(66, 200, 3)).unwrap();
        assert_eq!(f.setup.mode, OV2640_CIF);
        assert_eq!((f.setup.out_w, f.setup.out_h), (200, 68));
        assert_eq!(f.setup.window, Rect { x: 0, y: 120, w: 400, h: 92 });
        assert_eq!((f.camera.width, f.camera.height), (200, 68));
        assert_eq!(f.camera.frame_ns, OV2640_CIF.frame_ns(BLACKPILL.camera.xclk_hz));
        assert_eq!(f.frames.crop, Rect { x: 0, y: 0, w: 200, h: 66 });
        assert_eq!((f.frames.frame_w, f.frames.frame_h, f.frames.format), (200, 68, PixelFormat::Rgb565Be));
    }

    #[test]
    fn a_crop_too_small_for_a_sub_sampled_mode_takes_a_larger_one() {
        // 40x20 source pixels of the 320x160 frame: 50x25 in CIF, too few for a 48x28 input;
        // 100x50 in SVGA.
        let f = front_end(&BLACKPILL.camera, &sim_frame(Rect { x: 140, y: 70, w: 40, h: 20 }), Shape::new(28, 48, 3)).unwrap();
        assert_eq!(f.setup.mode, OV2640_SVGA);
        let w = f.setup.window;
        assert!(w.w >= 48 && w.h >= 28 && [w.x, w.y, w.w, w.h].iter().all(|v| v % 4 == 0), "{w:?}");
    }

    #[test]
    fn a_square_frame_fits_inside_the_image_by_its_height() {
        let pp = Preprocess { frame_w: 32, frame_h: 32, format: PixelFormat::Rgb888, crop: Rect { x: 0, y: 0, w: 32, h: 32 }, color: ColorMode::Rgb };
        let f = front_end(&BLACKPILL.camera, &pp, Shape::new(32, 32, 3)).unwrap();
        assert_eq!(f.setup.mode, OV2640_CIF);
        assert_eq!(f.setup.window, Rect { x: 52, y: 0, w: 296, h: 296 });
    }

    #[test]
    fn no_mode_holds_a_crop_finer_than_the_whole_array() {
        // One source pixel of 320 stretched over 64 input pixels: 5 pixels even in UXGA.
        assert_eq!(front_end(&BLACKPILL.camera, &sim_frame(Rect { x: 0, y: 0, w: 1, h: 1 }), Shape::new(64, 64, 3)), None);
    }
}
