//! The model blob: what a quantized network is on disk and in flash.
//!
//! A blob is a 16-byte [`header`] followed by a postcard-encoded [`ModelDef`]. Weights, biases
//! and multipliers are byte slices borrowed from the blob (zero copy: the model runs straight from
//! flash). [`Model::parse`] checks the header, decodes the payload and validates every shape,
//! length and range, so a parsed [`Model`] can be run without further checks; any other byte
//! string gives a [`ParseError`], never a panic.
//!
//! Conventions: activations are HWC, batch 1. A tensor's real value is
//! `(q - zero_point) * 2^scale_exp`. Conv weights are OHWI (`[out][ky][kx][in]`), dense weights
//! `[out][in]` where `in` runs over the flattened HWC input. Weights are int8, symmetric (zero
//! point 0); biases int32 LE; multipliers `m_c` int32 LE in `[1, 2^31)` with effective scale
//! `m_c / 2^16` (see [`crate::quant`]).

pub mod crc32;
pub mod header;
mod validate;
#[cfg(feature = "alloc")]
pub mod owned;
#[cfg(feature = "alloc")]
mod write;

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::plan::Plan;
use crate::preprocess::Preprocess;
use crate::shape::Shape;

pub use validate::{Invalid, InvalidKind, MAX_ABS_BIAS, MAX_K, MAX_TENSOR_BYTES};
#[cfg(feature = "alloc")]
pub use write::write;

/// Most layers a model may have (flatten counts).
pub const MAX_LAYERS: usize = 32;

/// Quantization of one activation tensor: real = (q - zero_point) * 2^scale_exp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QParams {
    pub scale_exp: i8,
    pub zero_point: i8,
}

impl QParams {
    /// The real value of `q`: `(q - zero_point) * 2^scale_exp`. Exact: `q - zero_point` has at
    /// most 9 bits and `2^scale_exp` is a power of two f32 holds for every `scale_exp`
    /// (as a subnormal below 2^-126), so the product is exact unless it exceeds f32's range
    /// (then it is infinite: `|q - zero_point| * 2^scale_exp > f32::MAX` needs
    /// `scale_exp >= 121`). The power is built from its exponent bits: no `powi`, which
    /// `core` lacks on the chip.
    pub fn dequantize(&self, q: i8) -> f32 {
        (q as i32 - self.zero_point as i32) as f32 * pow2(self.scale_exp)
    }
}

/// `2^e`, exactly: a normal f32 for `e >= -126`, a subnormal below.
const fn pow2(e: i8) -> f32 {
    let e = e as i32;
    if e >= -126 {
        f32::from_bits(((e + 127) as u32) << 23)
    } else {
        f32::from_bits(1 << (e + 149))
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

/// How a conv or pool window treats the border, as Keras/TF name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// No padding: windows stay inside the input.
    Valid,
    /// Output size `ceil(in / stride)`, padding split evenly with the extra row/column at the
    /// bottom/right (TensorFlow's rule).
    Same,
}

impl Pads {
    /// The explicit pads that `padding` means for one input size.
    pub fn for_padding(padding: Padding, in_h: u16, in_w: u16, k: (u8, u8), s: (u8, u8)) -> Pads {
        match padding {
            Padding::Valid => Pads::default(),
            Padding::Same => {
                let total = |n: u16, k: u8, s: u8| -> u32 {
                    let (n, k, s) = (n as u32, k as u32, s.max(1) as u32);
                    let out = n.div_ceil(s);
                    ((out.saturating_sub(1)) * s + k).saturating_sub(n)
                };
                let th = total(in_h, k.0, s.0);
                let tw = total(in_w, k.1, s.1);
                Pads {
                    top: (th / 2) as u8,
                    bottom: (th - th / 2) as u8,
                    left: (tw / 2) as u8,
                    right: (tw - tw / 2) as u8,
                }
            }
        }
    }
}

/// 2-D convolution with per-output-channel requantization; ReLU fused through the clamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conv2d<'a> {
    pub out_channels: u16,
    pub kernel_h: u8,
    pub kernel_w: u8,
    pub stride_h: u8,
    pub stride_w: u8,
    pub pads: Pads,
    pub relu: bool,
    pub output: QParams,
    /// int8, OHWI: `out_channels * kernel_h * kernel_w * in_channels` bytes.
    #[serde(borrow)]
    pub weights: &'a [u8],
    /// int32 little-endian, one per output channel.
    #[serde(borrow)]
    pub bias: &'a [u8],
    /// int32 little-endian `m_c`, one per output channel.
    #[serde(borrow)]
    pub multipliers: &'a [u8],
}

/// Fully connected layer on a flat input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dense<'a> {
    pub out_features: u16,
    pub relu: bool,
    pub output: QParams,
    /// int8, `[out][in]`.
    #[serde(borrow)]
    pub weights: &'a [u8],
    #[serde(borrow)]
    pub bias: &'a [u8],
    #[serde(borrow)]
    pub multipliers: &'a [u8],
}

/// Max or average pooling window. The output keeps the input's quantization. Padded positions
/// are ignored (average pooling divides by the number of real inputs in the window).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Pool {
    pub kernel_h: u8,
    pub kernel_w: u8,
    pub stride_h: u8,
    pub stride_w: u8,
    pub pads: Pads,
}

/// One operation. New variants are only ever appended (postcard encodes the variant index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layer<'a> {
    #[serde(borrow)]
    Conv2d(Conv2d<'a>),
    #[serde(borrow)]
    Dense(Dense<'a>),
    MaxPool(Pool),
    AvgPool(Pool),
    /// HWC -> flat vector; moves no bytes.
    Flatten,
}

impl Layer<'_> {
    /// Short lower-case name of the operation.
    pub fn op_name(&self) -> &'static str {
        match self {
            Layer::Conv2d(_) => "conv2d",
            Layer::Dense(_) => "dense",
            Layer::MaxPool(_) => "maxpool",
            Layer::AvgPool(_) => "avgpool",
            Layer::Flatten => "flatten",
        }
    }

    /// Multiply-accumulates per inference, given the layer's output shape.
    pub fn macs(&self, input: Shape, output: Shape) -> u64 {
        match self {
            Layer::Conv2d(c) => {
                output.len() as u64 * c.kernel_h as u64 * c.kernel_w as u64 * input.c as u64
            }
            Layer::Dense(_) => output.len() as u64 * input.len() as u64,
            _ => 0,
        }
    }

    /// Bytes of weights, biases and multipliers.
    pub fn param_bytes(&self) -> usize {
        match self {
            Layer::Conv2d(c) => c.weights.len() + c.bias.len() + c.multipliers.len(),
            Layer::Dense(d) => d.weights.len() + d.bias.len() + d.multipliers.len(),
            _ => 0,
        }
    }
}

/// A named layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node<'a> {
    /// Human-readable name ("conv1"), used in reports, verification and the ONNX export.
    #[serde(borrow)]
    pub name: &'a str,
    #[serde(borrow)]
    pub layer: Layer<'a>,
}

/// What the network's output means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Task {
    /// Real-valued outputs (steering angle): dequantize with the output's [`QParams`].
    Regression,
    /// Class scores; the answer is the arg-max.
    Classification,
}

/// The network's input tensor and how a camera frame becomes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputSpec {
    pub shape: Shape,
    pub quant: QParams,
    /// How a camera frame becomes this input. When present, the input zero point is 0 and
    /// `q = v - 128` for each 8-bit channel value `v` (see [`crate::preprocess`]).
    pub preprocess: Option<Preprocess>,
}

/// Everything in a blob's payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelDef<'a> {
    #[serde(borrow)]
    pub name: &'a str,
    pub task: Task,
    pub input: InputSpec,
    #[serde(borrow)]
    pub layers: heapless::Vec<Node<'a>, MAX_LAYERS>,
}

/// Shape and quantization of one activation tensor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TensorInfo {
    pub shape: Shape,
    pub quant: QParams,
}

/// A validated model: every layer's shapes are consistent, every buffer has the right length,
/// every multiplier and bias is in range, and the arena plan is computed.
///
/// Tensor `0` is the input, tensor `i + 1` the output of layer `i`.
#[derive(Clone, Debug)]
pub struct Model<'a> {
    def: ModelDef<'a>,
    tensors: [TensorInfo; MAX_LAYERS + 1],
    plan: Plan,
}

/// Why a byte string is not a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ParseError {
    /// Shorter than the header, or than what the header promises.
    Truncated { needed: usize, got: usize },
    BadMagic,
    UnsupportedVersion(u16),
    ReservedNotZero,
    LengthMismatch { declared: usize, actual: usize },
    BadCrc { expected: u32, found: u32 },
    /// The payload is not a postcard-encoded `ModelDef` (or has more layers than `MAX_LAYERS`).
    Payload,
    /// Bytes left over after the payload's `ModelDef`.
    TrailingBytes(usize),
    /// The payload decodes but describes an inconsistent model.
    Invalid(Invalid),
}

impl From<Invalid> for ParseError {
    fn from(e: Invalid) -> Self {
        ParseError::Invalid(e)
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Truncated { needed, got } => {
                write!(f, "truncated: needs at least {needed} bytes, got {got}")
            }
            ParseError::BadMagic => write!(f, "not a model blob (bad magic; expected \"PNN8\")"),
            ParseError::UnsupportedVersion(v) => write!(
                f,
                "format version {v} is not supported (this build reads version {})",
                header::FORMAT_VERSION
            ),
            ParseError::ReservedNotZero => write!(f, "reserved header bytes are not zero"),
            ParseError::LengthMismatch { declared, actual } => write!(
                f,
                "payload length mismatch: header says {declared} bytes, file has {actual}"
            ),
            ParseError::BadCrc { expected, found } => write!(
                f,
                "CRC mismatch: header says {expected:#010x}, payload has {found:#010x} (corrupted?)"
            ),
            ParseError::Payload => write!(f, "payload does not decode as a model definition"),
            ParseError::TrailingBytes(n) => write!(f, "{n} unexpected bytes after the model"),
            ParseError::Invalid(e) => write!(f, "{e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ParseError {}

impl<'a> Model<'a> {
    /// Parses and validates a blob. Never panics.
    pub fn parse(bytes: &'a [u8]) -> Result<Model<'a>, ParseError> {
        let payload = header::check(bytes)?;
        let (def, rest) =
            postcard::take_from_bytes::<ModelDef<'a>>(payload).map_err(|_| ParseError::Payload)?;
        if !rest.is_empty() {
            return Err(ParseError::TrailingBytes(rest.len()));
        }
        Ok(Model::from_def(def)?)
    }

    /// Validates a definition (what [`Model::parse`] does after decoding).
    pub fn from_def(def: ModelDef<'a>) -> Result<Model<'a>, Invalid> {
        let tensors = validate::validate(&def)?;
        let plan = Plan::new(&def, &tensors);
        Ok(Model { def, tensors, plan })
    }

    pub fn def(&self) -> &ModelDef<'a> {
        &self.def
    }

    pub fn name(&self) -> &'a str {
        self.def.name
    }

    pub fn layers(&self) -> &[Node<'a>] {
        &self.def.layers
    }

    /// Tensor `i`: 0 is the input, `i + 1` the output of layer `i`.
    pub fn tensor(&self, i: usize) -> TensorInfo {
        self.tensors[i]
    }

    /// Every tensor (entries past `layers().len()` are unused).
    pub(crate) fn tensors(&self) -> &[TensorInfo; MAX_LAYERS + 1] {
        &self.tensors
    }

    pub fn input(&self) -> TensorInfo {
        self.tensors[0]
    }

    pub fn output(&self) -> TensorInfo {
        self.tensors[self.def.layers.len()]
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Multiply-accumulates per inference.
    pub fn macs(&self) -> u64 {
        self.layers()
            .iter()
            .enumerate()
            .map(|(i, n)| n.layer.macs(self.tensors[i].shape, self.tensors[i + 1].shape))
            .sum()
    }

    /// Number of weights and biases.
    pub fn parameters(&self) -> usize {
        self.layers()
            .iter()
            .map(|n| match n.layer {
                Layer::Conv2d(c) => c.weights.len() + c.bias.len() / 4,
                Layer::Dense(d) => d.weights.len() + d.bias.len() / 4,
                _ => 0,
            })
            .sum()
    }
}

/// Reads the `i`-th little-endian i32 of a validated bias or multiplier table.
#[inline(always)]
pub fn read_i32(table: &[u8], i: usize) -> i32 {
    let b = &table[4 * i..4 * i + 4];
    i32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::QParams;

    #[test]
    fn dequantize_is_the_zero_point_offset_times_the_power_of_two() {
        let q = |scale_exp, zero_point| QParams { scale_exp, zero_point };
        assert_eq!(q(-7, 0).dequantize(64), 0.5);
        assert_eq!(q(-7, 0).dequantize(-128), -1.0);
        assert_eq!(q(-3, -128).dequantize(-128), 0.0);
        assert_eq!(q(-3, -128).dequantize(127), 255.0 / 8.0);
        assert_eq!(q(2, 5).dequantize(4), -4.0);
        assert_eq!(q(0, 0).dequantize(-1), -1.0);
    }

    #[test]
    fn dequantize_is_exact_for_every_exponent() {
        for e in i8::MIN..=i8::MAX {
            // 2^e as f64 is exact, and so is its product with a 9-bit integer.
            let want = |d: i32| (d as f64 * (e as f64).exp2()) as f32;
            for (v, zp) in [(1i8, 0i8), (-1, 0), (127, -128), (-128, 127), (3, 0)] {
                let got = QParams { scale_exp: e, zero_point: zp }.dequantize(v);
                let d = v as i32 - zp as i32;
                assert_eq!(got.to_bits(), want(d).to_bits(), "scale_exp {e}, q {v}, zero point {zp}");
                if e < 121 {
                    assert_eq!(got as f64, d as f64 * (e as f64).exp2(), "not exact at scale_exp {e}");
                }
            }
        }
    }
}
