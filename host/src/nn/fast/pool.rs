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
    y.par_chunks_mut(out_plane * PLANES_PER_TASK).zip(arg.par_chunks_mut(out_plane * PLANES_PER_TASK)).zip(x.par_chunks(plane * PLANES_PER_TASK)).for_each(
        |((y, arg), x)| {
            for ((y, arg), x) in y.chunks_exact_mut(out_plane).zip(arg.chunks_exact_mut(out_plane)).zip(x.chunks_exact(plane)) {
                if (g.kh, g.kw, g.sh, g.sw) == (2, 2, 2, 2) {
                    max_plane_2x2(g, x, y, arg);
                } else {
                    max_plane(g, x, y, arg);
                }
            }
        },
    );
    (y, arg)
}

/// Whether `v` replaces `best` as a window's maximum: a larger value or a NaN (burn's rule).
/// Callers turn this into selects, not branches: with data it is a coin flip.
#[inline(always)]
fn wins(v: f32, best: f32) -> bool {
    (v > best) | v.is_nan()
}

/// The maximum so far and its index, after seeing `v` at index `i`.
#[inline(always)]
fn pick(best: f32, at: u32, v: f32, i: u32) -> (f32, u32) {
    let take = wins(v, best);
    (if take { v } else { best }, if take { i } else { at })
}

/// One plane, any window.
fn max_plane(g: &PoolGeom, x: &[f32], y: &mut [f32], arg: &mut [u32]) {
    for oy in 0..g.oh {
        for ox in 0..g.ow {
            let first = oy * g.sh * g.w + ox * g.sw;
            let (mut best, mut at) = (x[first], first as u32);
            for ky in 0..g.kh {
                let row = (oy * g.sh + ky) * g.w + ox * g.sw;
                for (kx, &v) in x[row..row + g.kw].iter().enumerate() {
                    (best, at) = pick(best, at, v, (row + kx) as u32);
                }
            }
            y[oy * g.ow + ox] = best;
            arg[oy * g.ow + ox] = at;
        }
    }
}

/// One plane, 2x2 windows at stride 2 (the sign CNN's), in a loop the compiler vectorizes.
fn max_plane_2x2(g: &PoolGeom, x: &[f32], y: &mut [f32], arg: &mut [u32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F, checked just above.
        return unsafe { max_plane_2x2_avx512(g, x, y, arg) };
    }
    max_plane_2x2_body(g, x, y, arg)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn max_plane_2x2_avx512(g: &PoolGeom, x: &[f32], y: &mut [f32], arg: &mut [u32]) {
    max_plane_2x2_body(g, x, y, arg)
}

#[inline(always)]
fn max_plane_2x2_body(g: &PoolGeom, x: &[f32], y: &mut [f32], arg: &mut [u32]) {
    for oy in 0..g.oh {
        let (r0, r1) = (2 * oy * g.w, (2 * oy + 1) * g.w);
        let (top, bottom) = (&x[r0..r0 + 2 * g.ow], &x[r1..r1 + 2 * g.ow]);
        let (y, arg) = (&mut y[oy * g.ow..(oy + 1) * g.ow], &mut arg[oy * g.ow..(oy + 1) * g.ow]);
        for (ox, ((t, b), (y, arg))) in top.chunks_exact(2).zip(bottom.chunks_exact(2)).zip(y.iter_mut().zip(arg.iter_mut())).enumerate() {
            let (base, w) = ((r0 + 2 * ox) as u32, g.w as u32);
            let (best, at) = pick(t[0], base, t[1], base + 1);
            let (best, at) = pick(best, at, b[0], base + w);
            let (best, at) = pick(best, at, b[1], base + w + 1);
            *y = best;
            *arg = at;
        }
    }
}

/// The input gradient: each output's gradient added to the input it took.
pub fn max_backward(g: &PoolGeom, arg: &[u32], dy: &[f32]) -> Vec<f32> {
    assert_eq!((arg.len(), dy.len()), (g.out_len(), g.out_len()), "max pool backward: sizes do not match {g:?}");
    let (plane, out_plane) = (g.h * g.w, g.oh * g.ow);
    let mut dx = vec![0f32; g.in_len()];
    if dy.is_empty() {
        return dx;
    }
    dx.par_chunks_mut(plane * PLANES_PER_TASK).zip(arg.par_chunks(out_plane * PLANES_PER_TASK)).zip(dy.par_chunks(out_plane * PLANES_PER_TASK)).for_each(
        |((dx, arg), dy)| {
            for ((dx, arg), dy) in dx.chunks_exact_mut(plane).zip(arg.chunks_exact(out_plane)).zip(dy.chunks_exact(out_plane)) {
                for (&i, &d) in arg.iter().zip(dy) {
                    dx[i as usize] += d;
                }
            }
        },
    );
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
    fn the_two_by_two_loop_agrees_with_the_general_one() {
        let g = PoolGeom::new([2, 3, 7, 9], [2, 2], [2, 2]).unwrap();
        // Many ties (zeros, as after a ReLU) and a NaN.
        let mut x: Vec<f32> = (0..g.in_len()).map(|i| ((i * 7919) % 13) as f32 - 6.0).map(|v| v.max(0.0)).collect();
        x[40] = f32::NAN;
        let (mut y, mut arg) = (vec![0.0; g.out_len()], vec![0; g.out_len()]);
        for ((x, y), arg) in x.chunks_exact(63).zip(y.chunks_exact_mut(12)).zip(arg.chunks_exact_mut(12)) {
            max_plane(&g, x, y, arg);
        }
        let (fast_y, fast_arg) = max_forward(&g, &x);
        assert_eq!(fast_arg, arg);
        assert_eq!(format!("{fast_y:?}"), format!("{y:?}"));
    }

    #[test]
    fn nan_wins_like_burn() {
        let g = PoolGeom::new([1, 2, 2, 2], [2, 2], [2, 2]).unwrap();
        let (y, arg) = max_forward(&g, &[1.0, f32::NAN, 3.0, 2.0, -1.0, -2.0, -3.0, -4.0]);
        assert!(y[0].is_nan());
        assert_eq!((arg, y[1]), (vec![1, 0], -1.0));
    }
}
