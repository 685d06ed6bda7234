//! Per-layer timings of our convolution kernels on a network's shapes (what `pilot bench train
//! --layers` prints): forward, input gradient and weight gradient, each alone.

use std::time::Instant;

use crate::nn::spec::{Resolved, ResolvedLayer};

use super::conv::{self, Geom, Wanted};

/// Wall-clock and CPU milliseconds of one pass over a batch (medians of the repeats). On a
/// machine shared with other work the CPU time is the steadier number.
#[derive(Clone, Copy, Debug)]
pub struct Ms {
    pub wall: f64,
    pub cpu: f64,
}

/// One convolution's timings.
#[derive(Clone, Debug)]
pub struct LayerTiming {
    pub geom: Geom,
    pub forward: Ms,
    pub input_grad: Ms,
    pub weight_grad: Ms,
}

impl LayerTiming {
    /// Multiply-accumulates of one pass over the batch.
    pub fn macs(&self) -> f64 {
        (self.geom.n * self.geom.o * self.geom.p() * self.geom.k()) as f64
    }
}

/// Times every convolution of `layers` at batch `n`, `repeats` times each.
pub fn time_convolutions(layers: &[ResolvedLayer], n: usize, repeats: usize) -> Vec<LayerTiming> {
    layers
        .iter()
        .filter_map(|l| match &l.layer {
            Resolved::Conv2d { filters, kernel, stride, pads } => {
                let (i, k, s) = (l.input, *kernel as usize, *stride as usize);
                let pads = [pads.top, pads.left, pads.bottom, pads.right].map(|p| p as usize);
                Geom::new([n, i.c as usize, i.h as usize, i.w as usize], [*filters as usize, i.c as usize, k, k], [s, s], pads)
            }
            _ => None,
        })
        .map(|g| time_one(g, repeats.max(1)))
        .collect()
}

fn time_one(g: Geom, repeats: usize) -> LayerTiming {
    let values = |len: usize, seed: f32| -> Vec<f32> { (0..len).map(|i| ((i as f32 + seed) * 0.618).sin()).collect() };
    let (x, w, b, dy) = (values(g.in_len(), 1.0), values(g.weight_len(), 2.0), values(g.o, 3.0), values(g.out_len(), 4.0));
    let median_ms = |f: &mut dyn FnMut()| {
        f(); // warm-up: scratch buffers, caches
        let (mut wall, mut cpu): (Vec<f64>, Vec<f64>) = (0..repeats)
            .map(|_| {
                let (start, cpu_start) = (Instant::now(), cpu_ms());
                f();
                (start.elapsed().as_secs_f64() * 1e3, cpu_ms() - cpu_start)
            })
            .unzip();
        wall.sort_by(f64::total_cmp);
        cpu.sort_by(f64::total_cmp);
        Ms { wall: wall[wall.len() / 2], cpu: cpu[cpu.len() / 2] }
    };
    let only_x = Wanted { x: true, weight: false, bias: false };
    let only_w = Wanted { x: false, weight: true, bias: true };
    LayerTiming {
        geom: g,
        forward: median_ms(&mut || drop(std::hint::black_box(conv::forward(&g, &x, &w, &b)))),
        input_grad: median_ms(&mut || drop(std::hint::black_box(conv::backward(&g, &x, &w, &dy, only_x)))),
        weight_grad: median_ms(&mut || drop(std::hint::black_box(conv::backward(&g, &x, &w, &dy, only_w)))),
    }
}

/// CPU time of this process so far (all threads, user and system), in milliseconds.
pub fn cpu_ms() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    ms(usage.ru_utime) + ms(usage.ru_stime)
}
