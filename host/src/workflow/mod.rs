//! The steps a user runs, each one function with typed results: train a run from its
//! configuration ([`train`]), quantize it ([`crate::quant::ptq`]), evaluate it. The command line
//! and the demo call these and print what they return.

pub mod eval;
pub mod score;
pub mod select;
pub mod train;
