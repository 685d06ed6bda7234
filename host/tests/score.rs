//! `pilot eval --blob/--onnx`: a blob and its int8 ONNX score the same on GTSRB's official test
//! layout and on a driving recording, the scores are those of the reference on the loader's
//! examples, the float ONNX scores like its training run, and a file that says nothing about
//! its input is refused with its name.

use std::path::{Path, PathBuf};

use common::Model;
use host::data::{ClassificationData, ClassificationOptions, DrivingData, DrivingOptions, Examples, ImageAugment, Rng};
use host::nn::net::Net;
use host::nn::spec::NetSpec;
use host::train::checkpoint::RunDir;
use host::train::target::argmax;
use host::train::{infer_device, State, TrainConfig};
use host::workflow::eval::{evaluate_run, ClassEval, Evaluation};
use host::workflow::score::{score, Scored, Selection};

mod fixtures;
// The classifier, and the steering network (depthwise layers included).
use fixtures::{DEPTHWISE_CNN as STEERING, TINY_CNN as SIGNS};

fn write_image(path: &Path, rgb: &[u8], w: u32, h: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::save_buffer(path, rgb, w, h, image::ExtendedColorType::Rgb8).unwrap();
}

/// Pixels that differ from image to image.
fn picture(w: usize, h: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..w * h * 3).map(|_| (rng.next_u64() >> 56) as u8).collect()
}

/// GTSRB's official test layout: `Final_Test/Images/*.ppm` and `GT-final_test.csv`, 16x16
/// images with a 12x12 region of interest, labels cycling through a few classes.
fn gtsrb_test(root: &Path, n: usize) -> (PathBuf, Vec<u16>) {
    let dir = root.join("Final_Test/Images");
    let mut csv = String::from("Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n");
    let mut labels = Vec::new();
    for i in 0..n {
        let class = [1u16, 14, 38, 14][i % 4];
        write_image(&dir.join(format!("{i:05}.ppm")), &picture(16, 16, i as u64), 16, 16);
        csv += &format!("{i:05}.ppm;16;16;2;2;14;14;{class}\n");
        labels.push(class);
    }
    std::fs::write(dir.join("GT-final_test.csv"), csv).unwrap();
    (root.to_path_buf(), labels)
}

fn random_blob(text: &str, classes: u16, seed: u64) -> Vec<u8> {
    let spec = NetSpec::parse(text).unwrap().with_classes(classes);
    host::zoo::random(&spec, seed).unwrap().to_bytes()
}

fn int8_onnx(blob: &[u8], dir: &Path) -> PathBuf {
    let (onnx, _) = host::onnx::int8::export(&Model::parse(blob).unwrap()).unwrap();
    let path = dir.join("model.int8.onnx");
    std::fs::write(&path, onnx).unwrap();
    path
}

fn classes(e: Evaluation) -> ClassEval {
    match e {
        Evaluation::Classes(c) => c,
        Evaluation::Steering(_) => panic!("a classifier scored as steering"),
    }
}

#[test]
fn blob_and_int8_onnx_score_the_reference_on_gtsrb_test_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, labels) = gtsrb_test(&tmp.path().join("GTSRB"), 24);
    let blob = random_blob(SIGNS, 43, 3);
    let blob_path = tmp.path().join("model.pnn8");
    std::fs::write(&blob_path, &blob).unwrap();
    let onnx_path = int8_onnx(&blob, tmp.path());
    let sel = Selection::default();

    let by_blob = classes(score(&Scored::read(&blob_path).unwrap(), std::slice::from_ref(&data), &sel).unwrap());
    let by_onnx = classes(score(&Scored::read(&onnx_path).unwrap(), std::slice::from_ref(&data), &sel).unwrap());
    assert_eq!(by_blob.images, 24);
    assert_eq!(by_blob.confusion, by_onnx.confusion, "tract and the reference predict the same classes");
    // The same set named by its `Final_Test` folder, or by its labels file.
    for path in [data.join("Final_Test"), data.join("Final_Test/Images/GT-final_test.csv")] {
        let again = classes(score(&Scored::read(&blob_path).unwrap(), std::slice::from_ref(&path), &sel).unwrap());
        assert_eq!(again.confusion, by_blob.confusion, "{}", path.display());
    }

    // Every image's row of the confusion matrix is its label; its column is the reference's
    // arg-max on the example the loader makes.
    let model = Model::parse(&blob).unwrap();
    let mut opts = ClassificationOptions::new(model.def().input);
    opts.augment = ImageAugment::none();
    let loaded = ClassificationData::gtsrb_test(&data, &opts).unwrap();
    let mut want = vec![vec![0usize; 43]; 43];
    let mut arena = vec![0i8; model.plan().arena_bytes()];
    for (i, &label) in labels.iter().enumerate() {
        let mut x = vec![0i8; model.input().shape.len()];
        loaded.example(i, &mut Rng::new(0), false, &mut x);
        let out: Vec<f32> = common::run(&model, &x, &mut arena).unwrap().iter().map(|&q| q as f32).collect();
        want[label as usize][argmax(&out)] += 1;
    }
    assert_eq!(by_blob.confusion, want);
    let right: usize = (0..43).map(|c| want[c][c]).sum();
    assert_eq!(by_blob.accuracy, right as f64 / 24.0);
}

#[test]
fn blob_and_int8_onnx_give_the_same_steering_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = tmp.path().join("rec");
    std::fs::create_dir_all(rec.join("IMG")).unwrap();
    let mut log = String::new();
    for i in 0..12 {
        let name = format!("center_{i}.png");
        write_image(&rec.join("IMG").join(&name), &picture(16, 12, 100 + i), 16, 12);
        log.push_str(&format!("C:\\sim\\IMG\\{name}, , , {:.2}, 0.5, 0, 20\n", 0.05 * i as f64 - 0.3));
    }
    std::fs::write(rec.join("driving_log.csv"), log).unwrap();
    let blob = random_blob(STEERING, 1, 5);
    let blob_path = tmp.path().join("steer.pnn8");
    std::fs::write(&blob_path, &blob).unwrap();
    let onnx_path = int8_onnx(&blob, tmp.path());
    let sel = Selection::default();
    let steering = |path: &Path| match score(&Scored::read(path).unwrap(), std::slice::from_ref(&rec), &sel).unwrap() {
        Evaluation::Steering(s) => s,
        Evaluation::Classes(_) => panic!("a steering model scored as a classifier"),
    };
    let (a, b) = (steering(&blob_path), steering(&onnx_path));
    assert_eq!(a, b);
    assert_eq!(a.frames, 12);

    // The error is that of the reference's dequantized output against the recorded steering.
    let model = Model::parse(&blob).unwrap();
    let mut opts = DrivingOptions::new(model.def().input);
    opts.side_cameras = false;
    let data = DrivingData::load(&[rec], &opts).unwrap();
    let mut arena = vec![0i8; model.plan().arena_bytes()];
    let mut sum = 0.0;
    for i in 0..data.len() {
        let mut x = vec![0i8; model.input().shape.len()];
        let truth = data.example(i, &mut Rng::new(0), false, &mut x);
        let q = common::run(&model, &x, &mut arena).unwrap()[0];
        sum += (model.output().quant.dequantize(q) - truth).abs() as f64;
    }
    assert!((a.mae - sum / 12.0).abs() < 1e-9, "{} vs {}", a.mae, sum / 12.0);
}

#[test]
fn float_onnx_scores_like_its_training_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, _) = gtsrb_test(&tmp.path().join("GTSRB"), 20);
    let spec = NetSpec::parse(SIGNS).unwrap().with_classes(43);
    let net = Net::new(&spec.resolve().unwrap(), &infer_device());
    let run = RunDir::new(tmp.path().join("run"));
    let mut config = TrainConfig::new(vec![data.clone()], host::data::DataKind::GtsrbTest);
    config.classes = host::data::GTSRB_CLASS_NAMES.iter().map(|c| c.to_string()).collect();
    run.start(&spec, &config).unwrap();
    run.save_best(&net, &State::default()).unwrap();
    let onnx_path = tmp.path().join("float.onnx");
    std::fs::write(&onnx_path, host::onnx::float::export_run(&run).unwrap()).unwrap();

    let by_run = classes(evaluate_run(&run, &[], true, 8).unwrap());
    let by_onnx = classes(score(&Scored::read(&onnx_path).unwrap(), &[data], &Selection::default()).unwrap());
    assert_eq!(by_run.images, by_onnx.images);
    assert_eq!(by_run.confusion, by_onnx.confusion);
}

#[test]
fn a_file_without_pilot_metadata_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("mystery.onnx");
    std::fs::write(&path, b"\x0a\x03abc").unwrap();
    let err = Scored::read(&path).err().expect("no metadata, no scoring").to_string();
    assert!(err.contains("mystery.onnx"), "{err}");
    let err = Scored::read(&tmp.path().join("absent.pnn8")).err().unwrap().to_string();
    assert!(err.contains("absent.pnn8"), "{err}");
}
