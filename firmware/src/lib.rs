//! The int8 network on a Cortex-M4F/M7.
//!
//! The library holds what every firmware binary and on-target test shares: the embedded model
//! and its statically sized buffers ([`model`]), the kernels the interpreter runs
//! ([`kernels`]), cost measurement ([`cost`], [`stack`]), host files through semihosting
//! ([`hostio`]) and a clean exit ([`exit`]). Linking it also links the defmt logger
//! (semihosting, for QEMU) and the panic handler.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod cost;
pub mod exit;
pub mod hostio;
pub mod kernels;
pub mod model;
pub mod once;
pub mod stack;

// The global defmt logger: in QEMU, defmt frames go to the host through semihosting stdout.
use defmt_semihosting as _;
// On panic: print the message through defmt, then HardFault (which `exit` turns into a
// non-zero exit status).
use panic_probe as _;
