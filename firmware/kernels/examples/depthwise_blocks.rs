//! Writes a random-weight model of MobileNet-style depthwise-separable blocks (3x3 depthwise,
//! "same" padding, stride 1 and 2, each followed by its 1x1 convolution): to measure what the
//! chip's kernels cost per layer in QEMU, and to check the whole chain (reference, ONNX in
//! tract and onnxruntime, firmware) on real camera frames.
//!
//! ```sh
//! cargo run --release -p kernels --example depthwise_blocks -- /tmp/dw.pnn8
//! cd firmware && PILOT_MODEL=/tmp/dw.pnn8 cargo run --release   # per-layer instructions per MAC
//! cargo run --release -p kernels --example depthwise_blocks -- /tmp/dwr.pnn8 --tables random
//! ```
//!
//! The network: the Udacity simulator's 320x160 RGB888 frame, rows 60..140 resized to a 48x16
//! YUV input, conv 3x3 to 16 channels, then depthwise 3x3 s1 on 16x48x16 + 1x1 to 32,
//! depthwise 3x3 s2 on 16x48x32 (to 8x24x32) + 1x1 to 32, depthwise 3x3 s1 on 8x24x32 + 1x1 to
//! 64, depthwise 3x3 s2 (to 4x12x64) + 1x1 to 64, flatten, dense 1. By default the tables are
//! realistic (ReLU outputs at zero point -128, small multipliers), so the kernels see the
//! values and take the paths a trained model would; `--tables random` draws any valid ones
//! (random zero points, multipliers up to 2^17), the harder case for bit-exactness.
//! `--no-head` ends the model at its second depthwise layer (stride 2, 8x24x32), so that a
//! depthwise layer's whole output is the model's (what `pilot verify --dump` writes for other
//! runtimes to compare), before random weights have flattened the activations.

use common::format::{InputSpec, Padding, Pads, QParams, Task, Window};
use common::preprocess::{ColorMode, PixelFormat, Preprocess, Rect};
use common::testing::{ModelBuilder, Rng, Tables};
use common::Shape;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut path, mut force, mut tables, mut head) = (None, false, Tables::Realistic, true);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--force" => force = true,
            "--no-head" => head = false,
            "--tables" => match args.next().as_deref() {
                Some("realistic") => tables = Tables::Realistic,
                Some("random") => tables = Tables::Random { max_multiplier: 1 << 17 },
                other => usage(&format!("--tables takes realistic or random, got {other:?}")),
            },
            p if path.is_none() && !p.starts_with('-') => path = Some(p.to_string()),
            other => usage(&format!("unexpected argument {other}")),
        }
    }
    let Some(path) = path else { usage("no output path") };
    if std::path::Path::new(&path).exists() && !force {
        eprintln!("{path} exists: pass --force to replace it");
        std::process::exit(1);
    }
    let pp = Preprocess { frame_w: 320, frame_h: 160, format: PixelFormat::Rgb888, crop: Rect { x: 0, y: 60, w: 320, h: 80 }, color: ColorMode::Yuv };
    let input = InputSpec { shape: Shape::new(16, 48, 3), quant: QParams { scale_exp: -7, zero_point: 0 }, preprocess: Some(pp) };
    let mut b = ModelBuilder::new("depthwise-blocks", Task::Regression, input, Rng::new(0xD3E7), tables);
    let same = |s: Shape, st: u8| Window::padded(Padding::Same, s.h, s.w, (3, 3), (st, st));
    let pointwise = Window::square(1, 1, Pads::default());
    let s = b.shape();
    b.conv(16, same(s, 1), true);
    for (i, (stride, out)) in [(1, 32), (2, 32), (1, 64), (2, 64)].into_iter().enumerate() {
        let s = b.shape();
        b.depthwise(same(s, stride), true);
        if !head && i == 1 {
            break;
        }
        b.conv(out, pointwise, true);
    }
    if head {
        b.flatten();
        b.dense(1, false);
    }
    let bytes = b.build().to_bytes();
    let model = common::Model::parse(&bytes).expect("the builder writes valid models");
    std::fs::write(&path, &bytes).unwrap_or_else(|e| {
        eprintln!("cannot write {path}: {e}");
        std::process::exit(1);
    });
    let macs: u64 = (0..model.layers().len()).map(|i| model.layers()[i].layer.macs(model.tensor(i).shape, model.tensor(i + 1).shape)).sum();
    println!("{path}: {} bytes, {} layers, {macs} MACs", bytes.len(), model.layers().len());
}

fn usage(problem: &str) -> ! {
    eprintln!("depthwise_blocks: {problem}\nusage: depthwise_blocks OUT.pnn8 [--tables realistic|random] [--no-head] [--force]\n  writes the model of the example's documentation");
    std::process::exit(2);
}
