//! Camera frame -> int8 input tensor, integer-only, identical on the PC and on the chip.
//!
//! The pipeline, defined precisely enough to reimplement byte for byte:
//!
//! 1. **Pixels.** [`PixelFormat::Rgb888`] is 3 bytes R, G, B. RGB565 is 16 bits `rrrrrggg gggbbbbb`,
//!    high byte first ([`PixelFormat::Rgb565Be`], what the OV2640 sends) or low byte first
//!    ([`PixelFormat::Rgb565Le`]); channels widen to 8 bits by bit replication:
//!    `r8 = r5 << 3 | r5 >> 2`, `g8 = g6 << 2 | g6 >> 4`, `b8 = b5 << 3 | b5 >> 2`.
//! 2. **Crop** to `crop` (x, y, w, h) in frame pixels.
//! 3. **Resize** the crop (`w x h`) to the model input (`W x H`) by separable bilinear
//!    interpolation in fixed point, per RGB channel. For output index `i` along an axis of
//!    input length `n` and output length `N` the source position in 1/256 pixel is
//!    `s = floor((2i + 1) * n * 256 / (2N)) - 128` (pixel centres aligned), clamped to `>= 0`;
//!    `i0 = s >> 8`, `f = s & 255`; if `i0 >= n - 1` then `i0 = n - 1, f = 0`;
//!    `i1 = min(i0 + 1, n - 1)`. Each needed source row is first interpolated horizontally,
//!    `h = p[x0] * (256 - fx) + p[x1] * fx` (0..=65280), then rows combine vertically,
//!    `v = (h[y0] * (256 - fy) + h[y1] * fy + 32768) >> 16` (0..=255).
//! 4. **Colour** ([`ColorMode`]) on the resized pixel: RGB as is; YUV (BT.601 full range, as
//!    PilotNet uses) `Y = (77R + 150G + 29B + 128) >> 8`,
//!    `U = clamp(((-43R - 85G + 128B + 128) >> 8) + 128, 0, 255)`,
//!    `V = clamp(((128R - 107G - 21B + 128) >> 8) + 128, 0, 255)` (arithmetic shifts);
//!    Gray is `Y` alone.
//! 5. **Quantize**: `q = v - 128` as int8, HWC order. The model's input scale `2^e` says what
//!    real value the network saw in training: `x = q * 2^e` (e = -7 gives [-1, 1)).
//!
//! [`preprocess_frame`] does this on a whole frame in memory; [`RowStream`] takes the frame row
//! by row, as a camera delivers it, holding two interpolated rows, and gives the same bytes.

mod stream;

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::shape::Shape;

pub use stream::{FastResize, RowStream, Step};

/// How a camera frame's pixels are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PixelFormat {
    Rgb888,
    Rgb565Be,
    Rgb565Le,
}

impl PixelFormat {
    pub const fn bytes_per_pixel(self) -> usize {
        match self {
            PixelFormat::Rgb888 => 3,
            PixelFormat::Rgb565Be | PixelFormat::Rgb565Le => 2,
        }
    }

    /// The RGB888 value of pixel `x` of `row`.
    #[inline(always)]
    pub fn pixel(self, row: &[u8], x: usize) -> [u8; 3] {
        match self {
            PixelFormat::Rgb888 => [row[3 * x], row[3 * x + 1], row[3 * x + 2]],
            PixelFormat::Rgb565Be => rgb565(u16::from_be_bytes([row[2 * x], row[2 * x + 1]])),
            PixelFormat::Rgb565Le => rgb565(u16::from_le_bytes([row[2 * x], row[2 * x + 1]])),
        }
    }
}

/// RGB565 -> RGB888 by bit replication.
#[inline(always)]
pub const fn rgb565(p: u16) -> [u8; 3] {
    let r = (p >> 11) as u8 & 0x1F;
    let g = (p >> 5) as u8 & 0x3F;
    let b = p as u8 & 0x1F;
    [(r << 3) | (r >> 2), (g << 2) | (g >> 4), (b << 3) | (b >> 2)]
}

/// RGB888 -> RGB565 (truncating), for making test frames and simulating a camera.
pub const fn to_rgb565(p: [u8; 3]) -> u16 {
    ((p[0] as u16 >> 3) << 11) | ((p[1] as u16 >> 2) << 5) | (p[2] as u16 >> 3)
}

/// The colour space the network sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ColorMode {
    Rgb,
    Yuv,
    Gray,
}

impl ColorMode {
    pub const fn channels(self) -> u16 {
        match self {
            ColorMode::Rgb | ColorMode::Yuv => 3,
            ColorMode::Gray => 1,
        }
    }

    /// Converts one resized RGB pixel and writes `channels()` int8 values.
    #[inline(always)]
    pub fn write(self, rgb: [u8; 3], out: &mut [i8]) {
        let q = |v: u8| (v as i16 - 128) as i8;
        match self {
            ColorMode::Rgb => {
                out[0] = q(rgb[0]);
                out[1] = q(rgb[1]);
                out[2] = q(rgb[2]);
            }
            ColorMode::Yuv => {
                let yuv = rgb_to_yuv(rgb);
                out[0] = q(yuv[0]);
                out[1] = q(yuv[1]);
                out[2] = q(yuv[2]);
            }
            // Y alone: U and V are not computed.
            ColorMode::Gray => out[0] = q(luma(rgb)),
        }
    }
}

/// The Y of [`rgb_to_yuv`] (module docs, step 4; always within 0..=255).
#[inline(always)]
pub const fn luma(p: [u8; 3]) -> u8 {
    ((77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32 + 128) >> 8) as u8
}

/// Integer BT.601 full-range RGB -> YUV (module docs, step 4).
#[inline(always)]
pub const fn rgb_to_yuv(p: [u8; 3]) -> [u8; 3] {
    let (r, g, b) = (p[0] as i32, p[1] as i32, p[2] as i32);
    let y = luma(p) as i32;
    let u = ((-43 * r - 85 * g + 128 * b + 128) >> 8) + 128;
    let v = ((128 * r - 107 * g - 21 * b + 128) >> 8) + 128;
    [clamp_u8(y), clamp_u8(u), clamp_u8(v)]
}

const fn clamp_u8(v: i32) -> u8 {
    if v < 0 {
        0
    } else if v > 255 {
        255
    } else {
        v as u8
    }
}

/// A rectangle in frame pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rect {
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
}

/// How a camera frame becomes the model input (stored in the model blob).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Preprocess {
    pub frame_w: u16,
    pub frame_h: u16,
    pub format: PixelFormat,
    pub crop: Rect,
    pub color: ColorMode,
}

impl Preprocess {
    /// True when the crop is non-empty and inside the frame.
    pub fn crop_fits_frame(&self) -> bool {
        let c = self.crop;
        c.w > 0 && c.h > 0 && c.x as u32 + c.w as u32 <= self.frame_w as u32 && c.y as u32 + c.h as u32 <= self.frame_h as u32
    }

    /// Bytes in one frame row.
    pub fn row_bytes(&self) -> usize {
        self.frame_w as usize * self.format.bytes_per_pixel()
    }

    /// Bytes in one frame.
    pub fn frame_bytes(&self) -> usize {
        self.row_bytes() * self.frame_h as usize
    }

    /// The same preprocessing for a camera whose frames are `frame_w` x `frame_h` in `format`
    /// (a real camera feeding a model trained on other frames). The camera is taken to see
    /// the same width of the scene with square pixels: this spec's frame, scaled by
    /// `frame_w / self.frame_w`, is the camera frame's middle band (cut or extended equally
    /// at top and bottom), and the crop keeps its place in that band. Resize and colour stay,
    /// so the network gets an input of the same shape and meaning. `None` when the crop
    /// leaves the camera frame.
    pub fn for_frame(&self, frame_w: u16, frame_h: u16, format: PixelFormat) -> Option<Preprocess> {
        if self.frame_w == 0 {
            return None;
        }
        let scale = |v: u16| v as i64 * frame_w as i64 / self.frame_w as i64;
        let top = (frame_h as i64 - scale(self.frame_h)) / 2;
        let c = self.crop;
        let (x0, x1) = (scale(c.x), scale(c.x + c.w));
        let (y0, y1) = (top + scale(c.y), top + scale(c.y + c.h));
        let pp = Preprocess {
            frame_w,
            frame_h,
            format,
            crop: Rect { x: u16::try_from(x0).ok()?, y: u16::try_from(y0).ok()?, w: u16::try_from(x1 - x0).ok()?, h: u16::try_from(y1 - y0).ok()? },
            color: self.color,
        };
        pp.crop_fits_frame().then_some(pp)
    }

    fn check(&self, out: Shape) -> Result<(), PreprocessError> {
        if !self.crop_fits_frame() || out.h == 0 || out.w == 0 || out.c != self.color.channels() {
            return Err(PreprocessError::BadSpec);
        }
        Ok(())
    }
}

/// Resize sample of output index `i`: `(i0, i1, f)` (module docs, step 3).
#[inline]
pub fn resize_coord(i: u16, n_in: u16, n_out: u16) -> (u16, u16, u16) {
    let num = (2 * i as u64 + 1) * n_in as u64 * 256;
    let s = (num / (2 * n_out as u64)) as i64 - 128;
    let s = s.max(0) as u64;
    let (mut i0, mut f) = (s >> 8, (s & 255) as u16);
    let last = n_in as u64 - 1;
    if i0 >= last {
        i0 = last;
        f = 0;
    }
    let i1 = (i0 + 1).min(last);
    (i0 as u16, i1 as u16, f)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PreprocessError {
    /// Crop outside the frame, empty output, or channels not matching the colour mode.
    BadSpec,
    FrameLength {
        expected: usize,
        got: usize,
    },
    OutputLength {
        expected: usize,
        got: usize,
    },
    RowLength {
        expected: usize,
        got: usize,
    },
    /// More rows pushed than the frame has.
    TooManyRows,
    /// A streaming scratch buffer is smaller than [`RowStream::scratch_len`] says.
    ScratchTooSmall,
}

impl fmt::Display for PreprocessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PreprocessError::BadSpec => write!(f, "preprocessing spec does not fit the frame or the input shape"),
            PreprocessError::FrameLength { expected, got } => write!(f, "frame has {got} bytes, expected {expected}"),
            PreprocessError::OutputLength { expected, got } => write!(f, "output has {got} values, expected {expected}"),
            PreprocessError::RowLength { expected, got } => write!(f, "row has {got} bytes, expected {expected}"),
            PreprocessError::TooManyRows => write!(f, "more rows than the frame has"),
            PreprocessError::ScratchTooSmall => write!(f, "scratch buffer too small"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for PreprocessError {}

/// Preprocesses a whole frame held in memory into `out` (HWC, `out_shape`).
pub fn preprocess_frame(pp: &Preprocess, out_shape: Shape, frame: &[u8], out: &mut [i8]) -> Result<(), PreprocessError> {
    pp.check(out_shape)?;
    if frame.len() != pp.frame_bytes() {
        return Err(PreprocessError::FrameLength { expected: pp.frame_bytes(), got: frame.len() });
    }
    if out.len() != out_shape.len() {
        return Err(PreprocessError::OutputLength { expected: out_shape.len(), got: out.len() });
    }
    let (crop, row_bytes, ch) = (pp.crop, pp.row_bytes(), out_shape.c as usize);
    let row = |y: u16| {
        let start = (crop.y + y) as usize * row_bytes;
        &frame[start..start + row_bytes]
    };
    for oy in 0..out_shape.h {
        let (y0, y1, fy) = resize_coord(oy, crop.h, out_shape.h);
        let (r0, r1) = (row(y0), row(y1));
        for ox in 0..out_shape.w {
            let (x0, x1, fx) = resize_coord(ox, crop.w, out_shape.w);
            let (x0, x1) = ((crop.x + x0) as usize, (crop.x + x1) as usize);
            let (p00, p01) = (pp.format.pixel(r0, x0), pp.format.pixel(r0, x1));
            let (p10, p11) = (pp.format.pixel(r1, x0), pp.format.pixel(r1, x1));
            let mut rgb = [0u8; 3];
            for c in 0..3 {
                let h0 = p00[c] as u32 * (256 - fx as u32) + p01[c] as u32 * fx as u32;
                let h1 = p10[c] as u32 * (256 - fx as u32) + p11[c] as u32 * fx as u32;
                rgb[c] = ((h0 * (256 - fy as u32) + h1 * fy as u32 + 32768) >> 16) as u8;
            }
            let at = (oy as usize * out_shape.w as usize + ox as usize) * ch;
            pp.color.write(rgb, &mut out[at..at + ch]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
