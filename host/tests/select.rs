//! Closed-loop model selection: every kept epoch is quantized and driven, the scores are
//! written, the chosen epoch becomes the run's best and the previous best is kept.

use std::path::Path;

use host::nn::net::Net;
use host::nn::spec::NetSpec;
use host::quant::ptq::PtqOptions;
use host::sim::compare::CompareOptions;
use host::train::checkpoint::RunDir;
use host::train::{infer_device, State, TrainConfig};
use host::workflow::select::select;

/// A 320x160 recording of `n` frames (the simulator's camera size).
fn recording(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir.join("IMG")).unwrap();
    let mut log = String::new();
    for i in 0..n {
        let name = format!("center_{i}.png");
        let rgb: Vec<u8> = (0..320 * 160 * 3).map(|k| ((k * 7 + i * 31) % 251) as u8).collect();
        image::save_buffer(dir.join("IMG").join(&name), &rgb, 320, 160, image::ExtendedColorType::Rgb8).unwrap();
        log.push_str(&format!("C:\\sim\\IMG\\{name}, , , {:.2}, 0.5, 0, 20\n", 0.02 * i as f64 - 0.1));
    }
    std::fs::write(dir.join("driving_log.csv"), log).unwrap();
}

#[test]
fn every_kept_epoch_drives_and_the_best_driver_is_promoted() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("rec");
    recording(&data, 10);
    let spec = NetSpec::load("fastnet").unwrap();
    let run = RunDir::new(tmp.path().join("run"));
    run.start(&spec, &TrainConfig { val_split: 0.3, ..TrainConfig::new(vec![data], host::data::DataKind::Driving) }).unwrap();
    std::fs::create_dir_all(run.dir.join("epochs")).unwrap();
    for epoch in 1..=2 {
        let net = Net::new(&spec.resolve().unwrap(), &infer_device());
        run.save_best(&net, &State { epoch, best_epoch: epoch, ..State::default() }).unwrap();
        std::fs::copy(run.best_path(), run.epoch_path(epoch)).unwrap();
    }
    let original = std::fs::read(run.best_path()).unwrap();
    let drive = CompareOptions { seeds: vec![40], laps: 0.05, speed: 9.0, board: common::board::by_name("blackpill").unwrap() };
    let s = select(&run, &drive, &PtqOptions { samples: 4, progress: false, ..PtqOptions::default() }, false).unwrap();

    assert_eq!(s.scores.iter().map(|e| e.epoch).collect::<Vec<_>>(), [1, 2]);
    assert!(s.scores.iter().all(|e| e.float_mae.is_finite() && e.int8_mae.is_finite() && (0.0..=100.0).contains(&e.autonomy)));
    let csv = std::fs::read_to_string(run.dir.join("selection.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert_eq!(std::fs::read(run.best_path()).unwrap(), std::fs::read(run.epoch_path(s.chosen)).unwrap());
    assert_eq!(std::fs::read(run.dir.join("model.by-mae.bpk")).unwrap(), original, "the previous best is kept");
    let best = std::fs::read_to_string(run.dir.join("best.toml")).unwrap();
    assert!(best.contains(&format!("best_epoch = {}", s.chosen)), "{best}");
}

#[test]
fn a_run_without_kept_epochs_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let run = RunDir::new(tmp.path().join("run"));
    let drive = CompareOptions { seeds: vec![40], laps: 0.05, speed: 9.0, board: common::board::by_name("blackpill").unwrap() };
    let err = select(&run, &drive, &PtqOptions::default(), false).unwrap_err().to_string();
    assert!(err.contains("--keep-epochs"), "{err}");
}
