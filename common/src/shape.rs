//! Tensor shapes. Activations are stored HWC (channels last), batch 1.

use serde::{Deserialize, Serialize};

/// Height x width x channels of one activation tensor (batch 1, HWC layout).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Shape {
    pub h: u16,
    pub w: u16,
    pub c: u16,
}

impl Shape {
    pub const fn new(h: u16, w: u16, c: u16) -> Self {
        Shape { h, w, c }
    }

    /// A flat vector of `n` values.
    pub const fn flat(n: u16) -> Self {
        Shape { h: 1, w: 1, c: n }
    }

    /// Number of elements (bytes, for int8). Always fits: `u16^3 < 2^48`.
    pub const fn len(&self) -> usize {
        self.h as usize * self.w as usize * self.c as usize
    }

    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the tensor is a plain vector (what dense layers take and give).
    pub const fn is_flat(&self) -> bool {
        self.h == 1 && self.w == 1
    }
}
