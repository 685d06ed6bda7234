//! Writes a random-weight model of MobileNet-style depthwise-separable blocks (3x3 depthwise,
//! "same" padding, stride 1 and 2, each followed by its 1x1 convolution), to measure what the
//! chip's kernels cost per layer in QEMU.
//!
//! ```sh
//! cargo run --release -p kernels --example depthwise_blocks -- /tmp/dw.pnn8
//! cd firmware && PILOT_MODEL=/tmp/dw.pnn8 cargo run --release   # per-layer instructions per MAC
//! ```
//!
//! The network: a 48x16 RGB input (from a 96x32 frame), conv 3x3 to 16 channels, then
//! depthwise 3x3 s1 on 16x48x16 + 1x1 to 32, depthwise 3x3 s2 on 16x48x32 (to 8x24x32) + 1x1
//! to 32, depthwise 3x3 s1 on 8x24x32 + 1x1 to 64, depthwise 3x3 s2 (to 4x12x64) + 1x1 to 64,
//! flatten, dense 1. Tables are realistic (ReLU outputs at zero point -128, small multipliers),
//! so the kernels see the values and take the paths a trained model would.

use common::format::{InputSpec, Padding, Pads, QParams, Task, Window};
use common::preprocess::{ColorMode, PixelFormat, Preprocess, Rect};
use common::testing::{ModelBuilder, Rng, Tables};
use common::Shape;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, force) = match args.as_slice() {
        [p] => (p.clone(), false),
        [p, f] if f == "--force" => (p.clone(), true),
        _ => {
            eprintln!("usage: depthwise_blocks OUT.pnn8 [--force]\n  writes the measurement model (see the example's documentation)");
            std::process::exit(2);
        }
    };
    if std::path::Path::new(&path).exists() && !force {
        eprintln!("{path} exists: pass --force to replace it");
        std::process::exit(1);
    }
    let pp = Preprocess { frame_w: 96, frame_h: 32, format: PixelFormat::Rgb888, crop: Rect { x: 0, y: 0, w: 96, h: 32 }, color: ColorMode::Rgb };
    let input = InputSpec { shape: Shape::new(16, 48, 3), quant: QParams { scale_exp: -7, zero_point: 0 }, preprocess: Some(pp) };
    let mut b = ModelBuilder::new("depthwise-blocks", Task::Regression, input, Rng::new(0xD3E7), Tables::Realistic);
    let same = |s: Shape, st: u8| Window::padded(Padding::Same, s.h, s.w, (3, 3), (st, st));
    let pointwise = Window::square(1, 1, Pads::default());
    let s = b.shape();
    b.conv(16, same(s, 1), true);
    for (stride, out) in [(1, 32), (2, 32), (1, 64), (2, 64)] {
        let s = b.shape();
        b.depthwise(same(s, stride), true);
        b.conv(out, pointwise, true);
    }
    b.flatten();
    b.dense(1, false);
    let bytes = b.build().to_bytes();
    let model = common::Model::parse(&bytes).expect("the builder writes valid models");
    std::fs::write(&path, &bytes).unwrap_or_else(|e| {
        eprintln!("cannot write {path}: {e}");
        std::process::exit(1);
    });
    let macs: u64 = (0..model.layers().len()).map(|i| model.layers()[i].layer.macs(model.tensor(i).shape, model.tensor(i + 1).shape)).sum();
    println!("{path}: {} bytes, {} layers, {macs} MACs", bytes.len(), model.layers().len());
}
