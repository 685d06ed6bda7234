//! The main job in miniature, inside CI: simulator recording -> train a tiny steering network ->
//! quantize -> export ONNX -> tract -> firmware in QEMU, all output bytes equal.

use common::preprocess::preprocess_frame;
use common::Model;
use host::data::{Camera, DataKind, DrivingData, DrivingOptions, Examples};
use host::nn::spec::NetSpec;
use host::onnx::int8;
use host::quant::ptq::{quantize_run, PtqOptions};
use host::sim::record::{record, ImageFormat, RecordOptions};
use host::train::checkpoint::RunDir;
use host::train::{FitOptions, TrainConfig};
use host::verify::compare;
use host::workflow::train::{train, Job, Network};

const TINY: &str = include_str!("tiny-pilot.toml");

#[test]
fn record_train_quantize_export_tract_and_firmware_agree() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    let opts = RecordOptions { out: rec.clone(), seeds: vec![7], laps: 0.25, speed: 9.0, format: ImageFormat::Jpeg, force: false };
    let summary = record(&opts, |_, _| {}).unwrap();
    assert!(summary.rows > 50, "{} rows", summary.rows);

    let run = dir.path().join("run");
    let config = TrainConfig {
        epochs: 2,
        batch: 32,
        side_correction: Some(0.235),
        smooth_steering: Some(1),
        keep_straight: Some(0.25),
        ..TrainConfig::new(vec![rec.clone()], DataKind::Driving)
    };
    let job = Job { network: Network::Arch(NetSpec::parse(TINY).unwrap()), config, out: run.clone(), fit: FitOptions::default() };
    let trained = train(&job).unwrap();
    assert_eq!(trained.epochs, 2);
    let quantized = quantize_run(&RunDir::new(&run), &PtqOptions { samples: 64, progress: false, ..PtqOptions::default() }).unwrap();
    assert_eq!(quantized.report.metric, "mae");
    let blob_path = dir.path().join("m.pnn8");
    std::fs::write(&blob_path, quantized.blob()).unwrap();

    let blob = std::fs::read(&blob_path).unwrap();
    let model = Model::parse(&blob).unwrap();
    let pp = model.def().input.preprocess.unwrap();
    let mut dopts = DrivingOptions::new(model.def().input);
    dopts.side_cameras = false;
    dopts.progress = false;
    let data = DrivingData::load(&[rec], &dopts).unwrap();
    let frames: Vec<&[u8]> = (0..data.len()).step_by(data.len() / 12).take(12).filter_map(|i| data.frame(i, Camera::Center)).collect();
    let inputs: Vec<Vec<i8>> = frames
        .iter()
        .map(|f| {
            let mut x = vec![0i8; model.input().shape.len()];
            preprocess_frame(&pp, model.input().shape, f, &mut x).unwrap();
            x
        })
        .collect();

    // Reference vs tract, every layer.
    let (onnx, outputs) = int8::export(&model).unwrap();
    let cmp = compare(&model, &onnx, &outputs, inputs.clone().into_iter()).unwrap();
    assert_eq!(cmp.samples, frames.len());
    assert_eq!(cmp.mismatches(), 0, "reference vs tract: {:?}", cmp.first);

    // Reference vs the firmware in QEMU, from the raw camera frames.
    let elf = host::qemu::build(&blob_path, &dir.path().join("fw.elf")).unwrap();
    let fw = host::qemu::run(&elf, &frames.concat(), &dir.path().join("qemu")).unwrap();
    let mut arena = vec![0i8; model.plan().arena_bytes()];
    let expected: Vec<u8> = inputs.iter().flat_map(|x| common::i8_as_bytes(common::run(&model, x, &mut arena).unwrap()).to_vec()).collect();
    assert_eq!(fw.outputs, expected, "firmware vs reference");
    println!("{} frames: reference, tract and firmware agree; {}", frames.len(), fw.summary().unwrap_or_default());
}

/// Firmware in the loop: the QEMU firmware steering the simulated car makes exactly the int8
/// reference's drive, step for step (the arithmetic is bit-exact, so every command is equal).
#[test]
fn firmware_in_the_loop_drives_like_the_int8_reference() {
    use host::sim::drive::{drive, ModelDriver, Pilot};
    use host::sim::track::Track;
    use host::sim::world::World;

    let blob_path = e2e::shipped_pilotnet();
    let blob = std::fs::read(&blob_path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut firmware = host::qemu::FirmwareDriver::new(&blob_path, dir.path()).unwrap();
    let mut reference = ModelDriver::new(&blob).unwrap();
    let track = Track::generate(3);
    let world = World::new(&track, 3);
    let steer = |pilot: &mut Pilot<'_>| {
        let mut commands = Vec::new();
        let report = drive(&track, Some(&world), pilot, 9.0, 0.04, |t| {
            commands.push(t.steering);
            Ok(())
        })
        .unwrap();
        (commands, report.mean_abs_lateral)
    };
    let (fw, fw_err) = steer(&mut Pilot::Camera(&mut firmware));
    let (re, re_err) = steer(&mut Pilot::Camera(&mut reference));
    assert!(fw.len() >= 15, "{} frames", fw.len());
    assert_eq!(fw, re, "the firmware's steering differs from the int8 reference's");
    assert_eq!(fw_err, re_err);
    assert!(firmware.last_instructions.is_some_and(|n| n > 1_000_000));
}
