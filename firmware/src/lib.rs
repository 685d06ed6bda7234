//! The int8 network on a Cortex-M4F/M7.
//!
//! The library holds what every firmware binary and on-target test shares: the embedded model
//! and its statically sized buffers ([`model`]), the kernels the interpreter runs
//! ([`kernels`]) and the stack high-water mark ([`stack`]). With the `qemu` feature (default)
//! it also has what the QEMU machine needs: instruction counting ([`cost`]), host files through
//! semihosting ([`hostio`]), a clean exit ([`exit`]) and [`qemu_runtime!`], which each QEMU
//! binary invokes to link the defmt logger (semihosting) and the panic and fault handlers. A
//! real board (`blackpill/`) brings its own logger and handlers.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(feature = "qemu")]
pub mod cost;
#[cfg(feature = "qemu")]
pub mod exit;
#[cfg(feature = "qemu")]
pub mod hostio;
pub mod kernels;
pub mod model;
pub mod once;
pub mod stack;
