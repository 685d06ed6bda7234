//! The kernels the firmware runs. Today the `common` reference kernels (scalar, the oracle);
//! the optimized ARMv7E-M DSP kernels will implement [`common::interp::Kernels`] and replace
//! [`Active`] here, so the application, the on-target tests and the end-to-end check all switch
//! with this one line.

pub use common::interp::Kernels;

/// The kernel set every firmware binary and on-target test uses.
pub type Active = common::interp::Reference;

/// A fresh instance of the active kernel set.
pub fn active() -> Active {
    Active::default()
}
