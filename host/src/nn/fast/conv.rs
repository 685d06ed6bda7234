//! 2-D convolution (groups 1, dilation 1, any stride and explicit padding) on NCHW f32 slices:
//! the forward pass and both backward passes, as im2col + GEMM.
//!
//! The batch is split into tasks of whole images that run in parallel on rayon's pool; inside a
//! task, output rows are processed in tiles whose im2col block stays in a core's L2 cache, one
//! single-threaded GEMM per tile. A tile may span several images when a layer's output is small
//! (PilotNet's last convolution has 18 output pixels), so every GEMM has a few hundred columns.
//! The split depends on the shapes only and the tasks' weight gradients are summed in task
//! order, so the results do not depend on the thread count or on scheduling.

use std::cell::RefCell;

use rayon::prelude::*;

use super::direct;
use super::gemm::{matmul, Mat, MatMut};

/// The shapes of one convolution: input `[n, c, h, w]`, weights `[o, c, kh, kw]`, output
/// `[n, o, oh, ow]`, stride `(sh, sw)`, padding before `(pt, pl)` (the padding after is implied by
/// `oh`, `ow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geom {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub o: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub pt: usize,
    pub pl: usize,
    pub oh: usize,
    pub ow: usize,
}

/// The most columns one tile's GEMM gets (more gains little and leaves the cache).
const MAX_COLS: usize = 1024;
/// Upper bound of one tile's im2col block, to keep it in a core's L2 cache.
const MAX_TILE_BYTES: usize = 512 << 10;
/// At most this many tasks (each one holds a partial weight gradient).
const MAX_TASKS: usize = 16;

/// How the work is split: tasks of `images` whole images, tiles of `rows` output rows; and
/// whether the forward pass and the weight gradient use the [`direct`] kernels (else im2col
/// and GEMM).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Plan {
    images: usize,
    rows: usize,
    direct: bool,
}

impl Geom {
    /// The geometry for input `[n, c, h, w]`, weights `[o, c, kh, kw]`, stride and padding
    /// `[top, left, bottom, right]`; `None` when the kernel does not fit the padded input.
    pub fn new(x: [usize; 4], weight: [usize; 4], stride: [usize; 2], pads: [usize; 4]) -> Option<Geom> {
        let [n, c, h, w] = x;
        let [o, wc, kh, kw] = weight;
        let [sh, sw] = stride;
        let [pt, pl, pb, pr] = pads;
        if wc != c || sh == 0 || sw == 0 || kh == 0 || kw == 0 || h + pt + pb < kh || w + pl + pr < kw {
            return None;
        }
        let (oh, ow) = ((h + pt + pb - kh) / sh + 1, (w + pl + pr - kw) / sw + 1);
        Some(Geom { n, c, h, w, o, kh, kw, sh, sw, pt, pl, oh, ow })
    }

    /// Rows of the im2col matrix: one per (input channel, kernel row, kernel column).
    pub fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Output pixels per image and channel.
    pub fn p(&self) -> usize {
        self.oh * self.ow
    }

    pub fn in_len(&self) -> usize {
        self.n * self.c * self.h * self.w
    }

    pub fn out_len(&self) -> usize {
        self.n * self.o * self.p()
    }

    pub fn weight_len(&self) -> usize {
        self.o * self.k()
    }

    fn plan(&self) -> Plan {
        let cols = (MAX_TILE_BYTES / (4 * self.k())).clamp(self.ow, MAX_COLS.max(self.ow));
        let rows = (cols / self.ow).max(1);
        // A task holds at least one whole tile, and there are at most MAX_TASKS of them, as even
        // as the image count allows.
        let images = rows.div_ceil(self.oh).max(self.n.div_ceil(MAX_TASKS)).min(self.n);
        Plan { images: self.n.div_ceil(self.n.div_ceil(images)), rows, direct: direct::suits(self) }
    }

    /// The output columns `lo..hi` whose input column `o * stride + k - pad` lies in `0..len`.
    fn valid(out: usize, stride: usize, k: usize, pad: usize, len: usize) -> (usize, usize) {
        // o * stride + k >= pad  and  o * stride + k < pad + len
        let lo = pad.saturating_sub(k).div_ceil(stride).min(out);
        let hi = if pad + len > k { (pad + len - k).div_ceil(stride).min(out) } else { 0 };
        (lo, hi.max(lo))
    }

    /// The input row that output row `oy` reads at kernel row `ky`, if it is not padding.
    fn input_row(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.sh + ky).checked_sub(self.pt).filter(|&iy| iy < self.h)
    }

    /// Input columns per phase row of [`Geom::split`]: `ceil(w / sw)`.
    fn wq(&self) -> usize {
        self.w.div_ceil(self.sw)
    }

    /// Length of the phase-split copy of `images` images.
    fn split_len(&self, images: usize) -> usize {
        images * self.c * self.h * self.sw * self.wq()
    }

    /// Copies `images` NCHW images into `xs` with every row split into its `sw` phases
    /// (`xs[img][c][y][phase][j] = x[img][c][y][j * sw + phase]`): then the input columns one
    /// kernel column reads at stride `sw` are contiguous, and im2col is plain copies.
    fn split(&self, x: &[f32], images: usize, xs: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { self.split_avx512(x, images, xs) };
        }
        self.split_body(x, images, xs)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn split_avx512(&self, x: &[f32], images: usize, xs: &mut [f32]) {
        self.split_body(x, images, xs)
    }

    #[inline(always)]
    fn split_body(&self, x: &[f32], images: usize, xs: &mut [f32]) {
        let (s, wq) = (self.sw, self.wq());
        for (src, dst) in x.chunks_exact(self.w).zip(xs.chunks_exact_mut(s * wq)).take(images * self.c * self.h) {
            if s == 2 {
                // Its own loop: pairs deinterleave with vector shuffles.
                let (even, odd) = dst.split_at_mut(wq);
                let pairs = src.chunks_exact(2);
                if let Some(last) = pairs.remainder().first() {
                    even[wq - 1] = *last;
                }
                for ((p, e), o) in pairs.zip(even.iter_mut()).zip(odd.iter_mut()) {
                    *e = p[0];
                    *o = p[1];
                }
                continue;
            }
            for (ph, dst) in dst.chunks_exact_mut(wq).enumerate() {
                for (d, v) in dst.iter_mut().zip(src.get(ph..).unwrap_or(&[]).iter().step_by(s)) {
                    *d = *v;
                }
            }
        }
    }

    /// The inverse of [`Geom::split`] for gradients: `dx[...][j * sw + phase] = dxs[...][phase][j]`.
    fn unsplit(&self, dxs: &[f32], images: usize, dx: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { self.unsplit_avx512(dxs, images, dx) };
        }
        self.unsplit_body(dxs, images, dx)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn unsplit_avx512(&self, dxs: &[f32], images: usize, dx: &mut [f32]) {
        self.unsplit_body(dxs, images, dx)
    }

    #[inline(always)]
    fn unsplit_body(&self, dxs: &[f32], images: usize, dx: &mut [f32]) {
        let (s, wq) = (self.sw, self.wq());
        for (dst, src) in dx.chunks_exact_mut(self.w).zip(dxs.chunks_exact(s * wq)).take(images * self.c * self.h) {
            if s == 2 {
                let (even, odd) = src.split_at(wq);
                let mut pairs = dst.chunks_exact_mut(2);
                for ((p, e), o) in (&mut pairs).zip(even).zip(odd) {
                    p[0] = *e;
                    p[1] = *o;
                }
                if let Some(last) = pairs.into_remainder().first_mut() {
                    *last = even[wq - 1];
                }
                continue;
            }
            for (ph, src) in src.chunks_exact(wq).enumerate() {
                for (d, v) in dst.get_mut(ph..).unwrap_or(&mut []).iter_mut().step_by(s).zip(src) {
                    *d = *v;
                }
            }
        }
    }

    /// For kernel column `kx`: the output columns `lo..hi` that read real input (not padding),
    /// the phase they read, and the offset from output column to phase column (`j = ox + q`).
    fn columns(&self, kx: usize) -> (usize, usize, usize, isize) {
        let (lo, hi) = Geom::valid(self.ow, self.sw, kx, self.pl, self.w);
        let d = kx as isize - self.pl as isize;
        (lo, hi, d.rem_euclid(self.sw as isize) as usize, d.div_euclid(self.sw as isize))
    }

    /// Fills `col` (`[k, (r1 - r0) * ow]`, row-major) with the patches of output rows `r0..r1`,
    /// counted over the images (row `r` is row `r % oh` of image `r / oh`); `xs` is the images'
    /// input as [`Geom::split`] lays it out (for stride 1, the input itself).
    fn im2col(&self, xs: &[f32], r0: usize, r1: usize, col: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { self.im2col_avx512(xs, r0, r1, col) };
        }
        self.im2col_body(xs, r0, r1, col)
    }

    /// [`Geom::im2col`] compiled for AVX-512: its short row copies then move 64 bytes at a time.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn im2col_avx512(&self, xs: &[f32], r0: usize, r1: usize, col: &mut [f32]) {
        self.im2col_body(xs, r0, r1, col)
    }

    #[inline(always)]
    fn im2col_body(&self, xs: &[f32], r0: usize, r1: usize, col: &mut [f32]) {
        let (cols, row_len) = ((r1 - r0) * self.ow, self.sw * self.wq());
        for ci in 0..self.c {
            for ky in 0..self.kh {
                for kx in 0..self.kw {
                    let row = (ci * self.kh + ky) * self.kw + kx;
                    let dst_row = &mut col[row * cols..(row + 1) * cols];
                    let (lo, hi, phase, q) = self.columns(kx);
                    for (r, dst) in (r0..r1).zip(dst_row.chunks_exact_mut(self.ow)) {
                        let (img, oy) = (r / self.oh, r % self.oh);
                        match self.input_row(oy, ky) {
                            None => dst.fill(0.0),
                            Some(iy) => {
                                let at = ((img * self.c + ci) * self.h + iy) * row_len + phase * self.wq();
                                dst[..lo].fill(0.0);
                                dst[hi..].fill(0.0);
                                if lo < hi {
                                    let from = at + (lo as isize + q) as usize;
                                    copy(&mut dst[lo..hi], &xs[from..from + hi - lo]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Adds `col` (`[k, (r1 - r0) * ow]`) back into the images' input gradient `dxs`, laid out
    /// as [`Geom::split`] lays out the input.
    fn col2im(&self, col: &[f32], r0: usize, r1: usize, dxs: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { self.col2im_avx512(col, r0, r1, dxs) };
        }
        self.col2im_body(col, r0, r1, dxs)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn col2im_avx512(&self, col: &[f32], r0: usize, r1: usize, dxs: &mut [f32]) {
        self.col2im_body(col, r0, r1, dxs)
    }

    #[inline(always)]
    fn col2im_body(&self, col: &[f32], r0: usize, r1: usize, dxs: &mut [f32]) {
        let (cols, row_len) = ((r1 - r0) * self.ow, self.sw * self.wq());
        for ci in 0..self.c {
            for ky in 0..self.kh {
                for kx in 0..self.kw {
                    let row = (ci * self.kh + ky) * self.kw + kx;
                    let src_row = &col[row * cols..(row + 1) * cols];
                    let (lo, hi, phase, q) = self.columns(kx);
                    if lo == hi {
                        continue;
                    }
                    for (r, src) in (r0..r1).zip(src_row.chunks_exact(self.ow)) {
                        let (img, oy) = (r / self.oh, r % self.oh);
                        if let Some(iy) = self.input_row(oy, ky) {
                            let at = ((img * self.c + ci) * self.h + iy) * row_len + phase * self.wq();
                            let from = at + (lo as isize + q) as usize;
                            add(&mut dxs[from..from + hi - lo], &src[lo..hi]);
                        }
                    }
                }
            }
        }
    }

    /// The tiles of a task with `images` images: output row ranges, and whether each lies in
    /// one image (then its outputs are a strided block of that image and need no copy).
    fn tiles(&self, plan: Plan, images: usize) -> impl Iterator<Item = (usize, usize, bool)> + '_ {
        let rows = images * self.oh;
        (0..rows).step_by(plan.rows).map(move |r0| {
            let r1 = (r0 + plan.rows).min(rows);
            (r0, r1, r0 / self.oh == (r1 - 1) / self.oh)
        })
    }

    /// Offset of output row `r` in a task's `[images, o, oh, ow]` block, channel 0.
    fn out_offset(&self, r: usize) -> usize {
        (r / self.oh) * self.o * self.p() + (r % self.oh) * self.ow
    }
}

/// `dst = src` for the short rows of im2col, inline (a `memcpy` call costs more than it moves
/// at these lengths).
#[inline(always)]
fn copy(dst: &mut [f32], src: &[f32]) {
    let mut d = dst.chunks_exact_mut(16);
    let mut s = src.chunks_exact(16);
    for (d, s) in (&mut d).zip(&mut s) {
        d.copy_from_slice(s);
    }
    for (d, s) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d = *s;
    }
}

/// `dst += src`.
#[inline(always)]
fn add(dst: &mut [f32], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += *s;
    }
}

/// A sum in eight lanes, which the compiler vectorizes (a plain fold of floats it may not).
fn sum(v: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        for (l, x) in lanes.iter_mut().zip(c) {
            *l += *x;
        }
    }
    lanes.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

thread_local! {
    /// Per-thread scratch for im2col blocks and gathered tiles, reused across calls (fresh
    /// buffers of a few hundred KB each cost page faults and zeroing every time).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on `len` floats of this thread's scratch (contents unspecified).
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < len {
            s.resize(len, 0.0);
        }
        f(&mut s[..len])
    })
}

/// `y = conv(x, weight) + bias`, all NCHW (weights `[o, c, kh, kw]`).
pub fn forward(g: &Geom, x: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f32> {
    forward_planned(g, g.plan(), x, weight, bias)
}

fn forward_planned(g: &Geom, plan: Plan, x: &[f32], weight: &[f32], bias: &[f32]) -> Vec<f32> {
    assert_eq!((x.len(), weight.len(), bias.len()), (g.in_len(), g.weight_len(), g.o), "conv forward: tensor sizes do not match {g:?}");
    let mut y = vec![0f32; g.out_len()];
    if y.is_empty() || g.k() == 0 {
        return y;
    }
    let (k, p) = (g.k(), g.p());
    if plan.direct {
        let packed = direct::pack_weights(g, weight);
        y.par_chunks_mut(plan.images * g.o * p).zip(x.par_chunks(plan.images * g.c * g.h * g.w)).for_each(|(y, x)| {
            let images = y.len() / (g.o * p);
            with_scratch(direct::padded_len(g, images), |xs| {
                direct::pad_split(g, x, images, xs);
                direct::forward(g, xs, images, &packed, bias, y);
            })
        });
        return y;
    }
    let max_cols = plan.rows * g.ow;
    let w = Mat::rows(weight, g.o, k);
    y.par_chunks_mut(plan.images * g.o * p).zip(x.par_chunks(plan.images * g.c * g.h * g.w)).for_each(|(y, x)| {
        let images = y.len() / (g.o * p);
        let split = if g.sw > 1 { g.split_len(images) } else { 0 };
        with_scratch((k + g.o) * max_cols + split, |scratch| {
            let (col, rest) = scratch.split_at_mut(k * max_cols);
            let (out, xs) = rest.split_at_mut(g.o * max_cols);
            let xs: &[f32] = if split > 0 {
                g.split(x, images, xs);
                xs
            } else {
                x
            };
            for (r0, r1, one_image) in g.tiles(plan, images) {
                let cols = (r1 - r0) * g.ow;
                let col = &mut col[..k * cols];
                g.im2col(xs, r0, r1, col);
                let col = Mat::rows(col, k, cols);
                let at = g.out_offset(r0);
                if one_image {
                    // The tile is a [o, cols] block of y with rows p apart: start from the
                    // bias and let the GEMM add into y directly.
                    for (oc, b) in bias.iter().enumerate() {
                        y[at + oc * p..at + oc * p + cols].fill(*b);
                    }
                    matmul(MatMut { data: &mut y[at..], rows: g.o, cols, row_stride: p, col_stride: 1 }, w, col, true);
                } else {
                    let out = &mut out[..g.o * cols];
                    matmul(MatMut::rows(out, g.o, cols), w, col, false);
                    for (i, r) in (r0..r1).enumerate() {
                        let at = g.out_offset(r);
                        for (oc, b) in bias.iter().enumerate() {
                            let src = &out[oc * cols + i * g.ow..][..g.ow];
                            for (d, s) in y[at + oc * p..][..g.ow].iter_mut().zip(src) {
                                *d = *s + *b;
                            }
                        }
                    }
                }
            }
        })
    });
    y
}

/// The gradients a backward pass computes; each is `None` when it was not asked for.
pub struct Grads {
    pub x: Option<Vec<f32>>,
    pub weight: Option<Vec<f32>>,
    pub bias: Option<Vec<f32>>,
}

/// Which gradients to compute.
#[derive(Clone, Copy, Debug)]
pub struct Wanted {
    pub x: bool,
    pub weight: bool,
    pub bias: bool,
}

/// The gradients of `sum(dy * (conv(x, weight) + bias))` with respect to `x`, `weight` and
/// `bias`.
pub fn backward(g: &Geom, x: &[f32], weight: &[f32], dy: &[f32], wanted: Wanted) -> Grads {
    backward_planned(g, g.plan(), x, weight, dy, wanted)
}

fn backward_planned(g: &Geom, plan: Plan, x: &[f32], weight: &[f32], dy: &[f32], wanted: Wanted) -> Grads {
    assert_eq!((x.len(), weight.len(), dy.len()), (g.in_len(), g.weight_len(), g.out_len()), "conv backward: tensor sizes do not match {g:?}");
    let mut dx = if wanted.x { vec![0f32; g.in_len()] } else { Vec::new() };
    let mut partials: Vec<(Vec<f32>, Vec<f32>)> = Vec::new();
    if g.out_len() > 0 && g.k() > 0 {
        let (in_task, out_task) = (plan.images * g.c * g.h * g.w, plan.images * g.o * g.p());
        let task = |(i, dx): (usize, &mut [f32])| {
            backward_task(g, plan, &x[i * in_task..], weight, &dy[i * out_task..(i * out_task + out_task).min(dy.len())], dx, wanted)
        };
        if wanted.x {
            dx.par_chunks_mut(in_task).enumerate().map(task).collect_into_vec(&mut partials);
        } else {
            let tasks = g.n.div_ceil(plan.images);
            (0..tasks).into_par_iter().map(|i| task((i, &mut []))).collect_into_vec(&mut partials);
        }
    }
    // The tasks' partial sums, added in task order.
    type Pick = fn(&(Vec<f32>, Vec<f32>)) -> &Vec<f32>;
    let total = |pick: Pick, len: usize| {
        let mut total = vec![0f32; len];
        for part in &partials {
            for (t, v) in total.iter_mut().zip(pick(part)) {
                *t += *v;
            }
        }
        total
    };
    let transpose = |kxo: Vec<f32>| -> Vec<f32> {
        let mut w = vec![0f32; kxo.len()];
        for (kk, row) in kxo.chunks_exact(g.o).enumerate() {
            for (oc, v) in row.iter().enumerate() {
                w[oc * g.k() + kk] = *v;
            }
        }
        w
    };
    Grads {
        x: wanted.x.then_some(dx),
        weight: wanted.weight.then(|| transpose(total(|p| &p.0, g.weight_len()))),
        bias: wanted.bias.then(|| total(|p| &p.1, g.o)),
    }
}

/// One task's share of [`backward`]: `dy` holds its images' output gradient, `dx` its images'
/// input gradient (empty when not wanted); returns its partial weight gradient (laid out
/// `[k, o]`) and bias gradient.
fn backward_task(g: &Geom, plan: Plan, x: &[f32], weight: &[f32], dy: &[f32], dx: &mut [f32], wanted: Wanted) -> (Vec<f32>, Vec<f32>) {
    let (k, p) = (g.k(), g.p());
    let images = dy.len() / (g.o * p);
    let mut dw = if wanted.weight { vec![0f32; g.o * k] } else { Vec::new() };
    let mut db = if wanted.bias { vec![0f32; g.o] } else { Vec::new() };
    if wanted.bias {
        for img in dy.chunks_exact(g.o * p) {
            for (b, plane) in db.iter_mut().zip(img.chunks_exact(p)) {
                *b += sum(plane);
            }
        }
    }
    // The weight gradient by the direct kernels reads the input padded and phase-split...
    let direct_w = wanted.weight && plan.direct;
    if direct_w {
        let padded = direct::padded_len(g, images);
        with_scratch(padded + direct::weight_grad_scratch(g, images), |scratch| {
            let (xs, rest) = scratch.split_at_mut(padded);
            direct::pad_split(g, x, images, xs);
            direct::weight_grad(g, xs, images, dy, &mut dw, rest);
        });
    }
    // ... the rest goes tile by tile: im2col and GEMM for the weight gradient, GEMM and col2im
    // for the input gradient.
    let im2col_w = wanted.weight && !plan.direct;
    if !im2col_w && !wanted.x {
        return (dw, db);
    }
    let max_cols = plan.rows * g.ow;
    // With a stride, x and dx are used in the phase-split layout (see Geom::split).
    let split = if g.sw > 1 { g.split_len(images) } else { 0 };
    let (split_x, split_dx) = (if im2col_w { split } else { 0 }, if wanted.x { split } else { 0 });
    with_scratch((k + g.o) * max_cols + split_x + split_dx, |scratch| {
        let (col, rest) = scratch.split_at_mut(k * max_cols);
        let (gathered, rest) = rest.split_at_mut(g.o * max_cols);
        let (xs, dxs) = rest.split_at_mut(split_x);
        let xs: &[f32] = if split_x > 0 {
            g.split(x, images, xs);
            xs
        } else {
            x
        };
        let mut run = |dxs: &mut [f32]| {
            for (r0, r1, one_image) in g.tiles(plan, images) {
                let cols = (r1 - r0) * g.ow;
                // The tile's output gradient as an [o, cols] matrix.
                let dyt = if one_image {
                    Mat { data: &dy[g.out_offset(r0)..], rows: g.o, cols, row_stride: p, col_stride: 1 }
                } else {
                    for (i, r) in (r0..r1).enumerate() {
                        let at = g.out_offset(r);
                        for oc in 0..g.o {
                            gathered[oc * cols + i * g.ow..][..g.ow].copy_from_slice(&dy[at + oc * p..][..g.ow]);
                        }
                    }
                    Mat::rows(&gathered[..g.o * cols], g.o, cols)
                };
                let col = &mut col[..k * cols];
                if im2col_w {
                    g.im2col(xs, r0, r1, col);
                    // dw is kept [k, o] (column-major [o, k]): then the GEMM reads the im2col
                    // block along its rows as they lie, where [o, k] would make it transpose
                    // the block.
                    matmul(MatMut::cols(&mut dw, g.o, k), dyt, Mat::rows(col, k, cols).t(), true);
                }
                if wanted.x {
                    matmul(MatMut::rows(col, k, cols), Mat::rows(weight, g.o, k).t(), dyt, false);
                    g.col2im(col, r0, r1, dxs);
                }
            }
        };
        if split_dx > 0 {
            dxs.fill(0.0);
            run(dxs);
            g.unsplit(dxs, images, dx);
        } else {
            run(dx);
        }
    });
    (dw, db)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The convolution by its definition.
    fn naive(g: &Geom, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
        let mut y = vec![0f32; g.out_len()];
        for n in 0..g.n {
            for o in 0..g.o {
                for oy in 0..g.oh {
                    for ox in 0..g.ow {
                        let mut acc = b[o] as f64;
                        for c in 0..g.c {
                            for ky in 0..g.kh {
                                for kx in 0..g.kw {
                                    let iy = (oy * g.sh + ky) as isize - g.pt as isize;
                                    let ix = (ox * g.sw + kx) as isize - g.pl as isize;
                                    if iy >= 0 && ix >= 0 && (iy as usize) < g.h && (ix as usize) < g.w {
                                        acc += x[((n * g.c + c) * g.h + iy as usize) * g.w + ix as usize] as f64
                                            * w[((o * g.c + c) * g.kh + ky) * g.kw + kx] as f64;
                                    }
                                }
                            }
                        }
                        y[((n * g.o + o) * g.oh + oy) * g.ow + ox] = acc as f32;
                    }
                }
            }
        }
        y
    }

    fn values(len: usize, seed: f32) -> Vec<f32> {
        (0..len).map(|i| ((i as f32 + seed) * 0.7548).sin()).collect()
    }

    fn close(a: &[f32], b: &[f32], what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: lengths");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{what}[{i}]: {x} vs {y}");
        }
    }

    /// Shapes with strides 1-3, asymmetric padding, chunks of several images and a last chunk
    /// with fewer images.
    fn shapes() -> Vec<Geom> {
        vec![
            Geom::new([3, 2, 9, 11], [4, 2, 3, 3], [1, 1], [0, 0, 0, 0]).unwrap(),
            Geom::new([5, 3, 13, 10], [6, 3, 5, 5], [2, 2], [0, 0, 0, 0]).unwrap(),
            Geom::new([7, 2, 6, 7], [3, 2, 3, 2], [2, 3], [1, 2, 2, 0]).unwrap(),
            Geom::new([2, 1, 4, 4], [2, 1, 3, 3], [1, 1], [1, 1, 1, 1]).unwrap(),
            // Rows of several vectors and more than one block of them (73 outputs), 7 output
            // channels (blocks of 6 and 4 leave remainders), a stride with padding (40 outputs).
            Geom::new([2, 3, 3, 75], [7, 3, 3, 3], [1, 1], [0, 0, 0, 0]).unwrap(),
            Geom::new([2, 2, 7, 80], [5, 2, 5, 5], [2, 2], [1, 2, 1, 2]).unwrap(),
        ]
    }

    /// The default plan and small ones whose tiles are single rows, or straddle images.
    fn plans(g: &Geom) -> Vec<Plan> {
        let mut plans = vec![g.plan()];
        for direct in [false, true].into_iter().filter(|&d| !d || direct::available()) {
            for (images, rows) in [(1, 1), (2, 3), (3, 2 * g.oh + 1), (g.n, 1000)] {
                plans.push(Plan { images, rows, direct });
            }
        }
        plans
    }

    #[test]
    fn forward_matches_the_definition() {
        for g in shapes() {
            let (x, w, b) = (values(g.in_len(), 1.0), values(g.weight_len(), 2.0), values(g.o, 3.0));
            let want = naive(&g, &x, &w, &b);
            for plan in plans(&g) {
                close(&forward_planned(&g, plan, &x, &w, &b), &want, &format!("{g:?} {plan:?}"));
            }
        }
    }

    /// The backward pass is the adjoint of the forward pass: for the linear map
    /// `F(x, w) = conv(x, w)`, `<dy, F(e, w)> = <grad_x, e>` for every unit vector `e`, and
    /// likewise for `w`, which pins every element of both gradients.
    #[test]
    fn backward_is_the_adjoint_of_forward() {
        let all = Wanted { x: true, weight: true, bias: true };
        for g in shapes() {
            let (x, w, dy) = (values(g.in_len(), 1.0), values(g.weight_len(), 2.0), values(g.out_len(), 3.0));
            let zero = vec![0f32; g.o];
            let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(a, b)| *a as f64 * *b as f64).sum::<f64>();
            let want_x: Vec<f64> = (0..g.in_len())
                .map(|i| {
                    let mut e = vec![0f32; g.in_len()];
                    e[i] = 1.0;
                    dot(&dy, &naive(&g, &e, &w, &zero))
                })
                .collect();
            let want_w: Vec<f64> = (0..g.weight_len())
                .map(|i| {
                    let mut e = vec![0f32; g.weight_len()];
                    e[i] = 1.0;
                    dot(&dy, &naive(&g, &x, &e, &zero))
                })
                .collect();
            let want_b: Vec<f64> =
                (0..g.o).map(|o| (0..g.n).map(|n| dy[(n * g.o + o) * g.p()..(n * g.o + o + 1) * g.p()].iter().map(|v| *v as f64).sum::<f64>()).sum()).collect();
            for plan in plans(&g) {
                let grads = backward_planned(&g, plan, &x, &w, &dy, all);
                for (what, got, want) in [("dx", grads.x.unwrap(), &want_x), ("dw", grads.weight.unwrap(), &want_w), ("db", grads.bias.unwrap(), &want_b)] {
                    for (i, (g_, w_)) in got.iter().zip(want.iter()).enumerate() {
                        assert!((*g_ as f64 - w_).abs() < 1e-3 * (1.0 + w_.abs()), "{g:?} {plan:?} {what}[{i}]: {g_} vs {w_}");
                    }
                }
            }
        }
    }

    #[test]
    fn only_the_wanted_gradients_are_computed() {
        let g = shapes()[1];
        let (x, w, dy) = (values(g.in_len(), 1.0), values(g.weight_len(), 2.0), values(g.out_len(), 3.0));
        let all = backward(&g, &x, &w, &dy, Wanted { x: true, weight: true, bias: true });
        let some = backward(&g, &x, &w, &dy, Wanted { x: false, weight: true, bias: false });
        assert!(some.x.is_none() && some.bias.is_none());
        assert_eq!(some.weight, all.weight);
    }

    #[test]
    fn plans_fill_tiles_within_the_cache_budget() {
        // PilotNet's five convolutions at batch 64.
        let layers = [
            ([64, 3, 66, 200], [24, 3, 5, 5], 2),
            ([64, 24, 31, 98], [36, 24, 5, 5], 2),
            ([64, 36, 14, 47], [48, 36, 5, 5], 2),
            ([64, 48, 5, 22], [64, 48, 3, 3], 1),
            ([64, 64, 3, 20], [64, 64, 3, 3], 1),
        ];
        for (x, w, s) in layers {
            let g = Geom::new(x, w, [s, s], [0; 4]).unwrap();
            let plan = g.plan();
            let cols = plan.rows * g.ow;
            assert!((128..=MAX_COLS).contains(&cols), "{g:?}: {cols} columns a tile");
            assert!(4 * g.k() * cols <= MAX_TILE_BYTES, "{g:?}: tile over the cache budget");
            assert!(g.n.div_ceil(plan.images) <= MAX_TASKS && g.n.div_ceil(plan.images) >= 4, "{g:?}: {plan:?}");
        }
    }
}
