//! VisualBackProp (Bojarski et al., "VisualBackProp: efficient visualization of CNNs", 2016):
//! average each convolutional layer's feature maps over channels; starting from the deepest,
//! scale the map up to the layer's input size with a transposed convolution of ones (the
//! layer's kernel, stride and padding) and multiply it pointwise with the next shallower
//! averaged map; at the input, normalise to [0, 1].
//!
//! The network is given as a list of [`Stage`]s (its spatial layers in order), so the same code
//! serves the int8 blob and the float network ([`super::trace`]).

/// One spatial layer (convolution or pooling) of a network.
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// Window height and width.
    pub kernel: (usize, usize),
    pub stride: (usize, usize),
    /// Padding before the first row and before the first column.
    pub pad: (usize, usize),
    /// Input and output sizes, (height, width).
    pub input: (usize, usize),
    pub output: (usize, usize),
    /// For a convolution: its output (after its activation) averaged over channels, row-major,
    /// `output.0 * output.1` values. `None` for pooling, which the mask only passes through.
    pub mean: Option<Vec<f32>>,
}

/// A saliency mask at the network input's resolution, values in [0, 1] (the largest is 1
/// unless the mask is all zero).
#[derive(Clone, Debug, PartialEq)]
pub struct Saliency {
    pub h: usize,
    pub w: usize,
    /// Row-major, `h * w`.
    pub values: Vec<f32>,
}

impl Saliency {
    pub fn at(&self, y: usize, x: usize) -> f32 {
        self.values[y * self.w + x]
    }

    /// The share of the mask's total in columns `x0..x1`.
    pub fn share_of_columns(&self, x0: usize, x1: usize) -> f64 {
        let total: f64 = self.values.iter().map(|&v| v as f64).sum();
        if total <= 0.0 {
            return 0.0;
        }
        let part: f64 = (0..self.h).flat_map(|y| (x0..x1.min(self.w)).map(move |x| (y, x))).map(|(y, x)| self.at(y, x) as f64).sum();
        part / total
    }
}

/// The VisualBackProp mask of a network whose spatial layers are `stages` (input first).
/// `None` when no stage is a convolution. Negative averages (a convolution without ReLU) count
/// as zero: the method is defined on rectified feature maps.
pub fn visual_backprop(stages: &[Stage]) -> Option<Saliency> {
    let deepest = stages.iter().rposition(|s| s.mean.is_some())?;
    let mut mask = normalised(stages[deepest].mean.as_deref()?);
    for (i, stage) in stages[..=deepest].iter().enumerate().rev() {
        if i < deepest {
            if let Some(mean) = &stage.mean {
                for (m, a) in mask.iter_mut().zip(normalised(mean)) {
                    *m *= a;
                }
            }
        }
        mask = spread(&mask, stage);
    }
    let (h, w) = stages[0].input;
    Some(Saliency { h, w, values: normalised(&mask) })
}

/// Clamped at zero and divided by the largest value (scaling each factor does not change the
/// normalised product, and keeps deep products from underflowing).
fn normalised(v: &[f32]) -> Vec<f32> {
    let top = v.iter().fold(0f32, |m, &x| m.max(x));
    if top <= 0.0 || !top.is_finite() {
        return vec![0.0; v.len()];
    }
    v.iter().map(|&x| x.max(0.0) / top).collect()
}

/// The transposed convolution of ones: every input position gets the sum of the `mask` values
/// of the output positions whose window covers it.
pub fn spread(mask: &[f32], s: &Stage) -> Vec<f32> {
    let (ih, iw) = s.input;
    let (oh, ow) = s.output;
    let mut out = vec![0f32; ih * iw];
    for oy in 0..oh {
        for ox in 0..ow {
            let v = mask[oy * ow + ox];
            if v == 0.0 {
                continue;
            }
            for ky in 0..s.kernel.0 {
                let Some(iy) = (oy * s.stride.0 + ky).checked_sub(s.pad.0).filter(|&y| y < ih) else { continue };
                for kx in 0..s.kernel.1 {
                    let Some(ix) = (ox * s.stride.1 + kx).checked_sub(s.pad.1).filter(|&x| x < iw) else { continue };
                    out[iy * iw + ix] += v;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(kernel: usize, stride: usize, pad: usize, input: (usize, usize), mean: Option<Vec<f32>>) -> Stage {
        let out = |n: usize| (n + 2 * pad - kernel) / stride + 1;
        Stage { kernel: (kernel, kernel), stride: (stride, stride), pad: (pad, pad), input, output: (out(input.0), out(input.1)), mean }
    }

    #[test]
    fn spread_counts_the_windows_covering_each_input() {
        // 1-D along x: input 5, kernel 3, stride 2 -> outputs at 0 and 2 cover 0..3 and 2..5.
        let s = Stage { kernel: (1, 3), stride: (1, 2), pad: (0, 0), input: (1, 5), output: (1, 2), mean: None };
        assert_eq!(spread(&[1.0, 1.0], &s), vec![1.0, 1.0, 2.0, 1.0, 1.0]);
        assert_eq!(spread(&[0.0, 3.0], &s), vec![0.0, 0.0, 3.0, 3.0, 3.0]);
        // Padding shifts windows left/up: with pad 1 the first window covers -1..2.
        let s = Stage { kernel: (1, 3), stride: (1, 1), pad: (0, 1), input: (1, 3), output: (1, 3), mean: None };
        assert_eq!(spread(&[1.0, 0.0, 0.0], &s), vec![1.0, 1.0, 0.0]);
    }

    #[test]
    fn mask_is_the_product_of_the_maps_carried_to_the_input() {
        // Two 1x1 convolutions keep the geometry: the mask is the normalised product.
        let a = vec![1.0, 2.0, 4.0, 0.0];
        let b = vec![4.0, 2.0, 1.0, 3.0];
        let stages = [stage(1, 1, 0, (2, 2), Some(a)), stage(1, 1, 0, (2, 2), Some(b))];
        let m = visual_backprop(&stages).unwrap();
        assert_eq!((m.h, m.w), (2, 2));
        // products 4, 4, 4, 0 -> 1, 1, 1, 0
        assert_eq!(m.values, vec![1.0, 1.0, 1.0, 0.0]);
    }

    #[test]
    fn deepest_map_spreads_over_its_receptive_field() {
        // 4x4 input, 2x2 conv stride 2 -> 2x2; only the top-left output is active.
        let stages = [stage(2, 2, 0, (4, 4), Some(vec![5.0, 0.0, 0.0, 0.0]))];
        let m = visual_backprop(&stages).unwrap();
        let expected: Vec<f32> = (0..16).map(|i| if i / 4 < 2 && i % 4 < 2 { 1.0 } else { 0.0 }).collect();
        assert_eq!(m.values, expected);
        assert!((m.share_of_columns(0, 2) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn pooling_passes_the_mask_through_and_trailing_pools_are_ignored() {
        let conv = stage(1, 1, 0, (2, 4), Some(vec![1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]));
        let pool = stage(2, 2, 0, (2, 4), None);
        let deep = stage(1, 1, 0, (1, 2), Some(vec![1.0, 1.0]));
        let m = visual_backprop(&[conv, pool, deep, stage(1, 1, 0, (1, 2), None)]).unwrap();
        assert_eq!(m.values, vec![1.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
        assert_eq!(visual_backprop(&[stage(2, 2, 0, (2, 4), None)]), None);
    }

    #[test]
    fn negative_and_zero_maps_give_a_zero_mask() {
        let m = visual_backprop(&[stage(1, 1, 0, (1, 2), Some(vec![-1.0, -2.0]))]).unwrap();
        assert_eq!(m.values, vec![0.0, 0.0]);
        assert_eq!(m.share_of_columns(0, 1), 0.0);
    }
}
