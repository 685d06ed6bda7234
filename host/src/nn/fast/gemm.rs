//! A safe, single-threaded `C (+)= A x B` on strided f32 matrices, over the `gemm` crate (which
//! picks AVX-512, AVX2 or scalar kernels at run time). The callers parallelize over images.

/// A read-only strided matrix view: element `(r, c)` is `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> Mat<'a> {
    /// A row-major `rows x cols` matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Mat<'a> {
        Mat { data, rows, cols, row_stride: cols, col_stride: 1 }
    }

    /// The transpose of this view (no copy).
    pub fn t(self) -> Mat<'a> {
        Mat { data: self.data, rows: self.cols, cols: self.rows, row_stride: self.col_stride, col_stride: self.row_stride }
    }

    fn last_index(&self) -> usize {
        (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
    }
}

/// A writable strided matrix view: element `(r, c)` is `data[r * row_stride + c * col_stride]`.
pub struct MatMut<'a> {
    pub data: &'a mut [f32],
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> MatMut<'a> {
    /// A row-major `rows x cols` matrix.
    pub fn rows(data: &'a mut [f32], rows: usize, cols: usize) -> MatMut<'a> {
        MatMut { data, rows, cols, row_stride: cols, col_stride: 1 }
    }

    /// A column-major `rows x cols` matrix.
    pub fn cols(data: &'a mut [f32], rows: usize, cols: usize) -> MatMut<'a> {
        MatMut { data, rows, cols, row_stride: 1, col_stride: rows }
    }
}

/// `dst = a x b`, or `dst += a x b` with `accumulate`.
pub fn matmul(dst: MatMut, a: Mat, b: Mat, accumulate: bool) {
    assert_eq!(a.cols, b.rows, "inner dimensions differ");
    assert_eq!((dst.rows, dst.cols), (a.rows, b.cols), "destination shape");
    let (m, n, k) = (a.rows, b.cols, a.cols);
    if m == 0 || n == 0 {
        return;
    }
    assert!((m - 1) * dst.row_stride + (n - 1) * dst.col_stride < dst.data.len(), "destination view out of bounds");
    if k == 0 {
        if !accumulate {
            for r in 0..m {
                for c in 0..n {
                    dst.data[r * dst.row_stride + c * dst.col_stride] = 0.0;
                }
            }
        }
        return;
    }
    // The bounds checks that make the raw call below sound.
    assert!(a.last_index() < a.data.len() && b.last_index() < b.data.len(), "matrix view out of bounds");
    // SAFETY: every index the kernel touches is inside its slice (checked just above), `dst`
    // does not alias `a` or `b` (a `&mut` and two `&` borrows), and the views' sizes agree.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            dst.col_stride as isize,
            dst.row_stride as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: Mat, b: Mat) -> Vec<f32> {
        let mut out = vec![0f32; a.rows * b.cols];
        for r in 0..a.rows {
            for c in 0..b.cols {
                out[r * b.cols + c] = (0..a.cols).map(|i| a.data[r * a.row_stride + i * a.col_stride] * b.data[i * b.row_stride + c * b.col_stride]).sum();
            }
        }
        out
    }

    #[test]
    fn matches_the_naive_product_with_transposed_views_and_accumulation() {
        let a: Vec<f32> = (0..35).map(|i| (i as f32 * 0.37).sin()).collect(); // 5 x 7
        let b: Vec<f32> = (0..77).map(|i| (i as f32 * 0.11).cos()).collect(); // 11 x 7, used transposed
        let (a, b) = (Mat::rows(&a, 5, 7), Mat::rows(&b, 11, 7).t());
        let want = naive(a, b);
        let mut got = vec![9.0; 55];
        matmul(MatMut::rows(&mut got, 5, 11), a, b, false);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-5, "{g} vs {w}");
        }
        matmul(MatMut::rows(&mut got, 5, 11), a, b, true);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - 2.0 * w).abs() < 1e-5, "{g} vs 2 x {w}");
        }
    }

    #[test]
    fn writes_only_the_strided_destination_rows() {
        let a: Vec<f32> = (0..6).map(|i| i as f32).collect(); // 2 x 3
        let b: Vec<f32> = (0..12).map(|i| 1.0 / (1 + i) as f32).collect(); // 3 x 4
        let (a, b) = (Mat::rows(&a, 2, 3), Mat::rows(&b, 3, 4));
        let want = naive(a, b);
        // Rows 7 apart: the 3 elements after each row must stay untouched.
        let mut dst = vec![-1.0; 11];
        matmul(MatMut { data: &mut dst, rows: 2, cols: 4, row_stride: 7, col_stride: 1 }, a, b, false);
        for r in 0..2 {
            for c in 0..4 {
                assert!((dst[r * 7 + c] - want[r * 4 + c]).abs() < 1e-6);
            }
        }
        assert_eq!(&dst[4..7], &[-1.0; 3]);
        // Column-major.
        let mut dst = vec![-1.0; 8];
        matmul(MatMut::cols(&mut dst, 2, 4), a, b, false);
        for r in 0..2 {
            for c in 0..4 {
                assert!((dst[c * 2 + r] - want[r * 4 + c]).abs() < 1e-6);
            }
        }
    }
}

#[cfg(test)]
mod tmp_speed {
    use super::*;
    #[test]
    #[ignore]
    fn tmp_gemm_speed() {
        for &(m, n, k) in &[(1024usize, 1024usize, 1024usize), (36, 188, 600), (24, 1024, 75), (600, 188, 36), (36, 600, 188)] {
            let a = vec![1.0f32; m * k];
            let b = vec![1.0f32; k * n];
            let mut c = vec![0f32; m * n];
            let reps = (2_000_000_000 / (2 * m * n * k)).max(3);
            matmul(MatMut::rows(&mut c, m, n), Mat::rows(&a, m, k), Mat::rows(&b, k, n), false);
            let t = std::time::Instant::now();
            let c0 = crate::nn::fast::layers::cpu_ms();
            for _ in 0..reps {
                matmul(MatMut::rows(&mut c, m, n), Mat::rows(&a, m, k), Mat::rows(&b, k, n), false);
            }
            let cpu = crate::nn::fast::layers::cpu_ms() - c0;
            let fl = 2.0 * (m * n * k * reps) as f64;
            println!("{m}x{n}x{k}: wall {:.1} GFLOP/s, cpu {:.1} GFLOP/s", fl / t.elapsed().as_secs_f64() / 1e9, fl / cpu / 1e6);
        }
    }
}
