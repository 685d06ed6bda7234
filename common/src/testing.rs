//! Random valid models, shared by the tests of every crate (reference vs tract, reference vs
//! optimized kernels, parser fuzzing) and by the host's random-weight architectures
//! (`pilot zoo`): one builder, [`ModelBuilder`], that tracks the shape layer by layer and fills
//! each layer's tables.

use alloc::format;
use alloc::vec::Vec;

use crate::format::owned::{OwnedConv, OwnedDense, OwnedDepthwise, OwnedLayer, OwnedModel, OwnedNode};
use crate::format::{InputSpec, QParams, Task};
pub use crate::rng::Rng;
use crate::shape::{Pads, Shape, Window};

/// How [`ModelBuilder`] fills a layer's weights, biases, multipliers and output quantization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tables {
    /// Any valid values: random output scale and zero point, biases in `[-2^14, 2^14]`,
    /// multipliers in `1..=max_multiplier` (exactness tests: every corner of the arithmetic).
    Random { max_multiplier: i32 },
    /// Values that keep activations in a useful range, so kernels see realistic data (not
    /// all-clamped outputs): ReLU outputs at zero point -128, others 0, scale 2^-4, biases in
    /// `[-2000, 2000]`, multipliers giving outputs a standard deviation near 40.
    Realistic,
}

/// Builds a sequential int8 model layer by layer with random tables.
pub struct ModelBuilder {
    rng: Rng,
    tables: Tables,
    shape: Shape,
    model: OwnedModel,
}

impl ModelBuilder {
    pub fn new(name: &str, task: Task, input: InputSpec, rng: Rng, tables: Tables) -> Self {
        ModelBuilder { rng, tables, shape: input.shape, model: OwnedModel { name: name.into(), task, input, layers: Vec::new() } }
    }

    /// The output shape of the layers so far (the next layer's input).
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The generator the tables are drawn from (callers draw their shapes from it too).
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// Names count per kind: conv1, conv2, pool1, flatten1, dense1, ...
    fn push(&mut self, kind: &str, layer: OwnedLayer, shape: Shape) -> &mut Self {
        let n = self.model.layers.iter().filter(|n| n.name.trim_end_matches(|c: char| c.is_ascii_digit()) == kind).count();
        self.model.layers.push(OwnedNode { name: format!("{kind}{}", n + 1), layer });
        self.shape = shape;
        self
    }

    /// Weights, biases, multipliers and output quantization of `outs` channels of depth `k`.
    fn fill(&mut self, outs: u16, k: usize, relu: bool) -> (Vec<i8>, Vec<i32>, Vec<i32>, QParams) {
        let rng = &mut self.rng;
        match self.tables {
            Tables::Random { max_multiplier } => {
                let output = QParams { scale_exp: rng.range(-10, 0) as i8, zero_point: rng.i8() };
                let weights = rng.i8s(outs as usize * k);
                let bias = (0..outs).map(|_| rng.range(-(1 << 14), 1 << 14) as i32).collect();
                let mults = (0..outs).map(|_| rng.range(1, max_multiplier as i64) as i32).collect();
                (weights, bias, mults, output)
            }
            Tables::Realistic => {
                let weights = rng.i8s(outs as usize * k);
                let bias = (0..outs).map(|_| rng.range(-2000, 2000) as i32).collect();
                let m = (479.0 / (k as f64).sqrt()).round() as i32;
                let output = QParams { scale_exp: -4, zero_point: if relu { -128 } else { 0 } };
                (weights, bias, alloc::vec![m.max(1); outs as usize], output)
            }
        }
    }

    /// A convolution with `out` channels. Panics if `window` does not fit the current shape.
    pub fn conv(&mut self, out: u16, window: Window, relu: bool) -> &mut Self {
        let s = self.shape;
        let (h, w) = window.output(s).expect("the window fits its input");
        let (weights, bias, multipliers, output) = self.fill(out, window.taps() * s.c as usize, relu);
        let layer = OwnedLayer::Conv2d(OwnedConv { out_channels: out, window, relu, output, weights, bias, multipliers });
        self.push("conv", layer, Shape::new(h, w, out))
    }

    /// A depthwise convolution (as many channels out as in). Panics if `window` does not fit
    /// the current shape.
    pub fn depthwise(&mut self, window: Window, relu: bool) -> &mut Self {
        let s = self.shape;
        let (h, w) = window.output(s).expect("the window fits its input");
        // One filter per channel: the tables of `c` channels of depth `taps`, the weights then
        // reordered from `[c][tap]` to the layer's `[tap][c]`.
        let (per_channel, bias, multipliers, output) = self.fill(s.c, window.taps(), relu);
        let (taps, c) = (window.taps(), s.c as usize);
        let weights = (0..taps * c).map(|i| per_channel[(i % c) * taps + i / c]).collect();
        let layer = OwnedLayer::Depthwise(OwnedDepthwise { window, relu, output, weights, bias, multipliers });
        self.push("depthwise", layer, Shape::new(h, w, s.c))
    }

    /// A max (or, with `avg`, average) pool. Panics if `window` does not fit the current shape.
    pub fn pool(&mut self, window: Window, avg: bool) -> &mut Self {
        let s = self.shape;
        let (h, w) = window.output(s).expect("the window fits its input");
        let layer = if avg { OwnedLayer::AvgPool(window) } else { OwnedLayer::MaxPool(window) };
        self.push("pool", layer, Shape::new(h, w, s.c))
    }

    pub fn flatten(&mut self) -> &mut Self {
        let shape = Shape::flat(self.shape.len() as u16);
        self.push("flatten", OwnedLayer::Flatten, shape)
    }

    /// A dense layer on the (flat) current shape.
    pub fn dense(&mut self, out: u16, relu: bool) -> &mut Self {
        let (weights, bias, multipliers, output) = self.fill(out, self.shape.len(), relu);
        let layer = OwnedLayer::Dense(OwnedDense { out_features: out, relu, output, weights, bias, multipliers });
        self.push("dense", layer, Shape::flat(out))
    }

    pub fn build(self) -> OwnedModel {
        self.model
    }
}

/// Knobs for [`random_model`].
#[derive(Clone, Debug)]
pub struct RandomModelOptions {
    pub max_hw: u16,
    pub max_channels: u16,
    pub max_conv_layers: usize,
    pub max_dense_layers: usize,
    /// Largest conv and pool kernel side (kept at most 2 above the input's side).
    pub max_kernel: u8,
    /// Largest conv and pool stride.
    pub max_stride: u8,
    /// Largest multiplier (`m / 2^16` is the effective scale).
    pub max_multiplier: i32,
    pub allow_avg_pool: bool,
    pub allow_depthwise: bool,
}

impl Default for RandomModelOptions {
    fn default() -> Self {
        RandomModelOptions {
            max_hw: 12,
            max_channels: 6,
            max_conv_layers: 3,
            max_dense_layers: 2,
            max_kernel: 3,
            max_stride: 2,
            max_multiplier: 1 << 17,
            allow_avg_pool: true,
            allow_depthwise: true,
        }
    }
}

fn random_pads(rng: &mut Rng, k: (u8, u8)) -> Pads {
    let mut p = |k: u8| rng.range(0, k as i64 - 1) as u8;
    Pads { top: p(k.0), left: p(k.1), bottom: p(k.0), right: p(k.1) }
}

/// A random valid sequential model: convs and pools over a small image, then optionally flatten
/// and dense layers. Random zero points, multipliers, paddings, strides and ReLU flags.
pub fn random_model(rng: &mut Rng, o: &RandomModelOptions) -> OwnedModel {
    let shape = Shape::new(rng.range(1, o.max_hw as i64) as u16, rng.range(1, o.max_hw as i64) as u16, rng.range(1, o.max_channels as i64) as u16);
    let quant = QParams { scale_exp: rng.range(-10, 0) as i8, zero_point: rng.i8() };
    let input = InputSpec { shape, quant, preprocess: None };
    let tables = Tables::Random { max_multiplier: o.max_multiplier };
    let mut b = ModelBuilder::new("random", Task::Regression, input, rng.clone(), tables);
    let n_conv = b.rng().range(0, o.max_conv_layers as i64);
    for _ in 0..n_conv {
        let (shape, rng) = (b.shape(), b.rng());
        let kmax = o.max_kernel as i64;
        let k = (rng.range(1, kmax.min(shape.h as i64 + 2)) as u8, rng.range(1, kmax.min(shape.w as i64 + 2)) as u8);
        let s = (rng.range(1, o.max_stride as i64) as u8, rng.range(1, o.max_stride as i64) as u8);
        let mut pads = random_pads(rng, k);
        // Keep the padded input at least as large as the kernel.
        if (shape.h as u32 + pads.top as u32 + pads.bottom as u32) < k.0 as u32 || (shape.w as u32 + pads.left as u32 + pads.right as u32) < k.1 as u32 {
            pads = Pads { top: k.0 - 1, left: k.1 - 1, bottom: 0, right: 0 };
        }
        let window = Window { kernel_h: k.0, kernel_w: k.1, stride_h: s.0, stride_w: s.1, pads };
        match rng.range(0, 5) {
            0 => b.pool(window, false),
            1 if o.allow_avg_pool => b.pool(window, true),
            4 if o.allow_depthwise => {
                let relu = rng.bool();
                b.depthwise(window, relu)
            }
            _ => {
                let oc = rng.range(1, o.max_channels as i64) as u16;
                let relu = rng.bool();
                b.conv(oc, window, relu)
            }
        };
    }
    let n_dense = b.rng().range(if n_conv == 0 { 1 } else { 0 }, o.max_dense_layers as i64);
    if n_dense > 0 {
        b.flatten();
        for _ in 0..n_dense {
            let outs = b.rng().range(1, 10) as u16;
            let relu = b.rng().bool();
            b.dense(outs, relu);
        }
    }
    let task = if b.rng().bool() { Task::Regression } else { Task::Classification };
    *rng = b.rng().clone();
    OwnedModel { task, ..b.build() }
}
