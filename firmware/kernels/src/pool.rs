//! Max pooling: channel-contiguous running maxima (HWC keeps a pixel's channels together),
//! four channels at a time with `SSUB8` + `SEL` (two instructions for four byte-wise maxima),
//! the last `c mod 4` channels one at a time.

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
    let (is, ow) = (input.info.shape, output.info.shape.w as usize);
    let (c, iw) = (is.c as usize, is.w as usize);
    let window = |o: usize, k: u8, s: u8, pad: u8, n: u16| {
        let start = (o * s as usize) as isize - pad as isize;
        start.max(0) as usize..(start + k as isize).min(n as isize).max(0) as usize
    };
    for (o, out) in output.data.chunks_exact_mut(c).enumerate() {
        let ys = window(o / ow, p.kernel_h, p.stride_h, p.pads.top, is.h);
        let xs = window(o % ow, p.kernel_w, p.stride_w, p.pads.left, is.w);
        // Window positions outer, four channels per step inner: each step is one load of the
        // input, one of the running maxima, SSUB8 + SEL and a store.
        out.fill(i8::MIN);
        for iy in ys {
            for ix in xs.clone() {
                let i = (iy * iw + ix) * c;
                let (mut d, mut s) = (out.chunks_exact_mut(4), input.data[i..i + c].chunks_exact(4));
                for (d, s) in (&mut d).zip(&mut s) {
                    d.copy_from_slice(&smax8(word(d), word(s)).to_le_bytes().map(|b| b as i8));
                }
                for (d, s) in d.into_remainder().iter_mut().zip(s.remainder()) {
                    *d = (*d).max(*s);
                }
            }
        }
    }
}
