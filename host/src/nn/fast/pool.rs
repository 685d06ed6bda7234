//! Max pooling (no padding, no dilation) on NCHW f32 slices, forward and backward.
//!
//! The forward pass records which input each output took, as burn does: the first maximum of
//! the window in row-major order, a NaN always winning. Gradients then go to the same inputs as
//! burn's (after a ReLU, windows of equal zeros are common, so the rule matters).

use rayon::prelude::*;

/// The shapes of one pooling: input `[n, c, h, w]`, window `kh x kw`, stride `(sh, sw)`,
/// output `[n, c, oh, ow]` (windows that do not fit are dropped, as with floor rounding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolGeom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub oh: usize,
    pub ow: usize,
}

impl PoolGeom {
    /// `None` when the window is empty, a stride is zero or the window is larger than the input.
    pub fn new(x: [usize; 4], kernel: [usize; 2], stride: [usize; 2]) -> Option<PoolGeom> {
        let ([n, c, h, w], [kh, kw], [sh, sw]) = (x, kernel, stride);
        if kh == 0 || kw == 0 || sh == 0 || sw == 0 || kh > h || kw > w {
            return None;
        }
        Some(PoolGeom { n, c, h, w, kh, kw, sh, sw, oh: (h - kh) / sh + 1, ow: (w - kw) / sw + 1 })
    }

    pub fn in_len(&self) -> usize {
        self.n * self.c * self.h * self.w
    }

    pub fn out_len(&self) -> usize {
        self.n * self.c * self.oh * self.ow
    }
}

/// Planes (one image's channel) per parallel task.
const PLANES_PER_TASK: usize = 8;

/// The pooled output and, for each output, the index in its input plane (`y * w + x`) of the
/// input it took.
pub fn max_forward(g: &PoolGeom, x: &[f32]) -> (Vec<f32>, Vec<u32>) {
    assert_eq!(x.len(), g.in_len(), "max pool: input size does not match {g:?}");
    let (plane, out_plane) = (g.h * g.w, g.oh * g.ow);
    let mut y = vec![0f32; g.out_len()];
    let mut arg = vec![0u32; g.out_len()];
    if y.is_empty() {
        return (y, arg);
    }
    y.par_chunks_mut(out_plane * PLANES_PER_TASK)
        .zip(arg.par_chunks_mut(out_plane * PLANES_PER_TASK))
        .zip(x.par_chunks(plane * PLANES_PER_TASK))
        .for_each(|((y, arg), x)| {
            for ((y, arg), x) in y.chunks_exact_mut(out_plane).zip(arg.chunks_exact_mut(out_plane)).zip(x.chunks_exact(plane)) {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let (mut best, mut at) = (f32::NEG_INFINITY, usize::MAX);
                        for ky in 0..g.kh {
                            let row = (oy * g.sh + ky) * g.w + ox * g.sw;
                            for (kx, &v) in x[row..row + g.kw].iter().enumerate() {
                                if at == usize::MAX || v > best || v.is_nan() {
                                    (best, at) = (v, row + kx);
                                }
                            }
                        }
                        y[oy * g.ow + ox] = best;
                        arg[oy * g.ow + ox] = at as u32;
                    }
                }
            }
        });
    (y, arg)
}

/// The input gradient: each output's gradient added to the input it took.
pub fn max_backward(g: &PoolGeom, arg: &[u32], dy: &[f32]) -> Vec<f32> {
    assert_eq!((arg.len(), dy.len()), (g.out_len(), g.out_len()), "max pool backward: sizes do not match {g:?}");
    let (plane, out_plane) = (g.h * g.w, g.oh * g.ow);
    let mut dx = vec![0f32; g.in_len()];
    if dy.is_empty() {
        return dx;
    }
    dx.par_chunks_mut(plane * PLANES_PER_TASK)
        .zip(arg.par_chunks(out_plane * PLANES_PER_TASK))
        .zip(dy.par_chunks(out_plane * PLANES_PER_TASK))
        .for_each(|((dx, arg), dy)| {
            for ((dx, arg), dy) in dx.chunks_exact_mut(plane).zip(arg.chunks_exact(out_plane)).zip(dy.chunks_exact(out_plane)) {
                for (&i, &d) in arg.iter().zip(dy) {
                    dx[i as usize] += d;
                }
            }
        });
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_first_maximum_of_each_window_and_routes_gradients_there() {
        // One 3x5 plane, 2x2 windows at stride 2: outputs 1x2 (the last column and row drop).
        let g = PoolGeom::new([1, 1, 3, 5], [2, 2], [2, 2]).unwrap();
        assert_eq!((g.oh, g.ow), (1, 2));
        #[rustfmt::skip]
        let x = [
            1.0, 4.0, 0.0, 0.0, 9.0,
            4.0, 2.0, 0.0, 0.0, 9.0,
            9.0, 9.0, 9.0, 9.0, 9.0,
        ];
        let (y, arg) = max_forward(&g, &x);
        assert_eq!(y, vec![4.0, 0.0]);
        assert_eq!(arg, vec![1, 2], "ties go to the first in row-major order");
        let dx = max_backward(&g, &arg, &[0.5, -2.0]);
        let mut want = vec![0.0; 15];
        want[1] = 0.5;
        want[2] = -2.0;
        assert_eq!(dx, want);
    }

    #[test]
    fn overlapping_windows_add_their_gradients() {
        // 3x3 windows at stride 1 on a 3x4 plane: both windows hold the one peak.
        let g = PoolGeom::new([1, 1, 3, 4], [3, 3], [1, 1]).unwrap();
        let mut x = vec![0.0; 12];
        x[6] = 5.0; // row 1, column 2: inside both windows
        let (y, arg) = max_forward(&g, &x);
        assert_eq!((y, arg.clone()), (vec![5.0, 5.0], vec![6, 6]));
        assert_eq!(max_backward(&g, &arg, &[1.0, 2.0])[6], 3.0);
    }

    #[test]
    fn nan_wins_like_burn() {
        let g = PoolGeom::new([1, 2, 2, 2], [2, 2], [2, 2]).unwrap();
        let (y, arg) = max_forward(&g, &[1.0, f32::NAN, 3.0, 2.0, -1.0, -2.0, -3.0, -4.0]);
        assert!(y[0].is_nan());
        assert_eq!((arg, y[1]), (vec![1, 0], -1.0));
    }
}
