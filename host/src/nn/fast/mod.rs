//! Our own CPU kernels for the layers that dominate a training step, plugged into burn as custom
//! operations on the flex backend (and on `Autodiff<Flex>`, with their own backward pass), so
//! that burn's modules, autodiff graph, optimizers and checkpoints stay as they are.
//!
//! Why: flex runs a convolution's weight gradient as a convolution whose kernel is the output
//! gradient (a few very large GEMM rows, poorly parallel) and its input gradient as a transposed
//! convolution; `pilot bench train` measured about a third of Keras' speed on the same CPU.
//! [`conv`] does all three passes as im2col + GEMM on chunks of images, in parallel. Flex's
//! max pooling is a generic 3-D loop with a closure per output (two fifths of the sign CNN's
//! step); [`pool`] is the plain 2-D loop.
//!
//! Anything these kernels do not cover (dilation, groups, no bias, other dtypes, other backends)
//! falls back to burn's own operation, so the choice never changes what a network can do.

pub mod conv;
mod direct;
mod flex;
pub mod gemm;
pub mod layers;
pub mod pool;

use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::nn::PaddingConfig2d;
use burn::tensor::{DType, Tensor};

/// Which implementation a network's layers use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kernels {
    /// Ours where they apply (the default).
    #[default]
    Fast,
    /// burn's own operations everywhere (the reference the tests compare against).
    Burn,
}

/// `conv.forward(x)`, through our kernels when they cover the layer.
pub fn conv2d(conv: &Conv2d, x: Tensor<4>, kernels: Kernels) -> Tensor<4> {
    match (kernels, geometry(conv, &x)) {
        (Kernels::Fast, Some(geom)) => {
            keep_freed_memory();
            let bias = conv.bias.as_ref().expect("geometry() checked the bias").val();
            match flex::conv2d(x, conv.weight.val(), bias, geom) {
                Ok(y) => y,
                Err(x) => conv.forward(x),
            }
        }
        _ => conv.forward(x),
    }
}

/// `pool.forward(x)`, through our kernel when it covers the layer (no padding or dilation,
/// floor rounding, f32).
pub fn max_pool2d(pool: &MaxPool2d, x: Tensor<4>, kernels: Kernels) -> Tensor<4> {
    let plain = matches!(pool.padding, PaddingConfig2d::Valid) && pool.dilation == [1, 1] && !pool.ceil_mode;
    match (kernels, plain && x.dtype() == DType::F32) {
        (Kernels::Fast, true) => match pool::PoolGeom::new(x.dims(), pool.kernel_size, pool.stride) {
            Some(geom) => flex::max_pool2d(x, geom).unwrap_or_else(|x| pool.forward(x)),
            None => pool.forward(x),
        },
        _ => pool.forward(x),
    }
}

/// The layer's geometry when our kernel covers it: f32, no dilation, one group, a bias and
/// explicit (or no) padding.
fn geometry(conv: &Conv2d, x: &Tensor<4>) -> Option<conv::Geom> {
    let pads = match conv.padding {
        PaddingConfig2d::Valid => [0; 4],
        PaddingConfig2d::Explicit(top, left, bottom, right) => [top, left, bottom, right],
        _ => return None,
    };
    let plain = conv.dilation == [1, 1] && conv.groups == 1 && conv.bias.is_some();
    if !plain || x.dtype() != DType::F32 || conv.weight.val().dtype() != DType::F32 {
        return None;
    }
    conv::Geom::new(x.dims(), conv.weight.dims(), conv.stride, pads)
}

/// Makes glibc's malloc keep freed memory for reuse instead of handing it back to the kernel.
///
/// A training step allocates and frees the same tensors of up to ~20 MB every time (PilotNet's
/// first activations and their gradients). By default glibc maps each of those freshly and
/// unmaps it on free, so every step pays a page fault and a kernel zeroing per 4 KB touched
/// (measured: a fifth of PilotNet's step). Keeping them costs no more memory than the peak a
/// step needs anyway. Done once per process, on the first convolution we run.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // SAFETY: mallopt only changes the allocator's thresholds; it is safe to call at
            // any time from any thread.
            unsafe {
                // Blocks below 32 MB (glibc's upper limit for this threshold) come from the heap.
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                // Free memory at the top of the heap is kept up to 1 GB.
                libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            }
        });
    }
}

/// `conv.forward(x)` with `weight` and `bias` in place of the layer's own (quantization-aware
/// training passes its fake-quantized ones, which must keep their autodiff history), through
/// our kernels when they cover the layer.
pub fn conv2d_with(conv: &Conv2d, x: Tensor<4>, weight: Tensor<4>, bias: Tensor<1>, kernels: Kernels) -> Tensor<4> {
    let mut x = x;
    if let (Kernels::Fast, Some(geom)) = (kernels, geometry(conv, &x)) {
        keep_freed_memory();
        match flex::conv2d(x, weight.clone(), bias.clone(), geom) {
            Ok(y) => return y,
            Err(back) => x = back,
        }
    }
    let [top, left, bottom, right] = match conv.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right) => [top, left, bottom, right],
        _ => [0; 4],
    };
    let options = burn::tensor::ops::ConvOptions::new_with_padding(conv.stride, [(top, bottom), (left, right)], conv.dilation, conv.groups);
    burn::tensor::module::conv2d(x, weight, Some(bias), options)
}
