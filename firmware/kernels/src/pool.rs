//! Max pooling: channel-contiguous running maxima (HWC keeps a pixel's channels together).
//! When the channel count is a multiple of 4, four channels at a time with `SSUB8` + `SEL`
//! (two instructions for four byte-wise maxima); otherwise a byte loop.

use common::format::Pool;
use common::interp::{Tensor, TensorMut};

use crate::dsp::smax8;

/// Four bytes as a little-endian word.
#[inline(always)]
fn word(b: &[i8]) -> u32 {
    u32::from_le_bytes([b[0] as u8, b[1] as u8, b[2] as u8, b[3] as u8])
}

/// The largest real input in each window, per channel (padding ignored; an all-padding window,
/// which valid models never have, gives -128 as in the reference).
pub fn max_pool(p: &Pool, input: Tensor<'_>, output: TensorMut<'_>) {
    let (is, os) = (input.info.shape, output.info.shape);
    let c = is.c as usize;
    let (ih, iw) = (is.h as isize, is.w as isize);
    for oy in 0..os.h as usize {
        let y0 = (oy * p.stride_h as usize) as isize - p.pads.top as isize;
        let ys = y0.max(0) as usize..(y0 + p.kernel_h as isize).min(ih).max(0) as usize;
        for ox in 0..os.w as usize {
            let x0 = (ox * p.stride_w as usize) as isize - p.pads.left as isize;
            let xs = x0.max(0) as usize..(x0 + p.kernel_w as isize).min(iw).max(0) as usize;
            let o = (oy * os.w as usize + ox) * c;
            let out = &mut output.data[o..o + c];
            if c % 4 == 0 {
                // Window positions outer, four channels per step inner: each step is one
                // load of the input, one of the running maxima, SSUB8 + SEL and a store.
                out.fill(i8::MIN);
                for iy in ys.clone() {
                    for ix in xs.clone() {
                        let i = (iy * iw as usize + ix) * c;
                        for (d, s) in out.chunks_exact_mut(4).zip(input.data[i..i + c].chunks_exact(4)) {
                            let m = smax8(word(d), word(s));
                            d.copy_from_slice(&m.to_le_bytes().map(|b| b as i8));
                        }
                    }
                }
                continue;
            }
            out.fill(i8::MIN);
            for iy in ys.clone() {
                for ix in xs.clone() {
                    let i = (iy * iw as usize + ix) * c;
                    for (d, s) in out.iter_mut().zip(&input.data[i..i + c]) {
                        *d = (*d).max(*s);
                    }
                }
            }
        }
    }
}
