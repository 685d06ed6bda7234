//! The same data, configuration and seed train the same network. Its own test binary: the
//! backend's generator is global to the process, so tests training in parallel threads would
//! draw from it in turn.

use std::path::Path;

use host::data::{ClassificationData, ClassificationOptions, ImageAugment, SplitOptions};
use host::nn::spec::NetSpec;
use host::train::checkpoint::RunDir;
use host::train::{fit, FitOptions, TrainConfig};

mod fixtures;
use fixtures::TINY_CNN as ARCH;

/// Two classes of 8x8 images: a bright bar across the top or the bottom half.
fn write_images(root: &Path, per_class: usize) {
    for (class, name) in ["bottom", "top"].iter().enumerate() {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            let img = image::RgbImage::from_fn(8, 8, |x, y| {
                let bar = if class == 1 { y < 4 } else { y >= 4 };
                let v = if bar { 200 } else { 40 } + (x * 7 + y * 3 + i as u32 * 11) % 40;
                image::Rgb([v as u8, (v / 2) as u8, x as u8 * 10])
            });
            img.save(dir.join(format!("{i:03}.png"))).unwrap();
        }
    }
}

/// The same data, configuration and seed give the same network.
#[test]
fn the_same_seed_trains_the_same_network() {
    let dir = tempfile::tempdir().unwrap();
    write_images(&dir.path().join("data"), 24);
    let spec = NetSpec::parse(ARCH).unwrap().with_classes(2);
    let mut opts = ClassificationOptions::new(spec.input_spec());
    (opts.progress, opts.augment) = (false, ImageAugment::none());
    let data = ClassificationData::image_folder(&dir.path().join("data"), &opts).unwrap();
    let split = data.split(&SplitOptions { val_fraction: 0.25, seed: 1, ..SplitOptions::default() }).unwrap();
    let train = split.train.clone();
    // (The weight files also hold random parameter ids: compare what the networks compute.)
    let outputs = |name: &str| {
        let run = RunDir::new(dir.path().join(name));
        fit(
            &spec,
            &data,
            |_| train.clone(),
            &split.val,
            &run,
            &TrainConfig { epochs: 3, batch: 16, lr: 3e-3, seed: 7, ..TrainConfig::new(Vec::new(), host::data::DataKind::Images) },
            &FitOptions::default(),
        )
        .unwrap();
        let net = run.load_best(&host::train::infer_device()).unwrap();
        let mut out = Vec::new();
        host::train::for_each_batch(&net, &data, &split.val, 8, |t, _| out.extend(t.into_data().try_to_vec::<f32>().unwrap()));
        (out, std::fs::read_to_string(run.history_path()).unwrap().lines().map(|l| l.rsplit_once(',').map_or(l, |p| p.0).to_string()).collect::<Vec<_>>())
    };
    let (a, b) = (outputs("a"), outputs("b"));
    assert_eq!(a.0, b.0, "outputs");
    // history.csv's losses (its last columns are timings).
    let losses = |h: &[String]| h.iter().map(|l| l.split(',').take(5).collect::<Vec<_>>().join(",")).collect::<Vec<_>>();
    assert_eq!(losses(&a.1), losses(&b.1));
}
