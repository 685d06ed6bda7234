//! The network transferred from, and the layer it is cut after.
//!
//! A backbone is a `pilot` training run (its best checkpoint) or a float ONNX file written by
//! `pilot export --float-onnx`. Either way it becomes a burn network; an ONNX backbone also keeps
//! its bytes, so feature extraction can run it in tract.

use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use common::Shape;

use super::hash::Fnv;
use crate::nn::net::Net;
use crate::nn::spec::{Activation, LayerSpec, NetSpec};
use crate::onnx::import;
use crate::quant::graph::{extract, layer_names, FloatLayer};
use crate::train::checkpoint::RunDir;
use crate::train::infer_device;

/// Where a backbone's weights came from.
pub enum Source {
    /// A training run folder.
    Checkpoint,
    /// A float ONNX file: its bytes, and for each burn block the ONNX tensor with its values.
    Onnx { bytes: Vec<u8>, block_tensors: Vec<String>, input_tensor: String },
}

pub struct Backbone {
    /// The architecture transferred from (its old head included).
    pub spec: NetSpec,
    /// Its weights (inference device).
    pub net: Net,
    pub source: Source,
    /// The file or folder it was loaded from.
    pub origin: PathBuf,
    /// A hash of the architecture and the weights: part of the feature cache key.
    pub digest: u64,
}

/// The backbone up to a layer: what feature extraction runs and fine-tuning keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    /// The layer's name (`conv2`, `pool1`, `flatten1`, `dense1`, as in every report).
    pub name: String,
    /// The backbone is burn blocks `0..blocks`.
    pub blocks: usize,
    /// ... which are the architecture's layers `0..spec_layers`.
    pub spec_layers: usize,
    /// The features' shape (HWC). Features of an image shape are flattened in burn's order
    /// (channel, row, column).
    pub shape: Shape,
}

impl Backbone {
    /// A training run folder (holding `arch.toml` and `model.bpk`) or a float ONNX file.
    pub fn load(path: &Path) -> Result<Backbone> {
        let device = infer_device();
        if path.is_dir() {
            let run = RunDir::new(path);
            ensure!(run.arch_path().exists() && run.best_path().exists(), "{} is not a training run folder (no arch.toml and model.bpk)", path.display());
            let spec = run.spec()?;
            let net = run.load_best(&device)?;
            let mut h = Fnv::new();
            h.write(spec.to_toml().as_bytes());
            h.write(&std::fs::read(run.best_path()).with_context(|| format!("cannot read {}", run.best_path().display()))?);
            return Ok(Backbone { spec, net, source: Source::Checkpoint, origin: path.into(), digest: h.finish() });
        }
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {} (give a training run folder or a float ONNX file)", path.display()))?;
        let imported = import::import(&bytes, &path.display().to_string(), &device)?;
        let mut h = Fnv::new();
        h.write(&bytes);
        let digest = h.finish();
        let source = Source::Onnx { bytes, block_tensors: imported.block_tensors, input_tensor: imported.input_tensor };
        Ok(Backbone { spec: imported.spec, net: imported.net, source, origin: path.into(), digest })
    }

    /// The names of the layers it can be cut after.
    pub fn layer_names(&self) -> Result<Vec<String>> {
        Ok(layer_names(&extract(&self.net, &self.spec.resolve()?)?))
    }

    /// The cut after layer `name`; by default after the last flatten (the classic bottleneck),
    /// or before the first dense layer when there is no flatten.
    pub fn cut(&self, name: Option<&str>) -> Result<Cut> {
        let graph = extract(&self.net, &self.spec.resolve()?)?;
        let names = layer_names(&graph);
        let at = match name {
            Some(n) => names.iter().position(|x| x == n).with_context(|| format!("{} has no layer {n:?}; its layers: {}", self.origin.display(), names.join(", ")))?,
            None => match graph.iter().rposition(|g| matches!(g.layer, FloatLayer::Flatten)) {
                Some(i) => i,
                None => graph
                    .iter()
                    .position(|g| matches!(g.layer, FloatLayer::Dense { .. }))
                    .and_then(|i| i.checked_sub(1))
                    .with_context(|| format!("{}: no layer before the first dense layer to cut after; give --cut", self.origin.display()))?,
            },
        };
        let g = &graph[at];
        let name = names[at].clone();
        if g.relu_moved_in {
            bail!("{name}'s ReLU comes after a later max-pool in this network, so its output is not a feature the exported network has; cut at {}", names[at + 1]);
        }
        ensure!(at + 1 < graph.len(), "{name} is the last layer: nothing would be left to replace; cut earlier ({})", names[..at].join(", "));
        let blocks = g.block + 1;
        let spec_layers = spec_layers_for_blocks(&self.spec.layers, blocks)
            .with_context(|| format!("{name} ends inside a layer of the architecture; cut at another layer"))?;
        Ok(Cut { name, blocks, spec_layers, shape: g.output })
    }

    /// For an ONNX backbone: the tensor tract must output for `cut`, with values in burn's
    /// order (a flatten cut takes the image before the NHWC flatten: flattening NCHW is burn's).
    pub fn onnx_tensor(&self, cut: &Cut) -> Option<(&[u8], String)> {
        let Source::Onnx { bytes, block_tensors, input_tensor } = &self.source else { return None };
        let flatten_cut = cut.spec_layers > 0 && matches!(self.spec.layers[cut.spec_layers - 1], LayerSpec::Flatten);
        let tensor = if flatten_cut {
            match cut.blocks.checked_sub(2) {
                Some(b) => block_tensors[b].clone(),
                None => input_tensor.clone(),
            }
        } else {
            block_tensors[cut.blocks - 1].clone()
        };
        Some((bytes, tensor))
    }
}

/// How many architecture layers make up the first `blocks` burn blocks (an activation is a
/// block of its own); `None` when the blocks end inside a layer.
fn spec_layers_for_blocks(layers: &[LayerSpec], blocks: usize) -> Option<usize> {
    let mut count = 0;
    for (i, l) in layers.iter().enumerate() {
        count += match l {
            LayerSpec::Conv2d { activation: Some(Activation::Relu), .. } | LayerSpec::Dense { activation: Some(Activation::Relu), .. } => 2,
            _ => 1,
        };
        if count == blocks {
            return Some(i + 1);
        }
        if count > blocks {
            return None;
        }
    }
    None
}
