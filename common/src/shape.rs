//! Tensor shapes, and the one geometry rule of every sliding window (convolution, depthwise
//! convolution, pooling): how padding is chosen and how large the output is. Activations are
//! stored HWC (channels last), batch 1.

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

/// Explicit zero padding (in the quantized domain: padded inputs equal the input zero point).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Pads {
    pub top: u8,
    pub left: u8,
    pub bottom: u8,
    pub right: u8,
}

/// How a window treats the border, as Keras/TF name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// No padding: windows stay inside the input.
    Valid,
    /// Output size `ceil(in / stride)`, padding split evenly with the extra row/column at the
    /// bottom/right (TensorFlow's rule).
    Same,
}

/// Why a window does not fit its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WindowError {
    /// A kernel side or stride is zero.
    ZeroSize,
    /// A pad is not smaller than its kernel (a window would see only padding).
    PadTooLarge,
    /// The padded input is smaller than the kernel.
    KernelLargerThanInput,
    /// An output side does not fit `u16`.
    TooLarge,
}

/// A sliding window over the rows and columns of a tensor: kernel, stride and padding.
///
/// Output row `oy` reads input rows `oy * stride_h - pads.top ..` for `kernel_h` rows (rows
/// outside the input are padding); likewise for columns. The output has
/// `(in + pad_before + pad_after - kernel) / stride + 1` rows (and columns).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Window {
    pub kernel_h: u8,
    pub kernel_w: u8,
    pub stride_h: u8,
    pub stride_w: u8,
    pub pads: Pads,
}

impl Window {
    /// A square `k x k` window with stride `s` and explicit pads.
    pub const fn square(k: u8, s: u8, pads: Pads) -> Window {
        Window { kernel_h: k, kernel_w: k, stride_h: s, stride_w: s, pads }
    }

    /// The window of kernel `k` and stride `s` with the pads that `padding` means for an input
    /// of `in_h x in_w`.
    pub fn padded(padding: Padding, in_h: u16, in_w: u16, k: (u8, u8), s: (u8, u8)) -> Window {
        let pads = match padding {
            Padding::Valid => Pads::default(),
            Padding::Same => {
                let total = |n: u16, k: u8, s: u8| -> u32 {
                    let (n, k, s) = (n as u32, k as u32, s.max(1) as u32);
                    ((n.div_ceil(s)).saturating_sub(1) * s + k).saturating_sub(n)
                };
                let (th, tw) = (total(in_h, k.0, s.0), total(in_w, k.1, s.1));
                Pads { top: (th / 2) as u8, bottom: (th - th / 2) as u8, left: (tw / 2) as u8, right: (tw - tw / 2) as u8 }
            }
        };
        Window { kernel_h: k.0, kernel_w: k.1, stride_h: s.0, stride_w: s.1, pads }
    }

    /// Output rows and columns over an input of `input.h x input.w`.
    pub fn output(&self, input: Shape) -> Result<(u16, u16), WindowError> {
        let p = self.pads;
        if self.kernel_h == 0 || self.kernel_w == 0 || self.stride_h == 0 || self.stride_w == 0 {
            return Err(WindowError::ZeroSize);
        }
        if p.top >= self.kernel_h || p.bottom >= self.kernel_h || p.left >= self.kernel_w || p.right >= self.kernel_w {
            return Err(WindowError::PadTooLarge);
        }
        let side = |n: u16, before: u8, after: u8, k: u8, s: u8| {
            let padded = n as u32 + before as u32 + after as u32;
            if padded < k as u32 {
                return Err(WindowError::KernelLargerThanInput);
            }
            u16::try_from((padded - k as u32) / s as u32 + 1).map_err(|_| WindowError::TooLarge)
        };
        Ok((side(input.h, p.top, p.bottom, self.kernel_h, self.stride_h)?, side(input.w, p.left, p.right, self.kernel_w, self.stride_w)?))
    }

    /// The same window with other top and bottom pads (a row band sees only the padding rows
    /// its own rows have).
    pub const fn with_row_pads(self, top: u8, bottom: u8) -> Window {
        Window { pads: Pads { top, bottom, left: self.pads.left, right: self.pads.right }, ..self }
    }

    /// Window positions of one output: `kernel_h * kernel_w`.
    pub const fn taps(&self) -> usize {
        self.kernel_h as usize * self.kernel_w as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_follows_tensorflow() {
        // 5 wide, kernel 3, stride 2: ceil(5 / 2) = 3 outputs, total pad 2, split 1 / 1.
        let w = Window::padded(Padding::Same, 5, 6, (3, 3), (2, 2));
        assert_eq!(w.pads, Pads { top: 1, bottom: 1, left: 0, right: 1 });
        assert_eq!(w.output(Shape::new(5, 6, 1)), Ok((3, 3)));
        let v = Window::padded(Padding::Valid, 5, 6, (3, 3), (2, 2));
        assert_eq!(v.output(Shape::new(5, 6, 1)), Ok((2, 2)));
    }

    #[test]
    fn bad_windows_are_errors() {
        let w = |k, s, p: u8| Window::square(k, s, Pads { top: p, left: 0, bottom: 0, right: 0 });
        assert_eq!(w(0, 1, 0).output(Shape::new(4, 4, 1)), Err(WindowError::ZeroSize));
        assert_eq!(w(2, 0, 0).output(Shape::new(4, 4, 1)), Err(WindowError::ZeroSize));
        assert_eq!(w(2, 1, 2).output(Shape::new(4, 4, 1)), Err(WindowError::PadTooLarge));
        assert_eq!(w(5, 1, 0).output(Shape::new(4, 4, 1)), Err(WindowError::KernelLargerThanInput));
        assert_eq!(w(1, 1, 0).output(Shape::new(4, 4, 1)), Ok((4, 4)));
    }
}
