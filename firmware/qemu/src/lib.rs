//! What a program running in QEMU needs besides the shared `firmware` library: instruction
//! counting ([`cost`]), host files through semihosting ([`hostio`]), a clean exit ([`exit`])
//! and [`runtime!`], which the application and each on-target test invoke to link the defmt
//! logger (semihosting) and the panic and fault handlers.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod cost;
pub mod exit;
pub mod hostio;
