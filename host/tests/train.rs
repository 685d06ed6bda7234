//! Training on a tiny image set the test makes: the loss falls, the network learns, and a run
//! continues after an interruption without losing finished epochs.

use std::path::Path;

use host::data::{ClassificationData, ClassificationOptions, ImageAugment, SplitOptions};
use host::nn::spec::NetSpec;
use host::train::checkpoint::RunDir;
use host::train::history::History;
use host::train::{fit, FitOptions, TrainConfig};

mod fixtures;
use fixtures::TINY_CNN as ARCH;

/// Two classes: a bright bar across the top half, or across the bottom half, on noise.
fn write_images(root: &Path, per_class: usize) {
    let mut state = 12345u32;
    let mut noise = move || {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        (state >> 24) as u8 / 2
    };
    for (class, name) in ["bottom", "top"].iter().enumerate() {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..per_class {
            let mut img = image::RgbImage::new(8, 8);
            for (x, y, p) in img.enumerate_pixels_mut() {
                let bar = if class == 1 { y < 4 } else { y >= 4 };
                let v = if bar { 200 } else { 40 } + noise() as u32 % 40;
                *p = image::Rgb([v as u8, (v / 2) as u8, x as u8 * 10]);
            }
            img.save(dir.join(format!("{i:03}.png"))).unwrap();
        }
    }
}

fn load(root: &Path, spec: &NetSpec) -> ClassificationData {
    let mut opts = ClassificationOptions::new(spec.input_spec());
    opts.progress = false;
    opts.augment = ImageAugment::none();
    ClassificationData::image_folder(root, &opts).unwrap()
}

fn config(epochs: usize) -> TrainConfig {
    TrainConfig { epochs, batch: 16, lr: 3e-3, seed: 7, ..TrainConfig::new(Vec::new(), host::data::DataKind::Images) }
}

fn options(resume: bool) -> FitOptions {
    FitOptions { resume, progress: false, ..FitOptions::default() }
}

#[test]
fn loss_falls_and_the_network_learns() {
    let dir = tempfile::tempdir().unwrap();
    write_images(&dir.path().join("data"), 48);
    let spec = NetSpec::parse(ARCH).unwrap().with_classes(2);
    let data = load(&dir.path().join("data"), &spec);
    let split = data.split(&SplitOptions { val_fraction: 0.25, seed: 1, ..SplitOptions::default() }).unwrap();
    let run = RunDir::new(dir.path().join("run"));
    let train = split.train.clone();
    let report = fit(&spec, &data, |_| train.clone(), &split.val, &run, &config(8), &options(false)).unwrap();
    let h = &report.history.epochs;
    assert_eq!(h.len(), 8);
    assert!(h[7].train_loss < 0.6 * h[0].train_loss, "loss falls: {:?}", h.iter().map(|e| e.train_loss).collect::<Vec<_>>());
    assert!(report.best_metric >= 0.9, "validation accuracy {}", report.best_metric);
    // What was written can be loaded and gives the same validation accuracy.
    let net = run.load_best(&host::train::infer_device()).unwrap();
    let (_, acc) = host::train::evaluate(&net, &data, &split.val, 8, Default::default());
    assert_eq!(acc, report.best_metric);
    assert_eq!(History::read(&run.history_path()).unwrap().epochs.len(), 8);
}

#[test]
fn resume_continues_after_the_last_finished_epoch() {
    let dir = tempfile::tempdir().unwrap();
    write_images(&dir.path().join("data"), 24);
    let spec = NetSpec::parse(ARCH).unwrap().with_classes(2);
    let data = load(&dir.path().join("data"), &spec);
    let split = data.split(&SplitOptions { val_fraction: 0.25, seed: 1, ..SplitOptions::default() }).unwrap();
    let run = RunDir::new(dir.path().join("run"));
    let train = split.train.clone();
    let rows = |_: &mut host::data::Rng| train.clone();

    // "Interrupted" after 2 epochs (the process stopped there)...
    let first = fit(&spec, &data, rows, &split.val, &run, &config(2), &options(false)).unwrap();
    // ... a leftover of an interrupted checkpoint switch is repaired, not trusted.
    std::fs::create_dir_all(dir.path().join("run/last.new")).unwrap();
    let resumed = fit(&spec, &data, rows, &split.val, &run, &config(5), &options(true)).unwrap();
    let h = &resumed.history.epochs;
    assert_eq!(h.iter().map(|e| e.epoch).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
    for (kept, original) in h[..2].iter().zip(&first.history.epochs) {
        // history.csv keeps 6 decimals.
        assert!((kept.train_loss - original.train_loss).abs() < 1e-5, "finished epochs are kept: {kept:?} vs {original:?}");
    }
    assert!(h[2].train_loss < h[0].train_loss, "epoch 3 starts from the trained weights, not from scratch");
    assert!(!dir.path().join("run/last.new").exists());
    // Without --resume the saved run is kept: an error, until replacing it is asked for.
    let err = fit(&spec, &data, rows, &split.val, &run, &config(1), &options(false)).err().unwrap().to_string();
    assert!(err.contains("--resume") && err.contains("--force"), "{err}");
    assert_eq!(History::read(&run.history_path()).unwrap().epochs.len(), 5, "nothing was touched");
    let fresh = fit(&spec, &data, rows, &split.val, &run, &config(1), &FitOptions { overwrite: true, ..options(false) }).unwrap();
    assert_eq!(fresh.history.epochs.len(), 1);
}

#[test]
fn quantize_with_qat_writes_its_run_and_reports_float_ptq_and_qat() {
    use host::quant::ptq::{quantize_run, PtqOptions, QatOptions};
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    write_images(&data_dir, 24);
    let spec = NetSpec::parse(ARCH).unwrap().with_classes(2);
    let data = load(&data_dir, &spec);
    let cfg = TrainConfig { data: vec![data_dir], ..config(3) };
    let split = data.split(&cfg.split()).unwrap();
    let run = RunDir::new(dir.path().join("run"));
    let train = split.train.clone();
    fit(&spec, &data, |_| train.clone(), &split.val, &run, &cfg, &options(false)).unwrap();
    let qat_dir = dir.path().join("int8/qat");
    let opts = PtqOptions {
        samples: 16,
        progress: false,
        qat: Some(QatOptions { epochs: 2, lr: 1e-4, run: qat_dir.clone(), augment: true }),
        ..PtqOptions::default()
    };
    let q = quantize_run(&run, &opts).unwrap();
    let r = &q.report;
    assert_eq!(r.qat_epochs, Some(2));
    assert!(r.ptq_int8.is_some_and(|p| (0.0..=1.0).contains(&p)), "{r:?}");
    assert_eq!(History::read(&RunDir::new(&qat_dir).history_path()).unwrap().epochs.len(), 2);
    // The blob is the fine-tuned network, quantized with the post-training scales.
    common::Model::parse(&q.blob()).unwrap();
    let text = toml::to_string(r).unwrap();
    assert!(text.contains("ptq_int8") && text.contains("qat_run"), "{text}");
}

#[test]
fn fine_tuning_reopens_the_data_with_the_runs_augmentation() {
    use host::data::{DataSet, Examples};
    use host::train::checkpoint::RunData;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    write_images(&data_dir, 24);
    let spec = NetSpec::parse(ARCH).unwrap().with_classes(2);
    let data = load(&data_dir, &spec);
    let batch = |reopened: &RunData, augment: bool| {
        let DataSet::Classification(c) = &reopened.data else { panic!("an image folder is a classification set") };
        let rows = &reopened.split.train[..8];
        let (mut x, mut y) = (vec![0i8; rows.len() * c.input().shape.len()], vec![0u16; rows.len()]);
        c.fill_batch(rows, 3, augment, &mut x, &mut y);
        x
    };
    for augment in [true, false] {
        let cfg = TrainConfig { data: vec![data_dir.clone()], augment, ..config(1) };
        let split = data.split(&cfg.split()).unwrap();
        let run = RunDir::new(dir.path().join(format!("run-{augment}")));
        let train = split.train.clone();
        fit(&spec, &data, |_| train.clone(), &split.val, &run, &cfg, &options(false)).unwrap();
        let (plain, training) = (run.open_data(&[], false).unwrap(), run.open_training_data(&[], false).unwrap());
        assert_eq!(batch(&plain, false), batch(&training, false), "examples as recorded are the same either way");
        assert_eq!(batch(&plain, true), batch(&plain, false), "open_data never augments");
        assert_eq!(batch(&training, true) != batch(&training, false), augment, "open_training_data augments as the run did");
    }
}
