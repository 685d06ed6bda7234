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
#[cfg(feature = "alloc")]
pub mod owned;
mod validate;
#[cfg(feature = "alloc")]
mod write;

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::plan::Plan;
use crate::preprocess::Preprocess;
use crate::shape::Shape;
pub use crate::shape::{Padding, Pads, Window, WindowError};

pub use validate::{Invalid, InvalidKind, MAX_ABS_BIAS, MAX_K, MAX_TENSOR_BYTES};
#[cfg(feature = "alloc")]
pub use write::{version_for, write};

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
    /// `2^scale_exp` as an f32, exactly (built from its bits: no `powi`, which the chip's core
    /// library lacks; every exponent of an `i8` is a normal or subnormal f32).
    pub const fn scale(&self) -> f32 {
        let e = self.scale_exp as i32;
        if e >= -126 {
            f32::from_bits(((e + 127) as u32) << 23)
        } else {
            f32::from_bits(1 << (e + 149))
        }
    }

    /// The real value of `q`: `(q - zero_point) * 2^scale_exp` (exact: an integer of at most
    /// 9 bits times a power of two).
    pub fn dequantize(&self, q: i8) -> f32 {
        (q as i32 - self.zero_point as i32) as f32 * self.scale()
    }
}

/// 2-D convolution with per-output-channel requantization; ReLU fused through the clamp.
///
/// Generic over how its tables are held: [`Conv2d`] borrows the blob's bytes (`W` and `T` are
/// `&[u8]`: int8 weights, int32 little-endian bias and multipliers), the host's
/// [`owned::OwnedConv`] holds typed vectors (`Vec<i8>`, `Vec<i32>`). One definition of the
/// layer, two storages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvLayer<W, T> {
    pub out_channels: u16,
    pub window: Window,
    pub relu: bool,
    pub output: QParams,
    /// OHWI: `out_channels * kernel_h * kernel_w * in_channels` weights.
    pub weights: W,
    /// One per output channel.
    pub bias: T,
    /// `m_c`, one per output channel.
    pub multipliers: T,
}

/// Fully connected layer on a flat input (tables as in [`ConvLayer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenseLayer<W, T> {
    pub out_features: u16,
    pub relu: bool,
    pub output: QParams,
    /// `[out][in]`.
    pub weights: W,
    pub bias: T,
    pub multipliers: T,
}

/// Depthwise convolution (depth multiplier 1): output channel `c` is channel `c` of the input
/// convolved with its own `kernel_h x kernel_w` filter, then requantized like [`ConvLayer`];
/// the output has as many channels as the input. With a 1x1 convolution after it, the
/// depthwise-separable block of MobileNet (Howard et al. 2017).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepthwiseLayer<W, T> {
    pub window: Window,
    pub relu: bool,
    pub output: QParams,
    /// HWC: `kernel_h * kernel_w * channels` weights, `[ky][kx][c]`.
    pub weights: W,
    /// One per channel.
    pub bias: T,
    pub multipliers: T,
}

/// A convolution as the blob holds it (tables borrowed from the blob).
pub type Conv2d<'a> = ConvLayer<&'a [u8], &'a [u8]>;
/// A dense layer as the blob holds it.
pub type Dense<'a> = DenseLayer<&'a [u8], &'a [u8]>;
/// A depthwise convolution as the blob holds it.
pub type Depthwise<'a> = DepthwiseLayer<&'a [u8], &'a [u8]>;

/// Max or average pooling window. The output keeps the input's quantization. Padded positions
/// are ignored (average pooling divides by the number of real inputs in the window).
pub type Pool = Window;

/// One operation. New variants are only ever appended (postcard encodes the variant index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayerOf<W, T> {
    Conv2d(ConvLayer<W, T>),
    Dense(DenseLayer<W, T>),
    MaxPool(Pool),
    AvgPool(Pool),
    /// HWC -> flat vector; moves no bytes.
    Flatten,
    /// Since format version 2.
    Depthwise(DepthwiseLayer<W, T>),
}

/// A layer as the blob holds it.
pub type Layer<'a> = LayerOf<&'a [u8], &'a [u8]>;

impl<W, T> LayerOf<W, T> {
    /// Short lower-case name of the operation.
    pub fn op_name(&self) -> &'static str {
        match self {
            LayerOf::Conv2d(_) => "conv2d",
            LayerOf::Dense(_) => "dense",
            LayerOf::MaxPool(_) => "maxpool",
            LayerOf::AvgPool(_) => "avgpool",
            LayerOf::Flatten => "flatten",
            LayerOf::Depthwise(_) => "depthwise",
        }
    }

    /// The sliding window of a conv or pool layer; `None` for layers that read their whole
    /// input.
    pub fn window(&self) -> Option<&Window> {
        match self {
            LayerOf::Conv2d(c) => Some(&c.window),
            LayerOf::Depthwise(d) => Some(&d.window),
            LayerOf::MaxPool(p) | LayerOf::AvgPool(p) => Some(p),
            LayerOf::Dense(_) | LayerOf::Flatten => None,
        }
    }

    /// Multiply-accumulates per inference, given the layer's input and output shapes.
    pub fn macs(&self, input: Shape, output: Shape) -> u64 {
        match self {
            LayerOf::Conv2d(c) => output.len() as u64 * c.window.taps() as u64 * input.c as u64,
            LayerOf::Dense(_) => output.len() as u64 * input.len() as u64,
            LayerOf::Depthwise(d) => output.len() as u64 * d.window.taps() as u64,
            _ => 0,
        }
    }
}

impl<'a> Layer<'a> {
    /// Bytes of weights, biases and multipliers.
    pub fn param_bytes(&self) -> usize {
        match self {
            Layer::Conv2d(c) => c.weights.len() + c.bias.len() + c.multipliers.len(),
            Layer::Dense(d) => d.weights.len() + d.bias.len() + d.multipliers.len(),
            Layer::Depthwise(d) => d.weights.len() + d.bias.len() + d.multipliers.len(),
            _ => 0,
        }
    }

    /// Weights and biases (the count a framework reports as parameters).
    pub fn parameters(&self) -> usize {
        match self {
            Layer::Conv2d(c) => c.weights.len() + c.bias.len() / 4,
            Layer::Dense(d) => d.weights.len() + d.bias.len() / 4,
            Layer::Depthwise(d) => d.weights.len() + d.bias.len() / 4,
            _ => 0,
        }
    }

    /// The same conv or pool layer with other top and bottom pads (what one row band sees).
    pub fn with_row_pads(&self, top: u8, bottom: u8) -> Layer<'a> {
        match *self {
            Layer::Conv2d(c) => Layer::Conv2d(ConvLayer { window: c.window.with_row_pads(top, bottom), ..c }),
            Layer::Depthwise(d) => Layer::Depthwise(DepthwiseLayer { window: d.window.with_row_pads(top, bottom), ..d }),
            Layer::MaxPool(p) => Layer::MaxPool(p.with_row_pads(top, bottom)),
            Layer::AvgPool(p) => Layer::AvgPool(p.with_row_pads(top, bottom)),
            Layer::Dense(_) | Layer::Flatten => *self,
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
    Truncated {
        needed: usize,
        got: usize,
    },
    BadMagic,
    UnsupportedVersion(u16),
    ReservedNotZero,
    LengthMismatch {
        declared: usize,
        actual: usize,
    },
    BadCrc {
        expected: u32,
        found: u32,
    },
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
            ParseError::UnsupportedVersion(v) => {
                write!(f, "format version {v} is not supported (this build reads versions {} to {})", header::MIN_VERSION, header::FORMAT_VERSION)
            }
            ParseError::ReservedNotZero => write!(f, "reserved header bytes are not zero"),
            ParseError::LengthMismatch { declared, actual } => write!(f, "payload length mismatch: header says {declared} bytes, file has {actual}"),
            ParseError::BadCrc { expected, found } => write!(f, "CRC mismatch: header says {expected:#010x}, payload has {found:#010x} (corrupted?)"),
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
        let (def, rest) = postcard::take_from_bytes::<ModelDef<'a>>(payload).map_err(|_| ParseError::Payload)?;
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
        self.layers().iter().enumerate().map(|(i, n)| n.layer.macs(self.tensors[i].shape, self.tensors[i + 1].shape)).sum()
    }

    /// Number of weights and biases.
    pub fn parameters(&self) -> usize {
        self.layers().iter().map(|n| n.layer.parameters()).sum()
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
