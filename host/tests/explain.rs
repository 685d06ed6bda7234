//! `pilot explain`: VisualBackProp finds what a network responds to, on the int8 blob and on a
//! float network, and an explain run writes its pictures, GIF and CSV.

use std::path::Path;

use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use common::format::owned::{OwnedConv, OwnedDense, OwnedLayer, OwnedModel, OwnedNode};
use common::format::{InputSpec, Pads, QParams, Task, Window};
use common::preprocess::{ColorMode, PixelFormat, Preprocess, Rect};
use common::Shape;
use host::explain::run::{png_name, run, Options, Source, CSV_FILE, GIF_FILE};
use host::explain::{Explainer, FloatExplainer, Int8Explainer};
use host::nn::net::{Block, Net};
use host::nn::spec::NetSpec;
use host::train::infer_device;

const W: usize = 32;
const H: usize = 16;

/// A 32x16 frame, vertical stripes (2 px light, 2 px dark) in the left half and horizontal
/// stripes in the right half: the same texture, turned.
fn halves() -> Vec<u8> {
    let mut rgb = Vec::with_capacity(W * H * 3);
    for y in 0..H {
        for x in 0..W {
            let light = if x < W / 2 { (x / 2) % 2 == 0 } else { (y / 2) % 2 == 0 };
            let v = if light { 230 } else { 20 };
            rgb.extend([v, v, v]);
        }
    }
    rgb
}

fn preprocess() -> Preprocess {
    Preprocess {
        frame_w: W as u16,
        frame_h: H as u16,
        format: PixelFormat::Rgb888,
        crop: Rect { x: 0, y: 0, w: W as u16, h: H as u16 },
        color: ColorMode::Gray,
    }
}

/// 3x3 weights of a detector of intensity changes across x (`across_x`: it sees vertical
/// stripes and is blind to horizontal ones) or across y; OHWI with one channel.
fn edge_kernel(across_x: bool) -> Vec<i8> {
    let k = [-1i8, 2, -1];
    (0..9).map(|i| if across_x { k[i % 3] } else { k[i / 3] }).collect()
}

/// conv 3x3 (the edge detector, ReLU) -> conv 3x3 stride 2 (a sum, ReLU) -> dense 1.
fn edge_model(across_x: bool) -> OwnedModel {
    let relu_out = QParams { scale_exp: -3, zero_point: -128 };
    let conv = |weights: Vec<i8>, stride: u8, m: i32| OwnedConv {
        out_channels: 1,
        window: Window { kernel_h: 3, kernel_w: 3, stride_h: stride, stride_w: stride, pads: Pads::default() },
        relu: true,
        output: relu_out,
        weights,
        bias: vec![0],
        multipliers: vec![m],
    };
    let node = |name: &str, layer| OwnedNode { name: name.into(), layer };
    OwnedModel {
        name: if across_x { "sees-vertical".into() } else { "sees-horizontal".into() },
        task: Task::Regression,
        input: InputSpec { shape: Shape::new(H as u16, W as u16, 1), quant: QParams { scale_exp: -7, zero_point: 0 }, preprocess: Some(preprocess()) },
        layers: vec![
            node("edges", OwnedLayer::Conv2d(conv(edge_kernel(across_x), 1, 8192))),
            node("sum", OwnedLayer::Conv2d(conv(vec![1; 9], 2, 4096))),
            node("flatten", OwnedLayer::Flatten),
            node(
                "steer",
                OwnedLayer::Dense(OwnedDense {
                    out_features: 1,
                    relu: false,
                    output: QParams { scale_exp: -4, zero_point: 0 },
                    weights: vec![1; 6 * 14],
                    bias: vec![0],
                    multipliers: vec![256],
                }),
            ),
        ],
    }
}

/// The share of the saliency in the left half of the frame.
fn left_share(e: &mut dyn Explainer) -> f64 {
    let s = e.explain(&halves()).unwrap().saliency;
    assert_eq!((s.h, s.w), (H, W));
    assert!(s.values.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(s.values.contains(&1.0), "the mask is normalised to a largest value of 1");
    s.share_of_columns(0, W / 2)
}

#[test]
fn int8_saliency_lies_in_the_half_the_network_sees() {
    let vertical = edge_model(true).to_bytes();
    let horizontal = edge_model(false).to_bytes();
    let left = left_share(&mut Int8Explainer::new(&vertical).unwrap());
    let right = 1.0 - left_share(&mut Int8Explainer::new(&horizontal).unwrap());
    // The middle columns see both textures through the 3x3 windows; the rest is one-sided.
    assert!(left > 0.9, "detector of vertical stripes: {left:.3} of the mask on the left");
    assert!(right > 0.9, "detector of horizontal stripes: {right:.3} of the mask on the right");
}

#[test]
fn int8_explainer_steers_as_the_reference_does() {
    let blob = edge_model(true).to_bytes();
    let model = common::Model::parse(&blob).unwrap();
    let mut input = vec![0i8; H * W];
    common::preprocess::preprocess_frame(&preprocess(), model.input().shape, &halves(), &mut input).unwrap();
    let mut arena = vec![0i8; model.plan().arena_bytes()];
    let q = common::run(&model, &input, &mut arena).unwrap()[0];
    let e = Int8Explainer::new(&blob).unwrap().explain(&halves()).unwrap();
    assert_eq!(e.steering, q as f32 / 16.0);
    assert!(q != 0, "the test network responds to the frame");
}

const FLOAT_NET: &str = include_str!("fixtures/halves.toml");

/// The float network of [`edge_model`]: the same kernels, as burn weights.
fn float_explainer(across_x: bool) -> FloatExplainer {
    let spec = NetSpec::parse(FLOAT_NET).unwrap();
    let layers = spec.resolve().unwrap();
    let device = infer_device();
    let mut net = Net::new(&layers, &device);
    let kernels = [edge_kernel(across_x).iter().map(|&v| v as f32).collect::<Vec<_>>(), vec![1.0; 9]];
    let mut convs = kernels.iter();
    for block in &mut net.blocks {
        if let Block::Conv(c) = block {
            let w = convs.next().unwrap().clone();
            c.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [1, 1, 3, 3]), &device));
            c.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(vec![0f32], [1]), &device)));
        }
    }
    FloatExplainer::new(net, layers, spec.input_shape(), spec.input.scale_exp, spec.preprocess(), "test".into()).unwrap()
}

#[test]
fn float_saliency_lies_in_the_half_the_network_sees() {
    let left = left_share(&mut float_explainer(true));
    let right = 1.0 - left_share(&mut float_explainer(false));
    assert!(left > 0.9, "detector of vertical stripes: {left:.3} of the mask on the left");
    assert!(right > 0.9, "detector of horizontal stripes: {right:.3} of the mask on the right");
}

/// A recording of `n` frames of [`halves`] in `dir`, steering `0.1 * i`.
fn recording(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir.join("IMG")).unwrap();
    let mut log = String::new();
    for i in 0..n {
        let name = format!("center_{i}.png");
        image::save_buffer(dir.join("IMG").join(&name), &halves(), W as u32, H as u32, image::ExtendedColorType::Rgb8).unwrap();
        log.push_str(&format!("C:\\sim\\IMG\\{name}, , , {:.1}, 0.5, 0, 20\n", 0.1 * i as f64));
    }
    std::fs::write(dir.join("driving_log.csv"), log).unwrap();
}

#[test]
fn a_run_writes_pictures_gif_and_csv_and_keeps_an_earlier_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("rec");
    recording(&data, 5);
    let out = tmp.path().join("out");
    let blob = edge_model(true).to_bytes();
    let mut e = Int8Explainer::new(&blob).unwrap();
    let opts = Options { frames: 10, every: 2, start: 0, gif: true, force: false };
    let mut seen = Vec::new();
    let summary = run(&mut e, &Source::Recording(&data), &out, &opts, |done, total| seen.push((done, total))).unwrap();
    // Rows 0, 2 and 4.
    assert_eq!(summary.frames, 3);
    assert_eq!(seen, vec![(1, 3), (2, 3), (3, 3)]);
    for n in 1..=3 {
        let img = image::open(out.join(png_name(n))).unwrap();
        assert_eq!((img.width(), img.height()), (2 * W as u32, 2 * H as u32 + 68), "picture {n}");
    }
    assert!(!out.join(png_name(4)).exists());
    let gif = std::fs::File::open(out.join(GIF_FILE)).unwrap();
    let frames = image::AnimationDecoder::into_frames(image::codecs::gif::GifDecoder::new(std::io::BufReader::new(gif)).unwrap()).collect_frames().unwrap();
    assert_eq!(frames.len(), 3);
    let csv = std::fs::read_to_string(out.join(CSV_FILE)).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "frame,source,network,reference");
    assert_eq!(lines.len(), 4);
    assert!(lines[2].starts_with("2,center_2.png (log line 3),") && lines[2].ends_with(",0.200000"), "{}", lines[2]);

    // A second run into the same folder needs --force, and then leaves no stale frame.
    let err = run(&mut e, &Source::Recording(&data), &out, &opts, |_, _| {}).unwrap_err().to_string();
    assert!(err.contains("--force") && err.contains(&out.display().to_string()), "{err}");
    let again = Options { frames: 1, force: true, gif: false, ..opts };
    assert_eq!(run(&mut e, &Source::Recording(&data), &out, &again, |_, _| {}).unwrap().frames, 1);
    assert!(out.join(png_name(1)).exists() && !out.join(png_name(2)).exists() && !out.join(GIF_FILE).exists());
}

#[test]
fn frames_of_the_wrong_size_are_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("rec");
    recording(&data, 1);
    image::save_buffer(data.join("IMG").join("center_0.png"), &[0u8; 8 * 4 * 3], 8, 4, image::ExtendedColorType::Rgb8).unwrap();
    let blob = edge_model(true).to_bytes();
    let opts = Options { frames: 1, every: 1, start: 0, gif: false, force: false };
    let err = run(&mut Int8Explainer::new(&blob).unwrap(), &Source::Recording(&data), &tmp.path().join("out"), &opts, |_, _| {}).unwrap_err();
    let err = format!("{err:#}");
    assert!(err.contains("center_0.png") && err.contains("8x4") && err.contains("32x16"), "{err}");
}

#[test]
fn a_simulator_drive_is_explained_frame_by_frame() {
    let blob = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/testvectors/pilotnet-random.pnn8")).unwrap();
    let mut e = Int8Explainer::new(&blob).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let opts = Options { frames: 2, every: 3, start: 1, gif: false, force: false };
    let summary = run(&mut e, &Source::Drive { seed: 1, speed: 9.0 }, tmp.path(), &opts, |_, _| {}).unwrap();
    assert_eq!(summary.frames, 2);
    let img = image::open(tmp.path().join(png_name(2))).unwrap();
    assert_eq!((img.width(), img.height()), (640, 320 + 68));
    let csv = std::fs::read_to_string(tmp.path().join(CSV_FILE)).unwrap();
    // Frames 1 and 4 of the drive, 0.1 s apart each.
    assert!(csv.contains("track 1 at 0.1 s") && csv.contains("track 1 at 0.4 s"), "{csv}");
}
