//! Corrupting one weight of the blob makes the layer-by-layer comparison name that layer.

use common::format::crc32::crc32;
use common::format::header::HEADER_LEN;
use common::format::Layer;
use common::testing::{random_model, RandomModelOptions, Rng};
use common::Model;
use host::onnx::int8::export;
use host::verify::compare;

#[test]
fn a_corrupted_weight_is_found_at_its_layer() {
    let opts = RandomModelOptions { allow_avg_pool: false, allow_depthwise: false, max_conv_layers: 3, max_dense_layers: 2, ..RandomModelOptions::default() };
    let mut checked = 0;
    for seed in 0..40 {
        let bytes = random_model(&mut Rng::new(seed), &opts).to_bytes();
        let model = Model::parse(&bytes).unwrap();
        let (onnx, outputs) = export(&model).unwrap();
        // The last layer with weights: corrupt its first weight (flip all bits) and reseal the CRC.
        let Some((target, offset)) = model.layers().iter().enumerate().rev().find_map(|(i, n)| match n.layer {
            Layer::Conv2d(c) => Some((i, c.weights.as_ptr() as usize - bytes.as_ptr() as usize)),
            Layer::Dense(d) => Some((i, d.weights.as_ptr() as usize - bytes.as_ptr() as usize)),
            _ => None,
        }) else {
            continue;
        };
        let mut bad = bytes.clone();
        bad[offset] = !bad[offset];
        let crc = crc32(&bad[HEADER_LEN..]);
        bad[12..16].copy_from_slice(&crc.to_le_bytes());
        let bad_model = Model::parse(&bad).unwrap();
        let mut rng = Rng::new(seed);
        let inputs = (0..20).map(|_| rng.i8s(model.input().shape.len()));
        let cmp = compare(&bad_model, &onnx, &outputs, inputs).unwrap();
        if cmp.mismatches() == 0 {
            continue; // the flipped weight happened not to change any output (e.g. all clamped)
        }
        assert_eq!(cmp.first_bad_layer(), Some(target), "seed {seed}");
        assert_eq!(cmp.first.as_ref().unwrap().layer, target, "seed {seed}");
        assert!(cmp.layers[..target].iter().all(|l| l.1 == 0), "layers before the corrupted one agree");
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} models showed the corruption");
}
