//! Random valid models and a small deterministic RNG, shared by the tests of every crate
//! (reference vs tract, reference vs optimized kernels, parser fuzzing).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::format::owned::{OwnedConv, OwnedDense, OwnedLayer, OwnedModel, OwnedNode};
use crate::format::{InputSpec, Pads, Pool, QParams, Task};
use crate::shape::Shape;

/// SplitMix64: tiny, deterministic, good enough for test data.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }

    pub fn bool(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }

    pub fn i8(&mut self) -> i8 {
        self.next_u64() as i8
    }

    pub fn i8s(&mut self, n: usize) -> Vec<i8> {
        (0..n).map(|_| self.i8()).collect()
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
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
        }
    }
}

fn qparams(rng: &mut Rng) -> QParams {
    QParams { scale_exp: rng.range(-10, 0) as i8, zero_point: rng.i8() }
}

fn random_pads(rng: &mut Rng, k: (u8, u8)) -> Pads {
    let mut p = |k: u8| rng.range(0, k as i64 - 1) as u8;
    Pads { top: p(k.0), left: p(k.1), bottom: p(k.0), right: p(k.1) }
}

fn out_dim(n: u16, a: u8, b: u8, k: u8, s: u8) -> u16 {
    ((n as u32 + a as u32 + b as u32 - k as u32) / s as u32 + 1) as u16
}

/// A random valid sequential model: convs and pools over a small image, then optionally flatten
/// and dense layers. Random zero points, multipliers, paddings, strides and ReLU flags.
pub fn random_model(rng: &mut Rng, o: &RandomModelOptions) -> OwnedModel {
    let mut shape = Shape::new(
        rng.range(1, o.max_hw as i64) as u16,
        rng.range(1, o.max_hw as i64) as u16,
        rng.range(1, o.max_channels as i64) as u16,
    );
    let input = InputSpec { shape, quant: qparams(rng), preprocess: None };
    let mut layers = Vec::new();
    let name = |kind: &str, layers: &Vec<OwnedNode>| -> String { format!("{kind}{}", layers.len() + 1) };
    let n_conv = rng.range(0, o.max_conv_layers as i64);
    for _ in 0..n_conv {
        let kmax = o.max_kernel as i64;
        let k = (rng.range(1, kmax.min(shape.h as i64 + 2)) as u8, rng.range(1, kmax.min(shape.w as i64 + 2)) as u8);
        let s = (rng.range(1, o.max_stride as i64) as u8, rng.range(1, o.max_stride as i64) as u8);
        let mut pads = random_pads(rng, k);
        // Keep the padded input at least as large as the kernel.
        if (shape.h as u32 + pads.top as u32 + pads.bottom as u32) < k.0 as u32
            || (shape.w as u32 + pads.left as u32 + pads.right as u32) < k.1 as u32
        {
            pads = Pads { top: k.0 - 1, left: k.1 - 1, bottom: 0, right: 0 };
        }
        let pool_kind = rng.range(0, 4);
        if pool_kind == 0 || (pool_kind == 1 && o.allow_avg_pool) {
            let pool = Pool { kernel_h: k.0, kernel_w: k.1, stride_h: s.0, stride_w: s.1, pads };
            shape = Shape::new(out_dim(shape.h, pads.top, pads.bottom, k.0, s.0), out_dim(shape.w, pads.left, pads.right, k.1, s.1), shape.c);
            let layer = if pool_kind == 0 { OwnedLayer::MaxPool(pool) } else { OwnedLayer::AvgPool(pool) };
            layers.push(OwnedNode { name: name("pool", &layers), layer });
            continue;
        }
        let oc = rng.range(1, o.max_channels as i64) as u16;
        let kdepth = k.0 as usize * k.1 as usize * shape.c as usize;
        let conv = OwnedConv {
            out_channels: oc,
            kernel_h: k.0,
            kernel_w: k.1,
            stride_h: s.0,
            stride_w: s.1,
            pads,
            relu: rng.bool(),
            output: qparams(rng),
            weights: rng.i8s(oc as usize * kdepth),
            bias: (0..oc).map(|_| rng.range(-(1 << 14), 1 << 14) as i32).collect(),
            multipliers: (0..oc).map(|_| rng.range(1, o.max_multiplier as i64) as i32).collect(),
        };
        shape = Shape::new(out_dim(shape.h, pads.top, pads.bottom, k.0, s.0), out_dim(shape.w, pads.left, pads.right, k.1, s.1), oc);
        layers.push(OwnedNode { name: name("conv", &layers), layer: OwnedLayer::Conv2d(conv) });
    }
    let n_dense = rng.range(if layers.is_empty() { 1 } else { 0 }, o.max_dense_layers as i64);
    if n_dense > 0 {
        layers.push(OwnedNode { name: name("flatten", &layers), layer: OwnedLayer::Flatten });
        shape = Shape::flat(shape.len() as u16);
        for _ in 0..n_dense {
            let outs = rng.range(1, 10) as u16;
            let dense = OwnedDense {
                out_features: outs,
                relu: rng.bool(),
                output: qparams(rng),
                weights: rng.i8s(outs as usize * shape.c as usize),
                bias: (0..outs).map(|_| rng.range(-(1 << 14), 1 << 14) as i32).collect(),
                multipliers: (0..outs).map(|_| rng.range(1, o.max_multiplier as i64) as i32).collect(),
            };
            shape = Shape::flat(outs);
            layers.push(OwnedNode { name: name("dense", &layers), layer: OwnedLayer::Dense(dense) });
        }
    }
    let task = if rng.bool() { Task::Regression } else { Task::Classification };
    OwnedModel { name: String::from("random"), task, input, layers }
}
