use crate::bytes_as_i8;
use crate::format::{read_i32, Depthwise};
use crate::interp::{Tensor, TensorMut};
use crate::quant::{lower_clamp, requantize};

/// Depthwise convolution (depth multiplier 1), HWC input and output, HWC (`[ky][kx][c]`)
/// weights.
///
/// `acc[oy][ox][c] = bias[c] + sum over (ky, kx) inside the input of
/// w[ky][kx][c] * (x[iy][ix][c] - in_zp)`, with `iy = oy * stride_h + ky - pad_top` (the
/// padded positions hold the zero point, so they add nothing).
pub fn depthwise(l: &Depthwise<'_>, input: Tensor<'_>, output: TensorMut<'_>) {
    let (is, os) = (input.info.shape, output.info.shape);
    let (ih, iw, c) = (is.h as isize, is.w as isize, is.c as usize);
    let win = l.window;
    let (kh, kw) = (win.kernel_h as usize, win.kernel_w as usize);
    let in_zp = input.info.quant.zero_point as i32;
    let out_zp = l.output.zero_point;
    let lo = lower_clamp(l.relu, out_zp);
    let w = bytes_as_i8(l.weights);
    let (x, y) = (input.data, output.data);

    for oy in 0..os.h as usize {
        for ox in 0..os.w as usize {
            for ch in 0..c {
                let mut acc = read_i32(l.bias, ch);
                for ky in 0..kh {
                    let iy = (oy * win.stride_h as usize + ky) as isize - win.pads.top as isize;
                    if iy < 0 || iy >= ih {
                        continue;
                    }
                    for kx in 0..kw {
                        let ix = (ox * win.stride_w as usize + kx) as isize - win.pads.left as isize;
                        if ix < 0 || ix >= iw {
                            continue;
                        }
                        let xv = x[(iy as usize * iw as usize + ix as usize) * c + ch] as i32;
                        acc += w[(ky * kw + kx) * c + ch] as i32 * (xv - in_zp);
                    }
                }
                y[(oy * os.w as usize + ox) * c + ch] = requantize(acc, read_i32(l.multipliers, ch), out_zp, lo);
            }
        }
    }
}
