use crate::bytes_as_i8;
use crate::format::{read_i32, Conv2d};
use crate::interp::{Tensor, TensorMut};
use crate::quant::{lower_clamp, requantize};

/// 2-D convolution, HWC input and output, OHWI weights.
///
/// `acc[oy][ox][oc] = bias[oc] + sum over (ky, kx, ic) inside the input of
/// w[oc][ky][kx][ic] * (x[iy][ix][ic] - in_zp)`, with `iy = oy * stride_h + ky - pad_top` (the
/// padded positions hold the zero point, so they add nothing).
pub fn conv2d(l: &Conv2d<'_>, input: Tensor<'_>, output: TensorMut<'_>) {
    let (is, os) = (input.info.shape, output.info.shape);
    let (ih, iw, ic) = (is.h as isize, is.w as isize, is.c as usize);
    let win = l.window;
    let (kh, kw) = (win.kernel_h as usize, win.kernel_w as usize);
    let in_zp = input.info.quant.zero_point as i32;
    let out_zp = l.output.zero_point;
    let lo = lower_clamp(l.relu, out_zp);
    let w = bytes_as_i8(l.weights);
    let x = input.data;
    let y = output.data;

    for oy in 0..os.h as usize {
        for ox in 0..os.w as usize {
            for oc in 0..os.c as usize {
                let mut acc = read_i32(l.bias, oc);
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
                        let xi = (iy as usize * iw as usize + ix as usize) * ic;
                        let wi = ((oc * kh + ky) * kw + kx) * ic;
                        for c in 0..ic {
                            acc += w[wi + c] as i32 * (x[xi + c] as i32 - in_zp);
                        }
                    }
                }
                let m = read_i32(l.multipliers, oc);
                y[(oy * os.w as usize + ox) * os.c as usize + oc] = requantize(acc, m, out_zp, lo);
            }
        }
    }
}
