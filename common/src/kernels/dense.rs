use crate::bytes_as_i8;
use crate::format::{read_i32, Dense};
use crate::interp::{Tensor, TensorMut};
use crate::quant::{lower_clamp, requantize};

/// Fully connected: `acc[o] = bias[o] + sum_i w[o][i] * (x[i] - in_zp)`.
pub fn dense(l: &Dense<'_>, input: Tensor<'_>, output: TensorMut<'_>) {
    let n_in = input.data.len();
    let in_zp = input.info.quant.zero_point as i32;
    let lo = lower_clamp(l.relu, l.output.zero_point);
    let w = bytes_as_i8(l.weights);
    for (o, y) in output.data.iter_mut().enumerate() {
        let row = &w[o * n_in..(o + 1) * n_in];
        let mut acc = read_i32(l.bias, o);
        for (wi, xi) in row.iter().zip(input.data) {
            acc += *wi as i32 * (*xi as i32 - in_zp);
        }
        *y = requantize(acc, read_i32(l.multipliers, o), l.output.zero_point, lo);
    }
}
