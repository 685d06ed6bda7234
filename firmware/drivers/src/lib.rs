//! Drivers for the car's hardware, written against the `embedded-hal` 1.0 traits only, so they
//! run on any chip that has an embedded-hal implementation (and against fake buses in the host
//! tests):
//!
//! - [`arducam`]: the ArduCAM Mini 2MP Plus camera module: its frame-buffer chip over
//!   `SpiDevice`, the [`ov2640`] sensor over `I2c`; frames come out row by row, never whole.
//! - [`servo`]: the steering servo on a `SetDutyCycle` PWM channel.
#![no_std]

pub mod arducam;
pub mod ov2640;
pub mod servo;
