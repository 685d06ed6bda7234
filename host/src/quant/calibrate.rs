//! Activation ranges from real inputs: the float network runs on calibration examples and every
//! int8 layer's output range is recorded (min/max, or a percentile to ignore rare outliers).

use burn::tensor::Device;
use common::Shape;

use super::graph::GraphLayer;
use crate::nn::net::{input_batch, Act, Net};

/// How a layer's range is taken from what calibration saw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RangeMethod {
    MinMax,
    /// The given percentile of the values at each end (e.g. 99.99).
    Percentile(f64),
}

/// Most values kept per layer for percentiles (an even subsample beyond that).
const MAX_SAMPLES: usize = 1 << 21;

/// Observed output values of every graph layer.
pub struct Observer {
    lo: Vec<f32>,
    hi: Vec<f32>,
    samples: Vec<Vec<f32>>,
    keep_samples: bool,
    seen: Vec<usize>,
}

impl Observer {
    pub fn new(layers: usize, method: RangeMethod) -> Observer {
        Observer {
            lo: vec![f32::INFINITY; layers],
            hi: vec![f32::NEG_INFINITY; layers],
            samples: vec![Vec::new(); layers],
            keep_samples: matches!(method, RangeMethod::Percentile(_)),
            seen: vec![0; layers],
        }
    }

    /// Runs one batch of int8 inputs through the float network.
    pub fn observe(&mut self, net: &Net, graph: &[GraphLayer], inputs: &[i8], shape: Shape, scale_exp: i8, device: &Device) {
        let x = input_batch(inputs, shape, scale_exp, device);
        let mut outputs: Vec<Option<Vec<f32>>> = vec![None; net.blocks.len()];
        net.forward_trace(x, |i, act| {
            if graph.iter().any(|g| g.block == i) {
                let t = match act {
                    Act::Image(t) => t.clone().into_data(),
                    Act::Flat(t) => t.clone().into_data(),
                };
                outputs[i] = t.try_to_vec::<f32>().ok();
            }
        });
        for (l, g) in graph.iter().enumerate() {
            let Some(values) = &outputs[g.block] else { continue };
            for &v in values {
                let v = if g.relu_moved_in { v.max(0.0) } else { v };
                self.lo[l] = self.lo[l].min(v);
                self.hi[l] = self.hi[l].max(v);
            }
            if self.keep_samples {
                let step = (self.seen[l] + values.len()) / MAX_SAMPLES + 1;
                let s = &mut self.samples[l];
                s.extend(values.iter().step_by(step).map(|&v| if g.relu_moved_in { v.max(0.0) } else { v }));
                if s.len() > MAX_SAMPLES {
                    *s = s.iter().step_by(2).copied().collect();
                }
            }
            self.seen[l] += values.len();
        }
    }

    /// The range of layer `l` by `method` (always containing 0).
    pub fn range(&self, l: usize, method: RangeMethod) -> (f32, f32) {
        let (lo, hi) = match method {
            RangeMethod::MinMax => (self.lo[l], self.hi[l]),
            RangeMethod::Percentile(p) => {
                let mut s = self.samples[l].clone();
                if s.is_empty() {
                    return (0.0, 0.0);
                }
                s.sort_by(f32::total_cmp);
                let at = |q: f64| s[((q / 100.0) * (s.len() - 1) as f64).round() as usize];
                (at(100.0 - p), at(p))
            }
        };
        if !lo.is_finite() || !hi.is_finite() {
            return (0.0, 0.0);
        }
        (lo.min(0.0), hi.max(0.0))
    }
}
