//! The shapes of the shipped networks, as int8 models with random weights.
//!
//! Used where only the architecture matters: memory-plan numbers, kernel benchmarks and test
//! vectors. Trained weights come from the trainer and the quantizer.

use common::format::owned::{OwnedConv, OwnedDense, OwnedLayer, OwnedModel, OwnedNode};
use common::format::{InputSpec, Padding, Pads, Pool, QParams, Task};
use common::preprocess::{ColorMode, PixelFormat, Preprocess, Rect};
use common::testing::Rng;
use common::Shape;

/// Builds a sequential int8 model layer by layer with random weights whose multipliers keep
/// activations in a useful range (so kernels see realistic data, not all-clamped outputs).
pub struct RandomBuilder {
    rng: Rng,
    shape: Shape,
    model: OwnedModel,
}

/// ReLU outputs use zero point -128 (the clamp is the ReLU); others 0.
fn out_q(relu: bool) -> QParams {
    QParams { scale_exp: -4, zero_point: if relu { -128 } else { 0 } }
}

/// Multiplier for accumulation depth `k`, so outputs have a standard deviation near 40.
fn multiplier(k: usize) -> i32 {
    ((479.0 / (k as f64).sqrt()).round() as i32).max(1)
}

impl RandomBuilder {
    pub fn new(name: &str, task: Task, input: InputSpec, seed: u64) -> Self {
        RandomBuilder {
            rng: Rng::new(seed),
            shape: input.shape,
            model: OwnedModel { name: name.into(), task, input, layers: Vec::new() },
        }
    }

    fn push(&mut self, kind: &str, layer: OwnedLayer, shape: Shape) {
        let name = format!("{kind}{}", self.model.layers.iter().filter(|n| n.name.starts_with(kind)).count() + 1);
        self.model.layers.push(OwnedNode { name, layer });
        self.shape = shape;
    }

    pub fn conv(mut self, out: u16, k: u8, stride: u8, padding: Padding, relu: bool) -> Self {
        let s = self.shape;
        let pads = Pads::for_padding(padding, s.h, s.w, (k, k), (stride, stride));
        let dim = |n: u16, a: u8, b: u8| (n + a as u16 + b as u16 - k as u16) / stride as u16 + 1;
        let shape = Shape::new(dim(s.h, pads.top, pads.bottom), dim(s.w, pads.left, pads.right), out);
        let depth = k as usize * k as usize * s.c as usize;
        let layer = OwnedLayer::Conv2d(OwnedConv {
            out_channels: out,
            kernel_h: k,
            kernel_w: k,
            stride_h: stride,
            stride_w: stride,
            pads,
            relu,
            output: out_q(relu),
            weights: self.rng.i8s(out as usize * depth),
            bias: (0..out).map(|_| self.rng.range(-2000, 2000) as i32).collect(),
            multipliers: vec![multiplier(depth); out as usize],
        });
        self.push("conv", layer, shape);
        self
    }

    pub fn max_pool(mut self, k: u8) -> Self {
        let s = self.shape;
        let pool = Pool { kernel_h: k, kernel_w: k, stride_h: k, stride_w: k, pads: Pads::default() };
        let shape = Shape::new((s.h - k as u16) / k as u16 + 1, (s.w - k as u16) / k as u16 + 1, s.c);
        self.push("pool", OwnedLayer::MaxPool(pool), shape);
        self
    }

    pub fn flatten(mut self) -> Self {
        let shape = Shape::flat(self.shape.len() as u16);
        self.push("flatten", OwnedLayer::Flatten, shape);
        self
    }

    pub fn dense(mut self, out: u16, relu: bool) -> Self {
        let k = self.shape.len();
        let layer = OwnedLayer::Dense(OwnedDense {
            out_features: out,
            relu,
            output: out_q(relu),
            weights: self.rng.i8s(out as usize * k),
            bias: (0..out).map(|_| self.rng.range(-2000, 2000) as i32).collect(),
            multipliers: vec![multiplier(k); out as usize],
        });
        self.push("dense", layer, Shape::flat(out));
        self
    }

    pub fn build(self) -> OwnedModel {
        self.model
    }
}

/// PilotNet's input: a 320x160 RGB888 Udacity frame, rows 60..135 cropped (sky and bonnet
/// removed), resized to 200x66, YUV, real value `q / 128`.
pub fn pilotnet_input() -> InputSpec {
    InputSpec {
        shape: Shape::new(66, 200, 3),
        quant: QParams { scale_exp: -7, zero_point: 0 },
        preprocess: Some(Preprocess {
            frame_w: 320,
            frame_h: 160,
            format: PixelFormat::Rgb888,
            crop: Rect { x: 0, y: 60, w: 320, h: 75 },
            color: ColorMode::Yuv,
        }),
    }
}

/// NVIDIA PilotNet: 66x200x3 -> conv 24/36/48 5x5 stride 2, conv 64/64 3x3, dense 100/50/10/1.
pub fn pilotnet_random(seed: u64) -> OwnedModel {
    RandomBuilder::new("pilotnet", Task::Regression, pilotnet_input(), seed)
        .conv(24, 5, 2, Padding::Valid, true)
        .conv(36, 5, 2, Padding::Valid, true)
        .conv(48, 5, 2, Padding::Valid, true)
        .conv(64, 3, 1, Padding::Valid, true)
        .conv(64, 3, 1, Padding::Valid, true)
        .flatten()
        .dense(100, true)
        .dense(50, true)
        .dense(10, true)
        .dense(1, false)
        .build()
}

/// The traffic-sign classifier's input: a 32x32 RGB888 image (already cropped to the sign).
pub fn sign_input() -> InputSpec {
    InputSpec {
        shape: Shape::new(32, 32, 3),
        quant: QParams { scale_exp: -7, zero_point: 0 },
        preprocess: Some(Preprocess {
            frame_w: 32,
            frame_h: 32,
            format: PixelFormat::Rgb888,
            crop: Rect { x: 0, y: 0, w: 32, h: 32 },
            color: ColorMode::Rgb,
        }),
    }
}

/// Sign CNN: 32x32x3 -> conv 32 3x3, max-pool 2, conv 64 3x3, max-pool 2, dense 128, dense 43.
pub fn sign_cnn_random(seed: u64) -> OwnedModel {
    RandomBuilder::new("sign-cnn", Task::Classification, sign_input(), seed)
        .conv(32, 3, 1, Padding::Valid, true)
        .max_pool(2)
        .conv(64, 3, 1, Padding::Valid, true)
        .max_pool(2)
        .flatten()
        .dense(128, true)
        .dense(43, false)
        .build()
}
