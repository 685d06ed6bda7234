//! Consistency checks that turn a decoded [`ModelDef`] into tensor shapes a kernel can trust.

use core::fmt;

use super::{read_i32, Conv2d, Dense, Layer, ModelDef, TensorInfo, MAX_LAYERS};
use crate::quant::MAX_MULTIPLIER;
use crate::shape::{Shape, Window, WindowError};

/// Largest accumulation depth (`kernel_h * kernel_w * in_channels`, or dense inputs).
/// With int8 weights and inputs `|w * (x - zp)| <= 128 * 255`, so `MAX_K` terms stay below 2^30;
/// with `|bias| <= MAX_ABS_BIAS` the int32 accumulator can never overflow (tract also
/// accumulates in i32).
pub const MAX_K: usize = 32768;
/// Largest allowed `|bias|` (2^30).
pub const MAX_ABS_BIAS: i32 = 1 << 30;
/// Largest activation tensor (bytes); keeps every plan offset far inside `u32`.
pub const MAX_TENSOR_BYTES: usize = 1 << 24;

/// What is wrong with a model definition, and where (`layer` is `None` for the input spec).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Invalid {
    pub layer: Option<u8>,
    pub kind: InvalidKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InvalidKind {
    NoLayers,
    /// A dimension, kernel, stride or channel count is zero.
    ZeroSize,
    /// A pad is not smaller than its kernel (a window would see only padding).
    PadTooLarge,
    /// The (padded) input is smaller than the kernel.
    KernelLargerThanInput,
    /// A tensor is larger than `MAX_TENSOR_BYTES` or a dimension overflows `u16`.
    TensorTooLarge,
    /// The accumulation depth exceeds `MAX_K`.
    AccumulationTooDeep,
    WeightsLength {
        expected: u32,
        got: u32,
    },
    BiasLength {
        expected: u32,
        got: u32,
    },
    MultipliersLength {
        expected: u32,
        got: u32,
    },
    /// A multiplier is outside `[1, 2^31)`.
    MultiplierRange {
        channel: u16,
    },
    /// A bias is outside `[-2^30, 2^30]`.
    BiasRange {
        channel: u16,
    },
    /// A dense layer's input is not flat (insert a flatten).
    DenseInputNotFlat,
    /// The input spec's channels do not match its colour mode.
    InputChannels,
    /// With preprocessing, the input zero point must be 0 (`q = v - 128`).
    InputZeroPoint,
    /// The crop rectangle is empty or not inside the frame.
    CropOutsideFrame,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.layer {
            Some(i) => write!(f, "layer {i}: ")?,
            None => write!(f, "input: ")?,
        }
        use InvalidKind::*;
        match self.kind {
            NoLayers => write!(f, "the model has no layers"),
            ZeroSize => write!(f, "a size, kernel, stride or channel count is zero"),
            PadTooLarge => write!(f, "padding must be smaller than the kernel"),
            KernelLargerThanInput => write!(f, "kernel larger than the padded input"),
            TensorTooLarge => write!(f, "tensor too large (over {MAX_TENSOR_BYTES} bytes or a dimension over 65535)"),
            AccumulationTooDeep => write!(f, "accumulation depth over {MAX_K} could overflow int32"),
            WeightsLength { expected, got } => write!(f, "weights have {got} bytes, shape needs {expected}"),
            BiasLength { expected, got } => write!(f, "bias has {got} bytes, needs {expected}"),
            MultipliersLength { expected, got } => write!(f, "multipliers have {got} bytes, need {expected}"),
            MultiplierRange { channel } => write!(f, "multiplier of channel {channel} outside [1, 2^31)"),
            BiasRange { channel } => write!(f, "bias of channel {channel} outside [-2^30, 2^30]"),
            DenseInputNotFlat => write!(f, "dense layer input is not flat (add a flatten layer)"),
            InputChannels => write!(f, "input channels do not match the colour mode"),
            InputZeroPoint => write!(f, "input zero point must be 0 when the model has preprocessing"),
            CropOutsideFrame => write!(f, "crop rectangle is empty or outside the frame"),
        }
    }
}

type Result<T> = core::result::Result<T, InvalidKind>;

/// Validates `def` and returns the shape and quantization of every tensor.
pub(super) fn validate(def: &ModelDef<'_>) -> core::result::Result<[TensorInfo; MAX_LAYERS + 1], Invalid> {
    let at = |layer: Option<usize>| move |kind| Invalid { layer: layer.map(|i| i as u8), kind };
    check_input(def).map_err(at(None))?;
    if def.layers.is_empty() {
        return Err(at(None)(InvalidKind::NoLayers));
    }
    let mut tensors = [TensorInfo::default(); MAX_LAYERS + 1];
    tensors[0] = TensorInfo { shape: def.input.shape, quant: def.input.quant };
    for (i, node) in def.layers.iter().enumerate() {
        tensors[i + 1] = layer_output(&node.layer, tensors[i]).map_err(at(Some(i)))?;
    }
    Ok(tensors)
}

fn check_input(def: &ModelDef<'_>) -> Result<()> {
    let s = def.input.shape;
    if s.is_empty() {
        return Err(InvalidKind::ZeroSize);
    }
    if s.len() > MAX_TENSOR_BYTES {
        return Err(InvalidKind::TensorTooLarge);
    }
    if let Some(pp) = &def.input.preprocess {
        if pp.color.channels() != s.c {
            return Err(InvalidKind::InputChannels);
        }
        if def.input.quant.zero_point != 0 {
            return Err(InvalidKind::InputZeroPoint);
        }
        if !pp.crop_fits_frame() {
            return Err(InvalidKind::CropOutsideFrame);
        }
    }
    Ok(())
}

fn layer_output(layer: &Layer<'_>, input: TensorInfo) -> Result<TensorInfo> {
    let s = input.shape;
    let out = match layer {
        Layer::Conv2d(c) => {
            let (h, w) = window_output(&c.window, s)?;
            check_conv(c, s)?;
            TensorInfo { shape: Shape::new(h, w, c.out_channels), quant: c.output }
        }
        Layer::Dense(d) => {
            if !s.is_flat() {
                return Err(InvalidKind::DenseInputNotFlat);
            }
            check_dense(d, s.c)?;
            TensorInfo { shape: Shape::flat(d.out_features), quant: d.output }
        }
        Layer::Depthwise(d) => {
            let (h, w) = window_output(&d.window, s)?;
            check_params(d.window.taps(), s.c, d.weights, d.bias, d.multipliers)?;
            TensorInfo { shape: Shape::new(h, w, s.c), quant: d.output }
        }
        Layer::MaxPool(p) | Layer::AvgPool(p) => {
            let (h, w) = window_output(p, s)?;
            TensorInfo { shape: Shape::new(h, w, s.c), quant: input.quant }
        }
        Layer::Flatten => {
            let n = u16::try_from(s.len()).map_err(|_| InvalidKind::TensorTooLarge)?;
            TensorInfo { shape: Shape::flat(n), quant: input.quant }
        }
    };
    if out.shape.is_empty() {
        return Err(InvalidKind::ZeroSize);
    }
    if out.shape.len() > MAX_TENSOR_BYTES {
        return Err(InvalidKind::TensorTooLarge);
    }
    Ok(out)
}

/// Output height and width of a window op (conv or pool) over `s`.
fn window_output(window: &Window, s: Shape) -> Result<(u16, u16)> {
    window.output(s).map_err(|e| match e {
        WindowError::ZeroSize => InvalidKind::ZeroSize,
        WindowError::PadTooLarge => InvalidKind::PadTooLarge,
        WindowError::KernelLargerThanInput => InvalidKind::KernelLargerThanInput,
        WindowError::TooLarge => InvalidKind::TensorTooLarge,
    })
}

fn check_conv(c: &Conv2d<'_>, s: Shape) -> Result<()> {
    if c.out_channels == 0 || s.c == 0 {
        return Err(InvalidKind::ZeroSize);
    }
    let k = c.window.taps() * s.c as usize;
    check_params(k, c.out_channels, c.weights, c.bias, c.multipliers)
}

fn check_dense(d: &Dense<'_>, inputs: u16) -> Result<()> {
    if d.out_features == 0 || inputs == 0 {
        return Err(InvalidKind::ZeroSize);
    }
    check_params(inputs as usize, d.out_features, d.weights, d.bias, d.multipliers)
}

/// Lengths and ranges of a layer's weights (`outs x k`), biases and multipliers.
fn check_params(k: usize, outs: u16, weights: &[u8], bias: &[u8], mults: &[u8]) -> Result<()> {
    if k > MAX_K {
        return Err(InvalidKind::AccumulationTooDeep);
    }
    let n = outs as usize;
    let expected = k * n; // <= 2^15 * 2^16: fits in u32 and usize
    if weights.len() != expected {
        return Err(InvalidKind::WeightsLength { expected: expected as u32, got: clamp_u32(weights.len()) });
    }
    if bias.len() != 4 * n {
        return Err(InvalidKind::BiasLength { expected: 4 * n as u32, got: clamp_u32(bias.len()) });
    }
    if mults.len() != 4 * n {
        return Err(InvalidKind::MultipliersLength { expected: 4 * n as u32, got: clamp_u32(mults.len()) });
    }
    for c in 0..n {
        let m = read_i32(mults, c);
        if !(1..=MAX_MULTIPLIER).contains(&m) {
            return Err(InvalidKind::MultiplierRange { channel: c as u16 });
        }
        let b = read_i32(bias, c);
        if !(-MAX_ABS_BIAS..=MAX_ABS_BIAS).contains(&b) {
            return Err(InvalidKind::BiasRange { channel: c as u16 });
        }
    }
    Ok(())
}

fn clamp_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
