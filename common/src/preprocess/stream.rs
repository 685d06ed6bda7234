//! Row-streaming preprocessing: a frame arrives one row at a time and output rows leave as soon
//! as the two source rows they interpolate have arrived. Holds two horizontally interpolated
//! rows (`2 * W * 3` u16) and one output row (`W * C` i8): 2.9 KB for PilotNet's 200x66 YUV input,
//! against 153.6 KB for a 320x160 RGB888 frame.

use super::{resize_coord, PreprocessError, Preprocess};
use crate::shape::Shape;

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

    pub fn new(
        pp: Preprocess,
        out: Shape,
        rows: &'s mut [u16],
        out_row: &'s mut [i8],
    ) -> Result<Self, PreprocessError> {
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
        })
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
        if r < resize_coord(self.next_y, crop.h, self.out.h).0 {
            return Ok(()); // no pending output row reads this source row
        }
        // Replace the older held row: pending output rows only need rows >= the newer one.
        let slot = if self.held[0] == u16::MAX || (self.held[1] != u16::MAX && self.held[0] < self.held[1]) {
            0
        } else {
            1
        };
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
}
