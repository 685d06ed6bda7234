//! Optimized int8 kernels for ARMv7E-M (Cortex-M4F/M7), bit-exact with `common`'s reference.
//!
//! [`Dsp`] implements [`common::interp::Kernels`]: convolution uses the DSP instructions
//! (`SXTB16`/`SXTAB16` to widen int8 pairs, `SMLAD` for two multiply-accumulates per
//! instruction, `SSAT` in the requantization); see [`conv`] and [`requant`] for the blocking and
//! the arithmetic. A dense layer is the 1x1 convolution of a one-pixel input, so it runs the
//! same code. Depthwise convolution takes four channels per word with `SMLABB`/`SMLATT` (see
//! [`depthwise`]). Max pooling takes four channels per `SSUB8` + `SEL`. `no_std`, no heap; scratch
//! buffers live on the stack (about 4 KB, during one layer).
//!
//! On the chip the innermost loops are hand-scheduled `asm!`; on any other architecture the
//! very same algorithm runs with the instructions emulated in plain Rust ([`dsp`]), which is
//! what the host property tests compare against the reference on every `cargo test`.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod conv;
pub mod depthwise;
pub mod dsp;
pub mod pool;
pub mod requant;

use common::format::{Conv2d, Dense, Depthwise, Pads, Pool, Window};
use common::interp::{Kernels, Tensor, TensorMut};

/// The optimized kernel set. Average pooling (no shipped model uses it) runs the reference
/// kernel.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dsp;

impl Kernels for Dsp {
    fn conv2d(&mut self, l: &Conv2d<'_>, i: Tensor<'_>, o: TensorMut<'_>) {
        conv::conv2d(l, i, o)
    }

    fn dense(&mut self, l: &Dense<'_>, i: Tensor<'_>, o: TensorMut<'_>) {
        // The input is flat (1x1xN, the parser checks it) and the weights `[out][in]` are the
        // OHWI weights of a 1x1 kernel.
        let conv = Conv2d {
            out_channels: l.out_features,
            window: Window::square(1, 1, Pads::default()),
            relu: l.relu,
            output: l.output,
            weights: l.weights,
            bias: l.bias,
            multipliers: l.multipliers,
        };
        conv::conv2d(&conv, i, o)
    }

    fn depthwise(&mut self, l: &Depthwise<'_>, i: Tensor<'_>, o: TensorMut<'_>) {
        depthwise::depthwise(l, i, o)
    }

    fn max_pool(&mut self, l: &Pool, i: Tensor<'_>, o: TensorMut<'_>) {
        pool::max_pool(l, i, o)
    }

    fn avg_pool(&mut self, l: &Pool, i: Tensor<'_>, o: TensorMut<'_>) {
        common::kernels::avg_pool(l, i, o)
    }
}
