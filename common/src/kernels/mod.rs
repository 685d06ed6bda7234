//! Scalar reference kernels: the oracle every other implementation must match byte for byte.
//!
//! Written to be obviously correct, not fast: one output at a time, the accumulator built
//! exactly as the definition says, then [`crate::quant::requantize`].

mod conv;
mod dense;
mod depthwise;
mod pool;

pub use conv::conv2d;
pub use dense::dense;
pub use depthwise::depthwise;
pub use pool::{avg_pool, max_pool};
