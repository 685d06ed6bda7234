//! The model blob: round trips, typed errors, and a parser that never panics.

use common::format::crc32::crc32;
use common::format::header::HEADER_LEN;
use common::format::{InvalidKind, ParseError};
use common::testing::{random_model, RandomModelOptions, Rng};
use common::Model;
use proptest::prelude::*;

fn blob(seed: u64) -> Vec<u8> {
    random_model(&mut Rng::new(seed), &RandomModelOptions::default()).to_bytes()
}

/// Recomputes the header's length and CRC so mutations reach the payload decoder and validator.
fn reseal(bytes: &mut [u8]) {
    if bytes.len() < HEADER_LEN {
        return;
    }
    let len = (bytes.len() - HEADER_LEN) as u32;
    bytes[8..12].copy_from_slice(&len.to_le_bytes());
    let crc = crc32(&bytes[HEADER_LEN..]);
    bytes[12..16].copy_from_slice(&crc.to_le_bytes());
}

/// Whatever parses must also run: every shape, slot and buffer is in bounds.
fn parse_and_run(bytes: &[u8]) {
    if let Ok(model) = Model::parse(bytes) {
        let mut arena = vec![0i8; model.plan().arena_bytes()];
        let input = vec![3i8; model.input().shape.len()];
        common::run(&model, &input, &mut arena).expect("a parsed model runs");
    }
}

#[test]
fn random_models_round_trip() {
    for seed in 0..300 {
        let owned = random_model(&mut Rng::new(seed), &RandomModelOptions::default());
        let bytes = owned.to_bytes();
        let model = Model::parse(&bytes).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(model.layers().len(), owned.layers.len());
        assert_eq!(model.def().input, owned.input);
        // Writing the parsed definition again gives the same bytes.
        assert_eq!(common::format::write(model.def()), bytes, "seed {seed}");
    }
}

#[test]
fn weights_are_borrowed_from_the_blob() {
    let bytes = blob(7);
    let model = Model::parse(&bytes).unwrap();
    let range = bytes.as_ptr_range();
    for node in model.layers() {
        if let common::Layer::Conv2d(c) = node.layer {
            assert!(range.contains(&c.weights.as_ptr()), "conv weights must point into the blob");
        }
        if let common::Layer::Dense(d) = node.layer {
            assert!(range.contains(&d.weights.as_ptr()), "dense weights must point into the blob");
        }
    }
}

#[test]
fn header_errors_are_typed() {
    let good = blob(1);
    assert!(matches!(Model::parse(&good[..10]), Err(ParseError::Truncated { .. })));
    let mut b = good.clone();
    b[0] = b'X';
    assert_eq!(Model::parse(&b).unwrap_err(), ParseError::BadMagic);
    let mut b = good.clone();
    b[4] = 9;
    assert_eq!(Model::parse(&b).unwrap_err(), ParseError::UnsupportedVersion(9));
    let mut b = good.clone();
    b.push(0);
    assert!(matches!(Model::parse(&b), Err(ParseError::LengthMismatch { .. })));
    let mut b = good.clone();
    let last = b.len() - 1;
    b[last] ^= 0x40;
    assert!(matches!(Model::parse(&b), Err(ParseError::BadCrc { .. })));
    let mut b = good.clone();
    b.push(0);
    reseal(&mut b);
    assert_eq!(Model::parse(&b).unwrap_err(), ParseError::TrailingBytes(1));
}

#[test]
fn validation_errors_name_the_layer() {
    use common::format::owned::OwnedLayer;
    let mut owned = random_model(&mut Rng::new(3), &RandomModelOptions::default());
    let i = owned.layers.iter().position(|n| matches!(n.layer, OwnedLayer::Dense(_))).unwrap();
    let OwnedLayer::Dense(d) = &mut owned.layers[i].layer else { unreachable!() };
    d.multipliers[0] = 0;
    let err = Model::parse(&owned.to_bytes()).unwrap_err();
    assert_eq!(err, ParseError::Invalid(common::format::Invalid { layer: Some(i as u8), kind: InvalidKind::MultiplierRange { channel: 0 } }));
    assert!(err.to_string().starts_with(&format!("layer {i}: multiplier")), "{err}");

    let OwnedLayer::Dense(d) = &mut owned.layers[i].layer else { unreachable!() };
    d.multipliers[0] = 1;
    d.weights.pop();
    assert!(matches!(Model::parse(&owned.to_bytes()), Err(ParseError::Invalid(common::format::Invalid { kind: InvalidKind::WeightsLength { .. }, .. }))));

    let mut empty = owned.clone();
    empty.layers.clear();
    assert!(matches!(Model::parse(&empty.to_bytes()), Err(ParseError::Invalid(common::format::Invalid { kind: InvalidKind::NoLayers, .. }))));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600), seal in any::<bool>()) {
        let mut bytes = bytes;
        if seal && bytes.len() >= HEADER_LEN {
            bytes[0..4].copy_from_slice(b"PNN8");
            bytes[4..8].copy_from_slice(&[1, 0, 0, 0]);
            reseal(&mut bytes);
        }
        parse_and_run(&bytes);
    }

    #[test]
    fn mutated_blobs_never_panic(seed in 0u64..200, edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..6)) {
        let mut bytes = blob(seed);
        for (at, value, kind) in edits {
            let i = HEADER_LEN + at.index(bytes.len() - HEADER_LEN);
            match kind {
                0 => bytes[i] = value,
                1 => bytes[i] ^= 1 << (value % 8),
                2 => bytes.truncate(i),
                _ => bytes.insert(i, value),
            }
            if bytes.len() <= HEADER_LEN {
                break;
            }
        }
        reseal(&mut bytes);
        parse_and_run(&bytes);
    }
}

/// The shipped blobs (written by earlier versions of this code) still parse, and writing the
/// parsed definition back gives the very same bytes: the encoding has not moved.
#[test]
fn shipped_blobs_parse_and_rewrite_identically() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/");
    for name in ["pilotnet/pilotnet.pnn8", "sign/sign.pnn8", "testvectors/pilotnet-random.pnn8", "testvectors/sign-random.pnn8"] {
        let bytes = std::fs::read(format!("{root}{name}")).unwrap();
        let model = Model::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(common::format::write(model.def()), bytes, "{name}");
    }
}
