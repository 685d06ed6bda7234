//! The kernels the firmware runs: the optimized ARMv7E-M DSP kernels of the `kernels` crate
//! (bit-exact with `common`'s scalar reference, which they fall back to for layers outside
//! their limits). The application, the on-target tests and the end-to-end check all switch
//! with the one line [`Active`]; `common::interp::Reference` there runs the oracle instead.

pub use common::interp::Kernels;

/// The kernel set every firmware binary and on-target test uses.
pub type Active = ::kernels::Dsp;

/// A fresh instance of the active kernel set.
pub fn active() -> Active {
    Active::default()
}
