//! The `pilot` host tool as a library, so that integration tests and the end-to-end tests in
//! `tests/` drive exactly what the command line runs.

pub mod bench;
pub mod cli;
pub mod data;
pub mod explain;
pub mod fsutil;
pub mod nn;
pub mod onnx;
pub mod plot;
pub mod qemu;
pub mod quant;
pub mod serve;
pub mod sim;
pub mod train;
pub mod transfer;
pub mod verify;
pub mod workflow;
pub mod zoo;
