//! Row-streaming preprocessing: a frame arrives one row at a time and output rows leave as soon
//! as the two source rows they interpolate have arrived. Holds two horizontally interpolated
//! rows (`2 * W * 3` u16) and one output row (`W * C` i8): 2.9 KB for PilotNet's 200x66 YUV input,
//! against 153.6 KB for a 320x160 RGB888 frame.
//!
//! Fast paths. When the crop is a whole multiple `k` of the output along both axes, every
//! resize weight along an axis is the same ([`Step`]): `f = 0` for odd `k` (the output takes
//! one source pixel, `k = 1` being the identity), `f = 128` for even `k` (the mean of two
//! neighbours). The spec's arithmetic then reduces exactly to sums of one, two or four source
//! pixels, `v = (sum + round) >> shift` with `shift` the number of halvings (0, 1 or 2) and
//! `round = 2^shift / 2`: `(256 p * 256 + 32768) >> 16 = p`, `(128 (a + b) * 256 + 32768) >> 16
//! = (a + b + 1) >> 1`, `(128 (a + b) * 128 + 128 (c + d) * 128 + 32768) >> 16 =
//! (a + b + c + d + 2) >> 2`. So the stream keeps per-channel sums instead of weighted rows,
//! and skips the multiplications: this is what a camera windowed to the model's input gives
//! (`k = 1`).

use super::{resize_coord, ColorMode, PixelFormat, Preprocess, PreprocessError};
use crate::shape::Shape;

/// The resize along one axis when the crop is `k` output pixels long per output pixel:
/// output `i` reads source `k * i + offset` and, for even `k`, the next one too (module
/// documentation). `None` from [`Step::of`] when the resize weights vary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub k: u16,
    pub offset: u16,
    /// Two source pixels per output pixel (`f = 128`), else one (`f = 0`).
    pub pair: bool,
}

impl Step {
    /// The step of a resize from `n_in` to `n_out` pixels, when `n_in` is a multiple of
    /// `n_out`: `resize_coord(i, n_in, n_out)` is then `(k i + offset, .., 0)` for odd `k` and
    /// `(k i + offset, k i + offset + 1, 128)` for even `k` (tested for every size up to 200).
    pub const fn of(n_in: u16, n_out: u16) -> Option<Step> {
        if n_out == 0 || !n_in.is_multiple_of(n_out) {
            return None;
        }
        let k = n_in / n_out;
        Some(if k % 2 == 1 { Step { k, offset: (k - 1) / 2, pair: false } } else { Step { k, offset: k / 2 - 1, pair: true } })
    }

    /// The first source pixel of output `i`.
    #[inline(always)]
    pub const fn first(&self, i: u16) -> u16 {
        self.k * i + self.offset
    }
}

/// Both axes' steps, when both have one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FastResize {
    pub x: Step,
    pub y: Step,
}

impl FastResize {
    /// The fast path of `pp` into an output of `out`, if it has one.
    pub fn of(pp: &Preprocess, out: Shape) -> Option<FastResize> {
        Some(FastResize { x: Step::of(pp.crop.w, out.w)?, y: Step::of(pp.crop.h, out.h)? })
    }

    /// Halvings in the sum of an output pixel: `v = (sum + (1 << shift >> 1)) >> shift`.
    pub const fn shift(&self) -> u32 {
        self.x.pair as u32 + self.y.pair as u32
    }
}

pub struct RowStream<'s> {
    pp: Preprocess,
    out: Shape,
    /// Two horizontally interpolated source rows, `3 * out.w` each.
    rows: &'s mut [u16],
    /// Crop-relative source row held by each of `rows`' halves (`u16::MAX`: none).
    held: [u16; 2],
    out_row: &'s mut [i8],
    /// Frame rows received so far.
    received: u16,
    /// Next output row to emit.
    next_y: u16,
    /// The fast path, when the resize has one (module documentation).
    fast: Option<FastResize>,
}

impl<'s> RowStream<'s> {
    /// Sizes of the two scratch buffers for an output `out_w` wide with `channels` channels:
    /// `(u16s for the interpolated rows, i8s for the output row)`.
    pub const fn scratch_len(out_w: u16, channels: u16) -> (usize, usize) {
        (2 * 3 * out_w as usize, out_w as usize * channels as usize)
    }

    /// Bytes of row buffers a camera pipeline holds while a frame streams in: the scratch of
    /// [`RowStream::scratch_len`] (the u16 rows first, so a word-aligned buffer aligns them)
    /// and one camera row as it arrives. The row-band plan keeps them in the arena
    /// ([`crate::plan::BandPlan::scratch`]).
    pub fn buffer_bytes(pp: &Preprocess, out: Shape) -> usize {
        let (rows, out_row) = Self::scratch_len(out.w, out.c);
        2 * rows + out_row + pp.row_bytes()
    }

    pub fn new(pp: Preprocess, out: Shape, rows: &'s mut [u16], out_row: &'s mut [i8]) -> Result<Self, PreprocessError> {
        pp.check(out)?;
        let (need_rows, need_out) = Self::scratch_len(out.w, out.c);
        if rows.len() < need_rows || out_row.len() < need_out {
            return Err(PreprocessError::ScratchTooSmall);
        }
        Ok(RowStream {
            pp,
            out,
            rows: &mut rows[..need_rows],
            held: [u16::MAX; 2],
            out_row: &mut out_row[..need_out],
            received: 0,
            next_y: 0,
            fast: FastResize::of(&pp, out),
        })
    }

    /// The fast path this stream takes, if any.
    pub fn fast_path(&self) -> Option<FastResize> {
        self.fast
    }

    /// Starts a new frame.
    pub fn reset(&mut self) {
        self.held = [u16::MAX; 2];
        self.received = 0;
        self.next_y = 0;
    }

    /// True when every output row of this frame has been emitted.
    pub fn done(&self) -> bool {
        self.next_y == self.out.h
    }

    /// Takes the next frame row and calls `emit(y, row)` for every output row it completes
    /// (`row` is `W * C` int8 values of output row `y`).
    pub fn push_row(&mut self, row: &[u8], mut emit: impl FnMut(u16, &[i8])) -> Result<(), PreprocessError> {
        if row.len() != self.pp.row_bytes() {
            return Err(PreprocessError::RowLength { expected: self.pp.row_bytes(), got: row.len() });
        }
        if self.received >= self.pp.frame_h {
            return Err(PreprocessError::TooManyRows);
        }
        let frame_y = self.received;
        self.received += 1;
        let crop = self.pp.crop;
        if frame_y < crop.y || frame_y >= crop.y + crop.h || self.done() {
            return Ok(());
        }
        let r = frame_y - crop.y;
        if let Some(fast) = self.fast {
            self.push_fast(fast, row, r, emit);
            return Ok(());
        }
        if r < resize_coord(self.next_y, crop.h, self.out.h).0 {
            return Ok(()); // no pending output row reads this source row
        }
        // Replace the older held row: pending output rows only need rows >= the newer one.
        let slot = if self.held[0] == u16::MAX || (self.held[1] != u16::MAX && self.held[0] < self.held[1]) { 0 } else { 1 };
        self.held[slot] = r;
        self.interpolate_row(row, slot);

        while !self.done() {
            let (y0, y1, fy) = resize_coord(self.next_y, crop.h, self.out.h);
            if y1 > r {
                break;
            }
            let s0 = if self.held[0] == y0 { 0 } else { 1 };
            let s1 = if self.held[0] == y1 { 0 } else { 1 };
            self.combine(s0, s1, fy);
            emit(self.next_y, self.out_row);
            self.next_y += 1;
        }
        Ok(())
    }

    /// Horizontal pass of one source row into half `slot` of `rows`.
    fn interpolate_row(&mut self, row: &[u8], slot: usize) {
        let w3 = 3 * self.out.w as usize;
        let dst = &mut self.rows[slot * w3..(slot + 1) * w3];
        let crop = self.pp.crop;
        for ox in 0..self.out.w {
            let (x0, x1, fx) = resize_coord(ox, crop.w, self.out.w);
            let p0 = self.pp.format.pixel(row, (crop.x + x0) as usize);
            let p1 = self.pp.format.pixel(row, (crop.x + x1) as usize);
            for c in 0..3 {
                dst[3 * ox as usize + c] = (p0[c] as u32 * (256 - fx as u32) + p1[c] as u32 * fx as u32) as u16;
            }
        }
    }

    /// Vertical pass of the rows in halves `s0` and `s1`, colour conversion, into `out_row`.
    fn combine(&mut self, s0: usize, s1: usize, fy: u16) {
        let w3 = 3 * self.out.w as usize;
        let ch = self.out.c as usize;
        for ox in 0..self.out.w as usize {
            let mut rgb = [0u8; 3];
            for (c, v) in rgb.iter_mut().enumerate() {
                let h0 = self.rows[s0 * w3 + 3 * ox + c] as u32;
                let h1 = self.rows[s1 * w3 + 3 * ox + c] as u32;
                *v = ((h0 * (256 - fy as u32) + h1 * fy as u32 + 32768) >> 16) as u8;
            }
            self.pp.color.write(rgb, &mut self.out_row[ox * ch..(ox + 1) * ch]);
        }
    }

    /// [`RowStream::push_row`]'s fast path for crop row `r`: its sums into the first half of
    /// the row buffer (the first row of a pair) or straight into the output row.
    fn push_fast(&mut self, fast: FastResize, row: &[u8], r: u16, mut emit: impl FnMut(u16, &[i8])) {
        let y0 = fast.y.first(self.next_y);
        let second = fast.y.pair && r == y0 + 1;
        if r != y0 && !second {
            return; // no output row reads this source row
        }
        let w3 = 3 * self.out.w as usize;
        let (first_half, second_half) = self.rows.split_at_mut(w3);
        let dst = if second { &mut second_half[..w3] } else { first_half };
        sum_row(self.pp.format, fast.x, self.pp.crop.x, row, dst);
        if fast.y.pair && !second {
            return; // wait for the pair's second row
        }
        let other = if second { Some(&self.rows[..w3]) } else { None };
        let dst = if second { &self.rows[w3..2 * w3] } else { &self.rows[..w3] };
        combine_sums(self.pp.color, fast.shift(), dst, other, self.out_row);
        emit(self.next_y, self.out_row);
        self.next_y += 1;
    }
}

/// The per-channel sums of one source row's pixels for every output pixel (one pixel, or
/// two neighbours for a pair step), RGB in `dst`. One loop per pixel format and step kind,
/// so that the pixel's decoding is not chosen per pixel.
fn sum_row(format: PixelFormat, step: Step, x0: u16, row: &[u8], dst: &mut [u16]) {
    #[inline(always)]
    fn sums(step: Step, x0: u16, dst: &mut [u16], pixel: impl Fn(usize) -> [u8; 3]) {
        for (i, d) in dst.chunks_exact_mut(3).enumerate() {
            let x = (x0 + step.first(i as u16)) as usize;
            let p = pixel(x);
            if step.pair {
                let q = pixel(x + 1);
                d[0] = p[0] as u16 + q[0] as u16;
                d[1] = p[1] as u16 + q[1] as u16;
                d[2] = p[2] as u16 + q[2] as u16;
            } else {
                d[0] = p[0] as u16;
                d[1] = p[1] as u16;
                d[2] = p[2] as u16;
            }
        }
    }
    match format {
        PixelFormat::Rgb888 => sums(step, x0, dst, |x| [row[3 * x], row[3 * x + 1], row[3 * x + 2]]),
        PixelFormat::Rgb565Be => sums(step, x0, dst, |x| super::rgb565(u16::from_be_bytes([row[2 * x], row[2 * x + 1]]))),
        PixelFormat::Rgb565Le => sums(step, x0, dst, |x| super::rgb565(u16::from_le_bytes([row[2 * x], row[2 * x + 1]]))),
    }
}

/// An output row from the sums of one row (`other` none) or two: `(sum + round) >> shift`
/// per channel, then the colour. One loop per colour mode.
fn combine_sums(color: ColorMode, shift: u32, sums: &[u16], other: Option<&[u16]>, out: &mut [i8]) {
    #[inline(always)]
    fn run(shift: u32, sums: &[u16], other: Option<&[u16]>, out: &mut [i8], ch: usize, write: impl Fn([u8; 3], &mut [i8])) {
        let round = (1u32 << shift) >> 1;
        let v = |s: u32| ((s + round) >> shift) as u8;
        match other {
            None => {
                for (s, o) in sums.chunks_exact(3).zip(out.chunks_exact_mut(ch)) {
                    write([v(s[0] as u32), v(s[1] as u32), v(s[2] as u32)], o);
                }
            }
            Some(t) => {
                for ((s, t), o) in sums.chunks_exact(3).zip(t.chunks_exact(3)).zip(out.chunks_exact_mut(ch)) {
                    write([v(s[0] as u32 + t[0] as u32), v(s[1] as u32 + t[1] as u32), v(s[2] as u32 + t[2] as u32)], o);
                }
            }
        }
    }
    let ch = color.channels() as usize;
    match color {
        ColorMode::Rgb => run(shift, sums, other, out, ch, |p, o| ColorMode::Rgb.write(p, o)),
        ColorMode::Yuv => run(shift, sums, other, out, ch, |p, o| ColorMode::Yuv.write(p, o)),
        ColorMode::Gray => run(shift, sums, other, out, ch, |p, o| ColorMode::Gray.write(p, o)),
    }
}
