//! Direct ("implicit GEMM") convolution kernels for AVX-512: the forward pass and the weight
//! gradient read the input where it lies, with no im2col block and no GEMM packing between.
//!
//! A task's input is first copied once into [`pad_split`]'s layout: zero padding added and
//! every row split into its `sw` phases, so that the input pixels one kernel tap reads for 16
//! consecutive outputs of a row are 16 consecutive floats. The kernels then hold a block of
//! outputs (6 channels x 64 pixels) or of weight gradients (6 taps x 64 channels, for one
//! output row) in the 32 vector registers and stream the taps or the pixels through them.
//!
//! Vectors run along output rows, so a row shorter than a multiple of 16 wastes lanes:
//! [`suits`] keeps these kernels to layers that use at least three quarters of them.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use super::conv::Geom;

/// Forward block: output channels (broadcast weights) and vectors of 16 output pixels.
const FWD_O: usize = 6;
const FWD_V: usize = 4;
/// Weight-gradient block: 24 vectors, as up to `DW_V` vectors of 16 output channels times
/// `DW_ROWS / vectors` kernel taps (im2col rows); `DW_ROWS` is a multiple of every tap count.
const DW_V: usize = 4;
const DW_ROWS: usize = 24;
/// Floats after the padded input, so that a vector read at the end of the last row stays in
/// the buffer (its extra lanes are never stored).
const SLACK: usize = 16;

/// Whether this CPU runs the kernels.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the kernels suit the layer: AVX-512, and output rows that fill at least three
/// quarters of the 16-lane vectors they are cut into.
pub fn suits(g: &Geom) -> bool {
    available() && 4 * g.ow >= 3 * 16 * g.ow.div_ceil(16)
}

/// The layout of [`pad_split`]: per image and channel `hp` rows, each as `sw` phase rows of
/// `wq` floats.
#[derive(Clone, Copy, Debug)]
struct Layout {
    hp: usize,
    wq: usize,
}

impl Layout {
    fn of(g: &Geom) -> Layout {
        // The rows and columns the kernel reaches, padding included.
        let (hp, wp) = ((g.oh - 1) * g.sh + g.kh, (g.ow - 1) * g.sw + g.kw);
        Layout { hp, wq: wp.div_ceil(g.sw) }
    }

    fn plane(&self, g: &Geom) -> usize {
        self.hp * g.sw * self.wq
    }

    /// Offset of kernel tap `(ci, ky, kx)` from the first input an output row reads.
    fn tap(&self, g: &Geom, ci: usize, ky: usize, kx: usize) -> usize {
        ((ci * self.hp + ky) * g.sw + kx % g.sw) * self.wq + kx / g.sw
    }

    /// Offset of the first input output row `oy` of image `i` reads.
    fn row(&self, g: &Geom, i: usize, oy: usize) -> usize {
        i * g.c * self.plane(g) + oy * g.sh * g.sw * self.wq
    }
}

/// Floats [`pad_split`] writes for `images` images.
pub fn padded_len(g: &Geom, images: usize) -> usize {
    images * g.c * Layout::of(g).plane(g) + SLACK
}

/// Copies `images` NCHW images into `out` (`padded_len` floats): zero padding added, each row
/// split into its `sw` phases (`out[img][c][y][phase][j] = x[img][c][y - pt][j * sw + phase - pl]`).
pub fn pad_split(g: &Geom, x: &[f32], images: usize, out: &mut [f32]) {
    let l = Layout::of(g);
    assert!(x.len() >= images * g.c * g.h * g.w && out.len() == padded_len(g, images), "pad_split: buffer sizes");
    out.fill(0.0);
    for plane in 0..images * g.c {
        for yp in 0..l.hp {
            let Some(iy) = yp.checked_sub(g.pt).filter(|&iy| iy < g.h) else { continue };
            let src = &x[(plane * g.h + iy) * g.w..][..g.w];
            for ph in 0..g.sw {
                // Phase columns j whose input column j * sw + ph - pl lies in 0..w.
                let lo = g.pl.saturating_sub(ph).div_ceil(g.sw);
                let hi = if g.w + g.pl > ph { (g.w + g.pl - ph).div_ceil(g.sw).min(l.wq) } else { 0 };
                if lo >= hi {
                    continue;
                }
                let dst = &mut out[((plane * l.hp + yp) * g.sw + ph) * l.wq..][lo..hi];
                let first = lo * g.sw + ph - g.pl;
                gather(dst, &src[first..], g.sw);
            }
        }
    }
}

/// `dst[j] = src[j * stride]`.
fn gather(dst: &mut [f32], src: &[f32], stride: usize) {
    if stride == 1 {
        dst.copy_from_slice(&src[..dst.len()]);
    } else {
        for (d, s) in dst.iter_mut().zip(src.iter().step_by(stride)) {
            *d = *s;
        }
    }
}

/// Weights `[o, c, kh, kw]` as blocks of [`FWD_O`] output channels, `[block][k][FWD_O]`, the
/// missing channels of the last block zero.
pub fn pack_weights(g: &Geom, weight: &[f32]) -> Vec<f32> {
    let k = g.k();
    let blocks = g.o.div_ceil(FWD_O);
    let mut packed = vec![0f32; blocks * k * FWD_O];
    for (oc, row) in weight.chunks_exact(k).enumerate() {
        let (b, r) = (oc / FWD_O, oc % FWD_O);
        for (kk, w) in row.iter().enumerate() {
            packed[(b * k + kk) * FWD_O + r] = *w;
        }
    }
    packed
}

/// The offset of every tap, in im2col row order `(ci, ky, kx)`.
fn taps(g: &Geom, l: &Layout) -> Vec<usize> {
    let mut taps = Vec::with_capacity(g.k());
    for ci in 0..g.c {
        for ky in 0..g.kh {
            for kx in 0..g.kw {
                taps.push(l.tap(g, ci, ky, kx));
            }
        }
    }
    taps
}

/// `y = conv(x, weight) + bias` for one task: `xs` from [`pad_split`], `packed` from
/// [`pack_weights`], `y` the task's `[images, o, oh, ow]` output.
pub fn forward(g: &Geom, xs: &[f32], images: usize, packed: &[f32], bias: &[f32], y: &mut [f32]) {
    let (l, k, p) = (Layout::of(g), g.k(), g.p());
    assert!(available(), "direct kernels need AVX-512");
    assert!(xs.len() == padded_len(g, images) && y.len() == images * g.o * p, "direct forward: buffer sizes");
    assert!(packed.len() == g.o.div_ceil(FWD_O) * k * FWD_O && bias.len() == g.o, "direct forward: weight sizes");
    let taps = taps(g, &l);
    for i in 0..images {
        for oy in 0..g.oh {
            let row = l.row(g, i, oy);
            for ox in (0..g.ow).step_by(16 * FWD_V) {
                let vectors = (g.ow - ox).div_ceil(16).min(FWD_V);
                let tail = g.ow - ox - 16 * (vectors - 1);
                for b in 0..g.o.div_ceil(FWD_O) {
                    let rows = FWD_O.min(g.o - b * FWD_O);
                    let at = (i * g.o + b * FWD_O) * p + oy * g.ow + ox;
                    // The block's reads: every tap's 16 * vectors floats from `row + ox`; its
                    // writes: `rows` output rows p apart, `16 * (vectors - 1) + tail` each.
                    debug_assert!(row + ox + taps.iter().max().unwrap_or(&0) + 16 * vectors <= xs.len());
                    debug_assert!(at + (rows - 1) * p + 16 * (vectors - 1) + tail <= y.len());
                    // SAFETY: AVX-512F is present (asserted above); the reads stay in `xs`: the
                    // last tap's last vector ends at most 15 floats past the plane's last row,
                    // inside SLACK; the writes are the block's own outputs, masked to `tail`.
                    #[cfg(target_arch = "x86_64")]
                    unsafe {
                        forward_block(
                            rows,
                            vectors,
                            xs.as_ptr().add(row + ox),
                            &taps,
                            packed.as_ptr().add(b * k * FWD_O),
                            y.as_mut_ptr().add(at),
                            p,
                            &bias[b * FWD_O..b * FWD_O + rows],
                            tail,
                        )
                    }
                }
            }
        }
    }
}

/// Runs the forward kernel for a block of `rows` channels and `vectors` pixel vectors.
///
/// # Safety
/// AVX-512F; `x + taps[t] + 16 * vectors` readable for every tap, `packed` holding
/// `taps.len() * FWD_O` floats, `y + r * y_stride + 16 * (vectors - 1) + tail` writable for
/// `r < rows`.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
unsafe fn forward_block(
    rows: usize,
    vectors: usize,
    x: *const f32,
    taps: &[usize],
    packed: *const f32,
    y: *mut f32,
    y_stride: usize,
    bias: &[f32],
    tail: usize,
) {
    macro_rules! run {
        ($($r:literal),*; $($v:literal),*) => {
            run!(@rows [$($r),*] [$($v),*])
        };
        (@rows [$($r:literal),*] $vs:tt) => {
            match rows {
                $($r => run!(@vectors $r $vs),)*
                _ => unreachable!("1 to FWD_O rows"),
            }
        };
        (@vectors $r:literal [$($v:literal),*]) => {
            match vectors {
                $($v => forward_kernel::<$r, $v>(x, taps, packed, y, y_stride, bias, tail),)*
                _ => unreachable!("1 to FWD_V vectors"),
            }
        };
    }
    // SAFETY: the caller's contract, passed on.
    unsafe { run!(1, 2, 3, 4, 5, 6; 1, 2, 3, 4) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn forward_kernel<const R: usize, const V: usize>(
    x: *const f32,
    taps: &[usize],
    packed: *const f32,
    y: *mut f32,
    y_stride: usize,
    bias: &[f32],
    tail: usize,
) {
    let mut acc = [[_mm512_setzero_ps(); V]; R];
    for (kk, &tap) in taps.iter().enumerate() {
        let src = x.add(tap);
        let mut b = [_mm512_setzero_ps(); V];
        for (j, b) in b.iter_mut().enumerate() {
            *b = _mm512_loadu_ps(src.add(16 * j));
        }
        let w = packed.add(kk * FWD_O);
        for (r, acc) in acc.iter_mut().enumerate() {
            let a = _mm512_set1_ps(*w.add(r));
            for (acc, b) in acc.iter_mut().zip(&b) {
                *acc = _mm512_fmadd_ps(a, *b, *acc);
            }
        }
    }
    let tail_mask: __mmask16 = if tail >= 16 { 0xffff } else { (1u16 << tail) - 1 };
    for (r, acc) in acc.iter().enumerate() {
        let bias = _mm512_set1_ps(bias[r]);
        let out = y.add(r * y_stride);
        for (j, acc) in acc.iter().enumerate() {
            let v = _mm512_add_ps(*acc, bias);
            if j + 1 < V {
                _mm512_storeu_ps(out.add(16 * j), v);
            } else {
                _mm512_mask_storeu_ps(out.add(16 * j), tail_mask, v);
            }
        }
    }
}

/// Adds one task's weight gradient to `dw` (laid out `[k, o]`): `xs` from [`pad_split`], `dy`
/// the task's `[images, o, oh, ow]` output gradient, `scratch` at least [`weight_grad_scratch`]
/// floats.
///
/// The kernel broadcasts input values and runs its vectors along output channels, as the
/// forward kernel does along pixels: `dw[k][o..o + 16] += x[k][p] * dy[p][o..o + 16]` for every
/// pixel `p`. So `dy` is first transposed to `[pixel][channel]` (channels padded to a multiple
/// of 16), and the kernel keeps a block of 24 `dw` vectors in registers over one output row.
pub fn weight_grad(g: &Geom, xs: &[f32], images: usize, dy: &[f32], dw: &mut [f32], scratch: &mut [f32]) {
    let (l, k, p) = (Layout::of(g), g.k(), g.p());
    let (op, kp) = (g.o.next_multiple_of(16), k.next_multiple_of(DW_ROWS));
    assert!(available(), "direct kernels need AVX-512");
    assert!(xs.len() == padded_len(g, images) && dy.len() == images * g.o * p && dw.len() == k * g.o, "direct weight gradient: buffer sizes");
    assert!(scratch.len() >= weight_grad_scratch(g, images), "direct weight gradient: scratch size");
    let (dyt, acc) = scratch.split_at_mut(images * p * op);
    let acc = &mut acc[..kp * op];
    for (img, out) in dy.chunks_exact(g.o * p).zip(dyt.chunks_exact_mut(p * op)) {
        for (px, out) in out.chunks_exact_mut(op).enumerate() {
            for (oc, v) in out[..g.o].iter_mut().enumerate() {
                *v = img[oc * p + px];
            }
            out[g.o..].fill(0.0);
        }
    }
    acc.fill(0.0);
    // Taps past k (to fill the last block) read the first input and land in rows past k.
    let mut taps = taps(g, &l);
    taps.resize(kp, 0);
    for i in 0..images {
        for oy in 0..g.oh {
            let x_row = l.row(g, i, oy);
            let dy_row = (i * p + oy * g.ow) * op;
            for o0 in (0..op).step_by(16 * DW_V) {
                let vectors = ((op - o0) / 16).min(DW_V);
                let rows = DW_ROWS / vectors;
                for k0 in (0..kp).step_by(rows) {
                    // SAFETY: AVX-512F is present (asserted above). The kernel reads
                    // `xs[x_row + tap + ox]` for the block's taps and ox < ow, inside the
                    // plane (a tap plus an output row never passes the padded width); reads
                    // `dyt[dy_row + ox * op + o0..][..16 * vectors]` for ox < ow, inside the
                    // row's ow pixels of op channels; and adds to `acc[(k0 + t) * op + o0..]`
                    // for t < rows (k0 + rows <= kp, rows of op floats).
                    #[cfg(target_arch = "x86_64")]
                    unsafe {
                        weight_grad_block(
                            vectors,
                            xs.as_ptr().add(x_row),
                            &taps[k0..k0 + rows],
                            dyt.as_ptr().add(dy_row + o0),
                            op,
                            g.ow,
                            acc.as_mut_ptr().add(k0 * op + o0),
                        )
                    }
                }
            }
        }
    }
    for (dw, acc) in dw.chunks_exact_mut(g.o).zip(acc.chunks_exact(op)) {
        for (d, a) in dw.iter_mut().zip(acc) {
            *d += *a;
        }
    }
}

/// Floats of scratch [`weight_grad`] needs.
pub fn weight_grad_scratch(g: &Geom, images: usize) -> usize {
    let op = g.o.next_multiple_of(16);
    images * g.p() * op + g.k().next_multiple_of(DW_ROWS) * op
}

/// Runs the weight-gradient kernel for `vectors` channel vectors (and `DW_ROWS / vectors` taps).
///
/// # Safety
/// As [`weight_grad`] sets up.
#[cfg(target_arch = "x86_64")]
unsafe fn weight_grad_block(vectors: usize, x: *const f32, taps: &[usize], dyt: *const f32, op: usize, ow: usize, acc: *mut f32) {
    // SAFETY: the caller's contract, passed on.
    unsafe {
        match vectors {
            1 => weight_grad_kernel::<24, 1>(x, taps, dyt, op, ow, acc),
            2 => weight_grad_kernel::<12, 2>(x, taps, dyt, op, ow, acc),
            3 => weight_grad_kernel::<8, 3>(x, taps, dyt, op, ow, acc),
            4 => weight_grad_kernel::<6, 4>(x, taps, dyt, op, ow, acc),
            _ => unreachable!("1 to DW_V vectors"),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn weight_grad_kernel<const T: usize, const V: usize>(x: *const f32, taps: &[usize], dyt: *const f32, op: usize, ow: usize, acc_out: *mut f32) {
    let mut tap = [0usize; T];
    tap.copy_from_slice(&taps[..T]);
    let mut acc = [[_mm512_setzero_ps(); V]; T];
    #[allow(clippy::needless_range_loop)] // constant bounds: unrolled, in registers
    for t in 0..T {
        for j in 0..V {
            acc[t][j] = _mm512_loadu_ps(acc_out.add(t * op + 16 * j));
        }
    }
    for ox in 0..ow {
        let dy = dyt.add(ox * op);
        let mut b = [_mm512_setzero_ps(); V];
        #[allow(clippy::needless_range_loop)]
        for j in 0..V {
            b[j] = _mm512_loadu_ps(dy.add(16 * j));
        }
        #[allow(clippy::needless_range_loop)]
        for t in 0..T {
            let a = _mm512_set1_ps(*x.add(tap[t] + ox));
            for j in 0..V {
                acc[t][j] = _mm512_fmadd_ps(a, b[j], acc[t][j]);
            }
        }
    }
    #[allow(clippy::needless_range_loop)]
    for t in 0..T {
        for j in 0..V {
            _mm512_storeu_ps(acc_out.add(t * op + 16 * j), acc[t][j]);
        }
    }
}
