//! Transfer learning: an ONNX backbone gives the checkpoint's features, the feature cache hits
//! and misses when it must, feature extraction leaves the backbone untouched, and fine-tuning's
//! backbone learning rate applies to the backbone only.

use std::path::Path;

use burn::module::Param;
use burn::tensor::Tensor;
use host::data::{ClassificationData, ClassificationOptions, Examples, ImageAugment, SplitOptions};
use host::nn::net::{Block, Net};
use host::nn::spec::{NetSpec, TaskKind};
use host::onnx::float;
use host::quant::graph;
use host::train::checkpoint::RunDir;
use host::train::{infer_device, FitOptions};
use host::train::{State, TrainConfig};
use host::transfer::features::{self, Job};
use host::transfer::{self, head, Backbone, BurnExtractor, Cache, Extractor, Lookup, Mode, TractExtractor, TransferOptions};

mod fixtures;
use fixtures::{SMALL_CNN as WIDE, TINY_CNN};

/// Saves `net` as a training run in `dir`.
fn save_run(dir: &Path, spec: &NetSpec, net: &Net) -> RunDir {
    let run = RunDir::new(dir);
    run.start(spec, &TrainConfig::new(Vec::new(), host::data::DataKind::Images)).unwrap();
    run.save_best(net, &State::default()).unwrap();
    run
}

fn inputs(n: usize, len: usize, seed: u32) -> Vec<i8> {
    (0..(n * len) as u32).map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 24) as i8).collect()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Random weights with positive biases, so that no layer's ReLU outputs all zeros (which would
/// make comparing features trivial).
fn alive(mut net: Net) -> Net {
    let device = infer_device();
    let positive = |n: usize| Some(Param::from_tensor(Tensor::<1>::ones([n], &device) * 0.5));
    for block in &mut net.blocks {
        match block {
            Block::Conv(c) => c.bias = positive(c.weight.val().dims()[0]),
            Block::Dense(d) => d.bias = positive(d.weight.val().dims()[1]),
            _ => {}
        }
    }
    net
}

#[test]
fn onnx_backbone_gives_the_checkpoint_features() {
    let dir = tempfile::tempdir().unwrap();
    let spec = NetSpec::parse(WIDE).unwrap();
    let net = alive(Net::new(&spec.resolve().unwrap(), &infer_device()));
    save_run(&dir.path().join("run"), &spec, &net);
    let onnx = float::export(&spec, &graph::extract(&net, &spec.resolve().unwrap()).unwrap()).unwrap();
    std::fs::write(dir.path().join("wide.onnx"), &onnx).unwrap();

    let from_run = Backbone::load(&dir.path().join("run")).unwrap();
    let from_onnx = Backbone::load(&dir.path().join("wide.onnx")).unwrap();
    assert_eq!(from_run.layer_names().unwrap(), ["conv1", "conv2", "pool1", "flatten1", "dense1", "dense2"]);
    assert_eq!(from_onnx.layer_names().unwrap(), from_run.layer_names().unwrap());
    assert_ne!(from_run.digest, from_onnx.digest);

    let n = 6;
    let x = inputs(n, spec.input_shape().len(), 1);
    // The whole imported network computes what the original does (weights and their layouts).
    let s = spec.input_shape();
    let batch = host::nn::net::input_batch(&x, s, -7, &infer_device());
    let want: Vec<f32> = net.forward(batch.clone()).into_data().try_to_vec().unwrap();
    let got: Vec<f32> = from_onnx.net.forward(batch).into_data().try_to_vec().unwrap();
    assert!(max_diff(&want, &got) < 1e-4, "imported network: {}", max_diff(&want, &got));

    for name in ["conv1", "pool1", "flatten1", "dense1"] {
        let cut = from_run.cut(Some(name)).unwrap();
        let onnx_cut = from_onnx.cut(Some(name)).unwrap();
        assert_eq!((&onnx_cut.name, onnx_cut.shape), (&cut.name, cut.shape));
        let burn = BurnExtractor::new(&from_run, &cut).run(&x, n).unwrap();
        let mut tract = TractExtractor::new(&from_onnx, &onnx_cut).unwrap().expect("an ONNX backbone runs in tract");
        assert_eq!(tract.engine(), "tract");
        let tract = tract.run(&x, n).unwrap();
        assert_eq!(burn.len(), n * cut.shape.len(), "{name}");
        let scale = burn.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-3);
        assert!(max_diff(&burn, &tract) <= 1e-5 * scale.max(1.0), "{name}: burn and tract features differ by {}", max_diff(&burn, &tract));
        assert!(burn.iter().any(|&v| v != 0.0), "{name}: features are not all zero");
    }
    assert!(TractExtractor::new(&from_run, &from_run.cut(None).unwrap()).unwrap().is_none(), "a checkpoint runs in burn");
    assert_eq!(from_run.cut(None).unwrap().name, "flatten1", "the default cut is the last flatten");
    let err = from_run.cut(Some("conv2")).unwrap_err().to_string();
    assert!(err.contains("pool1"), "conv2's ReLU sits after the pool: {err}");
    assert!(from_run.cut(Some("dense2")).is_err(), "nothing left after the last layer");
    let err = from_run.cut(Some("conv9")).unwrap_err().to_string();
    assert!(err.contains("conv1, conv2, pool1"), "lists the layers: {err}");
}

#[test]
fn onnx_without_pilot_metadata_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.onnx");
    std::fs::write(&path, b"not onnx at all").unwrap();
    let err = format!("{:#}", Backbone::load(&path).err().unwrap());
    assert!(err.contains("x.onnx"), "{err}");
    let missing = format!("{:#}", Backbone::load(&dir.path().join("missing")).err().unwrap());
    assert!(missing.contains("missing"), "{missing}");
}

/// Three classes of 8x8 images: a bright bar at the top, in the middle or at the bottom.
fn write_images(root: &Path, per_class: usize) {
    fixtures::write_bar_images(root, per_class, (8, 8), 99, 10);
}

fn tiny_data(root: &Path, spec: &NetSpec) -> ClassificationData {
    write_images(root, 40);
    let mut opts = ClassificationOptions::new(spec.input_spec());
    opts.progress = false;
    opts.augment = ImageAugment::none();
    ClassificationData::image_folder(root, &opts).unwrap()
}

#[test]
fn feature_cache_hits_and_misses() {
    let dir = tempfile::tempdir().unwrap();
    let spec = NetSpec::parse(TINY_CNN).unwrap().with_classes(3);
    let data = tiny_data(&dir.path().join("data"), &spec);
    save_run(&dir.path().join("run"), &spec, &Net::new(&spec.resolve().unwrap(), &infer_device()));
    let backbone = Backbone::load(&dir.path().join("run")).unwrap();
    let cache = Cache::new(dir.path().join("cache"));
    let rows: Vec<usize> = (0..data.len()).step_by(2).collect();

    let run = |rows: &[usize], cut_name: &str, cache: Option<&Cache>| {
        let cut = backbone.cut(Some(cut_name)).unwrap();
        let mut burn = BurnExtractor::new(&backbone, &cut);
        let mut counting = fixtures::Counting { inner: &mut burn, examples: 0 };
        let job = Job { backbone: &backbone, cut: &cut, extractor: &mut counting, cache, progress: false, label: "test" };
        let (f, y, lookup) = features::features(&data, rows, job).unwrap();
        (f, y, lookup, counting.examples)
    };

    let (first, labels, lookup, ran) = run(&rows, "flatten1", Some(&cache));
    assert_eq!((lookup, ran), (Lookup::Miss, rows.len()), "first time: computed");
    assert_eq!(labels, rows.iter().map(|&r| data.labels()[r]).collect::<Vec<_>>());
    assert_eq!((first.rows, first.dim), (rows.len(), 3 * 3 * 4));
    let files = || std::fs::read_dir(dir.path().join("cache")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(files(), 1);

    let (again, _, lookup, ran) = run(&rows, "flatten1", Some(&cache));
    assert_eq!((lookup, ran), (Lookup::Hit, 0), "second time: read, the backbone does not run");
    assert_eq!(again, first);

    let (_, _, lookup, _) = run(&rows[1..], "flatten1", Some(&cache));
    assert_eq!(lookup, Lookup::Miss, "other examples, other key");
    let (other, _, lookup, _) = run(&rows, "pool1", Some(&cache));
    assert_eq!(lookup, Lookup::Miss, "another cut, another key");
    assert_eq!(other.dim, 3 * 3 * 4);
    assert_eq!(files(), 3);

    // A damaged file is reported, recomputed and rewritten; never a panic or wrong features.
    for entry in std::fs::read_dir(dir.path().join("cache")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    }
    let (fixed, _, lookup, ran) = run(&rows, "flatten1", Some(&cache));
    assert_eq!((lookup, ran), (Lookup::Miss, rows.len()));
    assert_eq!(fixed, first);
    assert_eq!(run(&rows, "flatten1", Some(&cache)).2, Lookup::Hit);

    // Without a cache, always computed and nothing written.
    let (_, _, lookup, ran) = run(&rows, "flatten1", None);
    assert_eq!((lookup, ran), (Lookup::Miss, rows.len()));
    assert_eq!(files(), 3);
}

fn param_values(blocks: &[Block]) -> Vec<Vec<f32>> {
    fn v<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec().unwrap()
    }
    let mut out = Vec::new();
    for b in blocks {
        match b {
            Block::Conv(c) => {
                out.push(v(c.weight.val()));
                out.extend(c.bias.as_ref().map(|b| v(b.val())));
            }
            Block::Dense(d) => {
                out.push(v(d.weight.val()));
                out.extend(d.bias.as_ref().map(|b| v(b.val())));
            }
            _ => {}
        }
    }
    out
}

/// A tiny backbone trained on the images, and the data split.
struct Setup {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    backbone: Backbone,
    data: ClassificationData,
    train: Vec<usize>,
    val: Vec<usize>,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let spec = NetSpec::parse(TINY_CNN).unwrap().with_classes(3);
    let data = tiny_data(&root.join("data"), &spec);
    let split = data.split(&SplitOptions { val_fraction: 0.25, seed: 1, ..SplitOptions::default() }).unwrap();
    save_run(&root.join("backbone"), &spec, &alive(Net::new(&spec.resolve().unwrap(), &infer_device())));
    let backbone = Backbone::load(&root.join("backbone")).unwrap();
    Setup { _dir: dir, root, backbone, data, train: split.train, val: split.val }
}

fn options(mode: Mode, scale: f64, cache: &Path) -> TransferOptions {
    TransferOptions {
        mode,
        cut: None,
        head: "dense 8, dense N".parse().unwrap(),
        backbone_lr_scale: scale,
        cache: Some(Cache::new(cache)),
        fit: FitOptions { progress: false, ..FitOptions::default() },
    }
}

fn config(epochs: usize) -> TrainConfig {
    TrainConfig { epochs, batch: 16, lr: 1e-2, seed: 3, ..TrainConfig::new(Vec::new(), host::data::DataKind::Images) }
}

#[test]
fn feature_extraction_keeps_the_backbone_frozen_and_learns_the_head() {
    let s = setup();
    let task = transfer::Task { data: &s.data, kind: TaskKind::Classification, outputs: 3, train: &s.train, val: &s.val };
    let run = RunDir::new(s.root.join("fe"));
    // A linear head: no hidden ReLU that an unlucky initialisation could leave dead.
    let opts = TransferOptions { head: "dense N".parse().unwrap(), ..options(Mode::FeatureExtraction, 1.0, &s.root.join("cache")) };
    let train = s.train.clone();
    let o = transfer::train(&s.backbone, &task, move |_| train.clone(), &run, &config(40), &opts).unwrap();
    assert_eq!(o.cut.name, "flatten1");
    assert_eq!(o.cache, Some(Lookup::Miss));
    assert_eq!(o.trainable_params, 36 * 3 + 3, "only the head trains");
    assert_eq!(o.total_params, (4 * 27 + 4) + o.trainable_params);
    // Chance is 1/3; random (but alive) features of three bars are easy to separate.
    assert!(o.metric > 0.75, "a head on the features separates three bars: accuracy {}", o.metric);

    // What was written is a normal run: the frozen layers are the backbone's, bit for bit.
    let saved = run.load_best(&infer_device()).unwrap();
    let cut = o.cut.blocks;
    assert_eq!(param_values(&saved.blocks[..cut]), param_values(&s.backbone.net.blocks[..cut]));
    let (_, acc) = host::train::evaluate(&saved, &s.data, &s.val, 16, Default::default());
    assert!((acc - o.metric).abs() < 1e-9, "the saved network scores what training reported: {acc} vs {}", o.metric);

    // A second head reads the cached features.
    let task2 = transfer::Task { data: &s.data, kind: TaskKind::Classification, outputs: 3, train: &s.train, val: &s.val };
    let mut opts = opts.clone();
    opts.head = "dense 8, dense N".parse().unwrap();
    let train = s.train.clone();
    let o2 = transfer::train(&s.backbone, &task2, move |_| train.clone(), &RunDir::new(s.root.join("fe2")), &config(40), &opts).unwrap();
    assert_eq!(o2.cache, Some(Lookup::Hit));
    assert_eq!(o2.trainable_params, (36 * 8 + 8) + (8 * 3 + 3));

    // The first run's model is kept unless replacing it is asked for.
    let train = s.train.clone();
    let err = transfer::train(&s.backbone, &task2, move |_| train.clone(), &run, &config(40), &opts).err().unwrap().to_string();
    assert!(err.contains("--force"), "{err}");
    assert_eq!(run.load_best(&infer_device()).unwrap().blocks.len(), saved.blocks.len(), "still the 1-dense network");
}

#[test]
fn fine_tuning_scales_only_the_backbone_learning_rate() {
    let s = setup();
    let task = transfer::Task { data: &s.data, kind: TaskKind::Classification, outputs: 3, train: &s.train, val: &s.val };
    let cut = s.backbone.cut(None).unwrap();
    let before = param_values(&s.backbone.net.blocks[..cut.blocks]);
    for (scale, name) in [(0.0, "frozen"), (1.0, "free")] {
        let run = RunDir::new(s.root.join(name));
        let train = s.train.clone();
        let o = transfer::train(&s.backbone, &task, move |_| train.clone(), &run, &config(2), &options(Mode::FineTune, scale, &s.root.join("cache"))).unwrap();
        assert_eq!(o.trainable_params, o.total_params);
        let saved = run.load_best(&infer_device()).unwrap();
        let after = param_values(&saved.blocks[..cut.blocks]);
        let head_spec = head::network(&s.backbone, &cut, &"dense 8, dense N".parse().unwrap(), TaskKind::Classification, 3, "x").unwrap();
        assert_eq!(saved.blocks.len(), head_spec.resolve().unwrap().len());
        if scale == 0.0 {
            assert_eq!(after, before, "backbone learning rate 0: the backbone keeps its weights");
        } else {
            assert_ne!(after, before, "backbone learning rate 1: the backbone learns");
        }
    }
}
