//! The new head (`--head "dense 128, dense N"`) and the network it makes with the backbone.

use std::str::FromStr;

use anyhow::{bail, ensure, Context, Result};

use super::backbone::{Backbone, Cut};
use crate::nn::net::{Block, Net};
use crate::nn::spec::{Activation, LayerSpec, NetSpec, TaskKind, Units};
use burn::module::Module;
use burn::tensor::Device;

/// Layers put after the cut: dense layers (ReLU on all but the last) and dropout.
#[derive(Clone, Debug, PartialEq)]
pub struct Head {
    pub layers: Vec<LayerSpec>,
    /// As the user wrote it, for tables.
    pub text: String,
}

impl FromStr for Head {
    type Err = anyhow::Error;

    /// `"dense 128, dropout 0.5, dense N"`: `N` (or `classes`) is the data's class count (1 for
    /// steering).
    fn from_str(text: &str) -> Result<Head> {
        let mut layers = Vec::new();
        for part in text.split(',').map(str::trim) {
            let words: Vec<&str> = part.split_whitespace().collect();
            let here = || format!("--head {text:?}: {part:?}");
            layers.push(match words[..] {
                ["dense", n] => {
                    let units = match n {
                        "N" | "n" | "classes" => Units::Named("classes".into()),
                        _ => {
                            Units::Count(n.parse().ok().filter(|&u: &u16| u > 0).with_context(|| format!("{}: units must be a positive number or N", here()))?)
                        }
                    };
                    LayerSpec::Dense { units, activation: Some(Activation::Relu) }
                }
                ["dropout", r] => {
                    let rate: f64 = r.parse().ok().filter(|r| (0.0..1.0).contains(r)).with_context(|| format!("{}: the rate must be in [0, 1)", here()))?;
                    LayerSpec::Dropout { rate }
                }
                _ => bail!("{}: expected \"dense UNITS\" or \"dropout RATE\" (e.g. \"dense 128, dense N\")", here()),
            });
        }
        match layers.last_mut() {
            Some(LayerSpec::Dense { activation, .. }) => *activation = None,
            _ => bail!("--head {text:?}: the head must end with a dense layer (e.g. \"dense N\")"),
        }
        Ok(Head { layers, text: text.trim().to_string() })
    }
}

impl Head {
    /// Number of dense layers ("1-dense", "2-dense" in tables).
    pub fn dense_layers(&self) -> usize {
        self.layers.iter().filter(|l| matches!(l, LayerSpec::Dense { .. })).count()
    }
}

/// The backbone up to `cut`, then a flatten if the cut is an image, then `head`; `outputs` is
/// the class count (or 1 for steering).
pub fn network(backbone: &Backbone, cut: &Cut, head: &Head, task: TaskKind, outputs: u16, name: &str) -> Result<NetSpec> {
    let mut layers = backbone.spec.layers[..cut.spec_layers].to_vec();
    if !cut.shape.is_flat() {
        layers.push(LayerSpec::Flatten);
    }
    layers.extend(head.layers.iter().cloned());
    let spec = NetSpec { name: name.into(), task, input: backbone.spec.input.clone(), layers }.with_classes(outputs);
    spec.resolve().context("the transferred network")?;
    Ok(spec)
}

/// The network of `spec` (made by [`network`]) with the backbone's weights up to the cut and a
/// freshly initialised head, on `device`.
pub fn assemble(backbone: &Backbone, cut: &Cut, spec: &NetSpec, device: &Device) -> Result<Net> {
    let fresh = Net::new(&spec.resolve()?, device);
    ensure!(fresh.blocks.len() > cut.blocks, "the transferred network has no head");
    let kept = &backbone.net.blocks[..cut.blocks];
    for (i, (a, b)) in kept.iter().zip(&fresh.blocks).enumerate() {
        ensure!(std::mem::discriminant(a) == std::mem::discriminant(b), "block {i} of the backbone does not match the transferred network");
    }
    let blocks: Vec<Block> = kept.iter().cloned().chain(fresh.blocks[cut.blocks..].iter().cloned()).collect();
    Ok(Net::from_blocks(blocks).fork(device))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_parse() {
        let h: Head = "dense 128, dense N".parse().unwrap();
        assert_eq!(
            h.layers,
            vec![
                LayerSpec::Dense { units: Units::Count(128), activation: Some(Activation::Relu) },
                LayerSpec::Dense { units: Units::Named("classes".into()), activation: None },
            ]
        );
        assert_eq!(h.dense_layers(), 2);
        let h: Head = " dense N ".parse().unwrap();
        assert_eq!(h.layers, vec![LayerSpec::Dense { units: Units::Named("classes".into()), activation: None }]);
        assert!(matches!("dense 64, dropout 0.5, dense 10".parse::<Head>().unwrap().layers[1], LayerSpec::Dropout { .. }));
        for bad in ["", "dense", "dense 0, dense N", "dense N, dropout 0.5", "conv 3", "dense 128 dense N", "dropout 1.5, dense N"] {
            let err = bad.parse::<Head>().unwrap_err().to_string();
            assert!(err.contains("--head"), "{bad:?}: {err}");
        }
    }
}
