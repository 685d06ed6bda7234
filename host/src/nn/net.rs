//! The trainable float network (burn), built from a resolved [`NetSpec`](super::spec::NetSpec).
//!
//! Tensors are NCHW as burn wants them; [`input_batch`] converts the HWC int8 tensors that
//! `common` preprocessing makes into the float values the network sees (`x = q * 2^scale_exp`).

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d, Relu};
use burn::tensor::{Device, Tensor, TensorData};
use common::format::Pads;
use common::Shape;

use std::sync::Arc;

use super::fast::{self, Kernels};
use super::spec::{Resolved, ResolvedLayer};
use crate::quant::qat::FakeQuant;

/// Flatten NCHW to `[N, C*H*W]` (no parameters).
#[derive(Module, Debug)]
pub struct Flatten {}

#[derive(Module, Debug)]
pub enum Block {
    Conv(Conv2d),
    Dense(Linear),
    MaxPool(MaxPool2d),
    AvgPool(AvgPool2d),
    Dropout(Dropout),
    BatchNorm(BatchNorm),
    Relu(Relu),
    Flatten(Flatten),
}

/// A sequential network; `blocks[i]` is resolved layer `i`.
#[derive(Module, Debug)]
pub struct Net {
    pub blocks: Vec<Block>,
    /// Quantization-aware training: the int8 scheme simulated in the forward pass (not saved
    /// with the weights; see [`crate::quant::qat`]).
    #[module(skip)]
    pub fake_quant: Option<Arc<FakeQuant>>,
}

/// An activation between blocks: an image batch, or a flat batch after `Flatten`.
#[derive(Clone, Debug)]
pub enum Act {
    Image(Tensor<4>),
    Flat(Tensor<2>),
}

impl Act {
    fn map(self, image: impl FnOnce(Tensor<4>) -> Tensor<4>, flat: impl FnOnce(Tensor<2>) -> Tensor<2>) -> Act {
        match self {
            Act::Image(t) => Act::Image(image(t)),
            Act::Flat(t) => Act::Flat(flat(t)),
        }
    }

    /// The flat output (the network's last activation is always flat: the spec checks it).
    pub fn flat(self) -> Tensor<2> {
        match self {
            Act::Flat(t) => t,
            Act::Image(t) => {
                let [n, c, h, w] = t.dims();
                t.reshape([n, c * h * w])
            }
        }
    }
}

impl Net {
    pub fn new(layers: &[ResolvedLayer], device: &Device) -> Net {
        let blocks = layers
            .iter()
            .map(|l| match &l.layer {
                Resolved::Conv2d { filters, kernel, stride, pads } => Block::Conv(conv(l.input.c, *filters, *kernel, *stride, pads, 1).init(device)),
                // A depthwise convolution is the grouped convolution with one group per channel.
                Resolved::Depthwise { kernel, stride, pads } => Block::Conv(conv(l.input.c, l.input.c, *kernel, *stride, pads, l.input.c).init(device)),
                Resolved::Dense { units } => Block::Dense(LinearConfig::new(l.input.c as usize, *units as usize).init(device)),
                Resolved::MaxPool { size, stride } => Block::MaxPool(MaxPool2dConfig::new([*size as usize; 2]).with_strides([*stride as usize; 2]).init()),
                Resolved::AvgPool { size, stride } => {
                    Block::AvgPool(AvgPool2dConfig::new([*size as usize; 2]).with_strides([*stride as usize; 2]).with_count_include_pad(false).init())
                }
                Resolved::Dropout { rate } => Block::Dropout(DropoutConfig::new(*rate).init()),
                Resolved::BatchNorm => Block::BatchNorm(BatchNormConfig::new(l.input.c as usize).init(device)),
                Resolved::Relu => Block::Relu(Relu::new()),
                Resolved::Flatten => Block::Flatten(Flatten {}),
            })
            .collect();
        Net::from_blocks(blocks)
    }

    /// A network of `blocks`, computing in float.
    pub fn from_blocks(blocks: Vec<Block>) -> Net {
        Net { blocks, fake_quant: None }
    }

    /// The same network with the int8 scheme simulated in its forward pass.
    pub fn with_fake_quant(mut self, fq: FakeQuant) -> Net {
        self.fake_quant = Some(Arc::new(fq));
        self
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.forward_trace(x, |_, _| {})
    }

    /// [`Net::forward`] with the layers' implementation chosen (tests and benchmarks compare
    /// ours with burn's).
    pub fn forward_with(&self, x: Tensor<4>, kernels: Kernels) -> Tensor<2> {
        self.run(Act::Image(x), 0..self.blocks.len(), kernels).flat()
    }

    /// Runs the network, calling `seen(i, output_of_block_i)` after each block (calibration and
    /// layer-by-layer comparisons use it).
    pub fn forward_trace(&self, x: Tensor<4>, mut seen: impl FnMut(usize, &Act)) -> Tensor<2> {
        let mut act = Act::Image(x);
        for i in 0..self.blocks.len() {
            act = self.apply(i, act, Kernels::default());
            seen(i, &act);
        }
        act.flat()
    }

    /// Runs every block on an activation (an image batch, or a head's cached features).
    pub fn forward_act(&self, act: Act) -> Tensor<2> {
        self.forward_range(act, 0..self.blocks.len()).flat()
    }

    /// Runs blocks `from..to` on an activation (feature extraction runs a prefix).
    pub fn forward_range(&self, act: Act, range: std::ops::Range<usize>) -> Act {
        self.run(act, range, Kernels::default())
    }

    fn run(&self, mut act: Act, range: std::ops::Range<usize>, kernels: Kernels) -> Act {
        for i in range {
            act = self.apply(i, act, kernels);
        }
        act
    }

    /// Block `i` on `act` (with the int8 scheme simulated when training quantization-aware).
    fn apply(&self, i: usize, act: Act, kernels: Kernels) -> Act {
        let block = &self.blocks[i];
        if let Some(fq) = &self.fake_quant {
            return fq.apply(i, block, act, kernels, |b, a| Self::apply_float(b, a, kernels));
        }
        Self::apply_float(block, act, kernels)
    }

    fn apply_float(block: &Block, act: Act, kernels: Kernels) -> Act {
        match block {
            Block::Conv(c) => Act::Image(fast::conv2d(c, image(act), kernels)),
            Block::Dense(d) => Act::Flat(d.forward(act.flat())),
            Block::MaxPool(p) => Act::Image(fast::max_pool2d(p, image(act), kernels)),
            Block::AvgPool(p) => Act::Image(p.forward(image(act))),
            Block::Dropout(d) => act.map(|t| d.forward(t), |t| d.forward(t)),
            Block::BatchNorm(b) => act.map(|t| b.forward(t), |t| b.forward(t)),
            Block::Relu(r) => act.map(|t| r.forward(t), |t| r.forward(t)),
            Block::Flatten(_) => Act::Flat(act.flat()),
        }
    }
}

/// A square convolution with explicit pads, in `groups` groups.
fn conv(inputs: u16, outputs: u16, kernel: u8, stride: u8, pads: &Pads, groups: u16) -> Conv2dConfig {
    Conv2dConfig::new([inputs as usize, outputs as usize], [kernel as usize; 2])
        .with_stride([stride as usize; 2])
        .with_groups(groups as usize)
        .with_padding(PaddingConfig2d::Explicit(pads.top as usize, pads.left as usize, pads.bottom as usize, pads.right as usize))
}

pub(crate) fn image(act: Act) -> Tensor<4> {
    match act {
        Act::Image(t) => t,
        Act::Flat(_) => unreachable!("the spec only allows image layers before flatten"),
    }
}

/// `n` HWC int8 inputs (concatenated) -> the float NCHW batch the network sees.
pub fn input_batch(inputs: &[i8], shape: Shape, scale_exp: i8, device: &Device) -> Tensor<4> {
    let n = inputs.len() / shape.len();
    let (h, w, c) = (shape.h as usize, shape.w as usize, shape.c as usize);
    Tensor::from_data(TensorData::new(input_values(inputs, shape, scale_exp), [n, c, h, w]), device)
}

/// `n` HWC int8 inputs (concatenated) -> their float values `q * 2^scale_exp`, NCHW.
pub fn input_values(inputs: &[i8], shape: Shape, scale_exp: i8) -> Vec<f32> {
    let (h, w, c) = (shape.h as usize, shape.w as usize, shape.c as usize);
    let per = h * w * c;
    let scale = (scale_exp as f32).exp2();
    let mut data = vec![0f32; inputs.len()];
    for (img, out) in inputs.chunks_exact(per).zip(data.chunks_exact_mut(per)) {
        for (p, px) in img.chunks_exact(c).enumerate() {
            for (ch, &q) in px.iter().enumerate() {
                out[ch * h * w + p] = q as f32 * scale;
            }
        }
    }
    data
}
