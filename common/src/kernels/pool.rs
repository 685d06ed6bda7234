use crate::format::Pool;
use crate::interp::{Tensor, TensorMut};
use crate::quant::div_round_half_even;

/// Visits the real (non-padded) input positions of every output window.
fn windows(p: &Pool, input: &Tensor<'_>, output: TensorMut<'_>, mut reduce: impl FnMut(&mut dyn Iterator<Item = i8>) -> i8) {
    let (is, os) = (input.info.shape, output.info.shape);
    let c = is.c as usize;
    for oy in 0..os.h as usize {
        let y0 = (oy * p.stride_h as usize) as isize - p.pads.top as isize;
        let ys = y0.max(0) as usize..(y0 + p.kernel_h as isize).min(is.h as isize) as usize;
        for ox in 0..os.w as usize {
            let x0 = (ox * p.stride_w as usize) as isize - p.pads.left as isize;
            let xs = x0.max(0) as usize..(x0 + p.kernel_w as isize).min(is.w as isize) as usize;
            for ch in 0..c {
                let mut it = ys.clone().flat_map(|iy| xs.clone().map(move |ix| input.data[(iy * is.w as usize + ix) * c + ch]));
                output.data[(oy * os.w as usize + ox) * c + ch] = reduce(&mut it);
            }
        }
    }
}

/// Max pooling: the largest real input in each window (padding ignored).
pub fn max_pool(p: &Pool, input: Tensor<'_>, output: TensorMut<'_>) {
    windows(p, &input, output, |it| it.fold(i8::MIN, i8::max));
}

/// Average pooling in the quantized domain: the mean of the real inputs in each window, rounded
/// to nearest, ties to even (input and output share scale and zero point).
pub fn avg_pool(p: &Pool, input: Tensor<'_>, output: TensorMut<'_>) {
    windows(p, &input, output, |it| {
        let (sum, n) = it.fold((0i32, 0i32), |(s, n), v| (s + v as i32, n + 1));
        div_round_half_even(sum, n) as i8
    });
}
