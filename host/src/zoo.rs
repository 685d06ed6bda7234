//! The built-in architectures (`host/archs/*.toml`) as int8 models with RANDOM weights.
//!
//! Used where only the architecture matters: memory-plan numbers, kernel benchmarks and test
//! vectors. Trained weights come from the trainer and the quantizer.

use anyhow::{Context, Result};
use common::format::owned::OwnedModel;
use common::format::{InputSpec, Pads, Window};
use common::testing::{ModelBuilder, Rng, Tables};

use crate::nn::spec::{NetSpec, Resolved};

/// `spec` with random weights whose multipliers keep activations in a useful range, so kernels
/// see realistic data (`common::testing::Tables::Realistic`). Dropout and batch-norm vanish (as
/// in quantization); a ReLU fuses into the layer before it.
pub fn random(spec: &NetSpec, seed: u64) -> Result<OwnedModel> {
    let layers = spec.resolve().with_context(|| format!("architecture {}", spec.name))?;
    let mut b = ModelBuilder::new(&spec.name, spec.task(), spec.input_spec(), Rng::new(seed), Tables::Realistic);
    for (i, l) in layers.iter().enumerate() {
        let relu = matches!(layers.get(i + 1).map(|n| &n.layer), Some(Resolved::Relu));
        match &l.layer {
            Resolved::Conv2d { filters, kernel, stride, pads } => b.conv(*filters, Window::square(*kernel, *stride, *pads), relu),
            Resolved::Depthwise { kernel, stride, pads } => b.depthwise(Window::square(*kernel, *stride, *pads), relu),
            Resolved::Dense { units } => b.dense(*units, relu),
            Resolved::MaxPool { size, stride } => b.pool(Window::square(*size, *stride, Pads::default()), false),
            Resolved::AvgPool { size, stride } => b.pool(Window::square(*size, *stride, Pads::default()), true),
            Resolved::Flatten => b.flatten(),
            Resolved::Dropout { .. } | Resolved::BatchNorm | Resolved::Relu => &mut b,
        };
    }
    Ok(b.build())
}

/// A built-in architecture by name, with random weights (`classes` fills `units = "classes"`).
fn builtin(name: &str, classes: u16, seed: u64) -> OwnedModel {
    let spec = NetSpec::load(name).expect("built-in architectures parse").with_classes(classes);
    random(&spec, seed).expect("built-in architectures resolve")
}

/// PilotNet's input: a 320x160 RGB888 Udacity frame, rows 60..135 cropped (sky and bonnet
/// removed), resized to 200x66, YUV, real value `q / 128` (`host/archs/pilotnet.toml`).
pub fn pilotnet_input() -> InputSpec {
    NetSpec::load("pilotnet").expect("built-in architectures parse").input_spec()
}

/// NVIDIA PilotNet (`host/archs/pilotnet.toml`) with random weights.
pub fn pilotnet_random(seed: u64) -> OwnedModel {
    builtin("pilotnet", 1, seed)
}

/// The traffic-sign classifier's input: a 32x32 RGB888 image (already cropped to the sign).
pub fn sign_input() -> InputSpec {
    NetSpec::load("sign").expect("built-in architectures parse").input_spec()
}

/// The sign CNN (`host/archs/sign.toml`, 43 classes) with random weights.
pub fn sign_cnn_random(seed: u64) -> OwnedModel {
    builtin("sign", 43, seed)
}

#[cfg(test)]
mod tests {
    /// `pilot zoo` (seed 1) reproduces the committed test vectors byte for byte.
    #[test]
    fn test_vectors_are_reproducible() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/testvectors/");
        for (model, file) in [(super::pilotnet_random(1), "pilotnet-random.pnn8"), (super::sign_cnn_random(1), "sign-random.pnn8")] {
            assert_eq!(model.to_bytes(), std::fs::read(format!("{dir}{file}")).unwrap(), "{file}");
        }
    }
}
