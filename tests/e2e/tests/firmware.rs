//! The firmware in QEMU against the host: bit-exact outputs on many frames, a corrupted blob
//! rejected at start-up, a model too large for the chip rejected at build time.
//!
//! Frame counts: `PILOT_E2E_SIGN_FRAMES` (default 200) and `PILOT_E2E_PILOTNET_FRAMES`
//! (default 25; PilotNet takes ~0.4 G instructions per frame on the reference kernels).

use std::time::Instant;

use common::format::owned::{OwnedConv, OwnedLayer, OwnedModel, OwnedNode};
use common::format::{Pads, QParams, Task, Window};
use common::plan::CameraPlan;
use common::preprocess::preprocess_frame;
use common::testing::Rng;
use common::Model;
use e2e::{frames, frames_from_env, test_vector};
use host::qemu;

/// Sends `frames` through the firmware built for `blob` and compares every output byte with
/// the host-side `common` reference.
fn firmware_matches_reference(blob: &[u8], frames: &[Vec<u8>]) {
    let dir = tempfile::tempdir().unwrap();
    let blob_path = dir.path().join("model.pnn8");
    std::fs::write(&blob_path, blob).unwrap();
    let model = Model::parse(blob).unwrap();
    let pp = model.def().input.preprocess.unwrap();

    // Host reference.
    let mut expected: Vec<u8> = Vec::new();
    let mut input = vec![0i8; model.input().shape.len()];
    let mut arena = vec![0i8; model.plan().arena_bytes()];
    for f in frames {
        preprocess_frame(&pp, model.input().shape, f, &mut input).unwrap();
        expected.extend(common::i8_as_bytes(common::run(&model, &input, &mut arena).unwrap()));
    }

    let t = Instant::now();
    let elf = qemu::build(&blob_path, &dir.path().join("firmware.elf")).unwrap_or_else(|e| panic!("{e:#}"));
    let built = t.elapsed();
    let t = Instant::now();
    let run = qemu::run(&elf, &frames.concat(), &dir.path().join("qemu")).unwrap_or_else(|e| panic!("{e:#}"));
    let got = &run.outputs;
    let mismatches = got.iter().zip(&expected).filter(|(a, b)| a != b).count();
    println!(
        "{}: {} frames, {} output bytes, {mismatches} mismatches; build {:.1} s, QEMU {:.1} s\n{}",
        model.name(),
        frames.len(),
        expected.len(),
        built.as_secs_f64(),
        t.elapsed().as_secs_f64(),
        run.summary().unwrap_or_default()
    );
    assert_eq!(got.len(), expected.len(), "output length");
    assert_eq!(mismatches, 0, "{mismatches} output bytes differ from the reference");

    // One cost record per frame, each with every layer, on the arena build.rs planned.
    assert_eq!(run.costs.len(), frames.len(), "cost records");
    let arena = CameraPlan::of(&model).arena_bytes() as u32;
    for (i, c) in run.costs.iter().enumerate() {
        assert_eq!(c.layers.len(), model.layers().len(), "frame {i}: {c:?}");
        let layers: u64 = c.layers.iter().map(|&n| n as u64).sum();
        // Each layer is charged from the previous one's end: together they are the network,
        // less the SysTick reads around them (40-instruction ticks).
        assert!(layers <= c.network && c.network - layers < c.network / 100 + 4000, "frame {i}: {c:?}");
        assert!(c.network > model.macs() / 4 && c.preprocess > 0 && c.read_rows > 0, "frame {i}: {c:?}");
        assert_eq!(c.arena_bytes, arena, "frame {i}");
        assert!(c.stack_high_water > 0 && c.stack_high_water < c.stack_bytes, "frame {i}: {c:?}");
    }
}

#[test]
fn sign_cnn_in_qemu_is_bit_exact() {
    let n = frames_from_env("PILOT_E2E_SIGN_FRAMES", 200);
    let mut rng = Rng::new(0x516E);
    let frames: Vec<_> = (0..n).map(|_| frames::sign(&mut rng, 32, 32)).collect();
    firmware_matches_reference(&test_vector("sign-random.pnn8"), &frames);
}

#[test]
fn pilotnet_in_qemu_is_bit_exact() {
    let n = frames_from_env("PILOT_E2E_PILOTNET_FRAMES", 25);
    let mut rng = Rng::new(0x9A7E);
    let frames: Vec<_> = (0..n).map(|_| frames::road(&mut rng, 320, 160)).collect();
    firmware_matches_reference(&test_vector("pilotnet-random.pnn8"), &frames);
}

#[test]
fn corrupted_blob_is_reported_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut blob = test_vector("sign-random.pnn8");
    let last = blob.len() - 1;
    blob[last] ^= 0xFF; // payload byte: the CRC no longer matches
    let expected = Model::parse(&blob).unwrap_err();
    let path = dir.path().join("corrupted.pnn8");
    std::fs::write(&path, &blob).unwrap();

    let elf = qemu::build_unchecked(&path, &dir.path().join("firmware.elf")).unwrap_or_else(|e| panic!("{e:#}"));
    let out = qemu::launch(&elf, dir.path(), &[], None).unwrap();
    let log = out.log;
    assert_eq!(out.status.code(), Some(1), "expected exit status 1:\n{log}");
    assert!(log.contains("model blob rejected by the parser: BadCrc"), "{expected} not in the log:\n{log}");
    assert!(!log.contains("HardFault") && !log.contains("panicked"), "{log}");
}

#[test]
fn model_too_large_for_the_chip_fails_the_build() {
    let dir = tempfile::tempdir().unwrap();
    let big = too_big_model().to_bytes();
    // The firmware's arena: the row-band plan with preprocessing's row buffers.
    let arena = CameraPlan::of(&Model::parse(&big).unwrap()).arena_bytes();
    let path = dir.path().join("too-big.pnn8");
    std::fs::write(&path, &big).unwrap();

    let err = qemu::build(&path, &dir.path().join("firmware.elf")).expect_err("the build must fail");
    let log = format!("{err:#}");
    println!("{}", log.lines().find(|l| l.contains("does not fit")).unwrap_or(""));
    assert!(log.contains("does not fit STM32F411CEUx's RAM"), "{log}");
    assert!(log.contains(&format!("activation arena {arena} B")), "{log}");
    // "... = NEEDED B > 131072 B of RAM; MISSING bytes missing": MISSING = NEEDED - 131072.
    // Read it from the message's own line (compiler output elsewhere in the log may hold " = ").
    let line = log.lines().find(|l| l.contains("does not fit STM32F411CEUx's RAM")).expect("the fit message");
    let tail = line.split(" = ").nth(1).expect("needed bytes in the message");
    let needed: usize = tail.split(' ').next().unwrap().parse().unwrap();
    let missing: usize = tail.split("; ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    assert!(needed > 131072 && missing == needed - 131072, "{log}");
}

/// PilotNet's input and one 64-channel 5x5 stride-2 conv: even with the input streamed in row
/// bands, the 31x98x64 = 194432 B output is far beyond 128 KB of RAM. (Weights are irrelevant
/// here.)
fn too_big_model() -> OwnedModel {
    let pilotnet = test_vector("pilotnet-random.pnn8");
    let input = Model::parse(&pilotnet).unwrap().def().input;
    let q = QParams { scale_exp: -4, zero_point: -128 };
    let conv = OwnedConv {
        out_channels: 64,
        window: Window { kernel_h: 5, kernel_w: 5, stride_h: 2, stride_w: 2, pads: Pads::default() },
        relu: true,
        output: q,
        weights: vec![1; 64 * 5 * 5 * 3],
        bias: vec![0; 64],
        multipliers: vec![1 << 10; 64],
    };
    OwnedModel { name: "too-big".into(), task: Task::Regression, input, layers: vec![OwnedNode { name: "conv1".into(), layer: OwnedLayer::Conv2d(conv) }] }
}
