//! The network transferred from, and the layer it is cut after.
//!
//! A backbone is a `pilot` training run (its best checkpoint), a float ONNX file written by
//! `pilot export --float-onnx`, or any other ONNX image network (a foreign graph). pilot's own
//! become burn networks; its ONNX files also keep their bytes, so feature extraction can run
//! them in tract. A foreign graph is run by tract alone ([`super::foreign`]): it has no burn
//! network, and only feature extraction uses it.

use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use common::Shape;

use super::foreign::{ForeignBackbone, ForeignOptions};
use super::hash::Fnv;
use crate::nn::net::Net;
use crate::nn::spec::{Activation, LayerSpec, NetSpec, TaskKind};
use crate::onnx::{foreign, import};
use crate::quant::graph::{extract, layer_names, FloatLayer};
use crate::train::checkpoint::RunDir;
use crate::train::infer_device;

/// Where a backbone's weights came from.
pub enum Source {
    /// A training run folder.
    Checkpoint,
    /// A float ONNX file: its bytes, and for each burn block the ONNX tensor with its values.
    Onnx { bytes: Vec<u8>, block_tensors: Vec<String>, input_tensor: String },
    /// Any other ONNX image network, run by tract up to a named node.
    Foreign(Box<ForeignBackbone>),
}

pub struct Backbone {
    /// The architecture transferred from (its old head included). For a foreign graph only its
    /// input is meaningful (the images the data loaders make for it); it has no layers.
    pub spec: NetSpec,
    /// Its weights (inference device); no blocks for a foreign graph.
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
    /// The backbone is burn blocks `0..blocks` (0 for a foreign graph).
    pub blocks: usize,
    /// ... which are the architecture's layers `0..spec_layers`.
    pub spec_layers: usize,
    /// The features' shape (HWC). Features of an image shape are flattened in burn's order
    /// (channel, row, column). A foreign graph's features are flat (1x1xN), in its tensor's
    /// order.
    pub shape: Shape,
}

impl Backbone {
    /// A training run folder (holding `arch.toml` and `model.bpk`) or an ONNX file; a foreign
    /// graph with what [`ForeignOptions::default`] assumes about its input.
    pub fn load(path: &Path) -> Result<Backbone> {
        Backbone::load_with(path, &ForeignOptions::default())
    }

    /// As [`Backbone::load`], with `foreign` saying what a foreign graph's file does not (its
    /// input size, layout and preparation). pilot's own networks record their input, so for
    /// them `foreign` must be empty.
    pub fn load_with(path: &Path, foreign: &ForeignOptions) -> Result<Backbone> {
        let device = infer_device();
        let own = |what: &str| {
            ensure!(
                foreign.is_empty(),
                "{what} is pilot's own network, which records its input: --preset, --mean, --std, --scale, --bgr, --layout and --input-size are for foreign ONNX graphs"
            );
            Ok(())
        };
        if path.is_dir() {
            own(&path.display().to_string())?;
            let run = RunDir::new(path);
            ensure!(run.arch_path().exists() && run.best_path().exists(), "{} is not a training run folder (no arch.toml and model.bpk)", path.display());
            let spec = run.spec()?;
            let net = run.load_best(&device)?;
            let mut h = Fnv::new();
            h.write(spec.to_toml().as_bytes());
            h.write(&std::fs::read(run.best_path()).with_context(|| format!("cannot read {}", run.best_path().display()))?);
            return Ok(Backbone { spec, net, source: Source::Checkpoint, origin: path.into(), digest: h.finish() });
        }
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {} (give a training run folder or an ONNX file)", path.display()))?;
        let what = path.display().to_string();
        let mut h = Fnv::new();
        h.write(&bytes);
        let digest = h.finish();
        if !foreign::is_pilot_export(&bytes) {
            let f = ForeignBackbone::read(&bytes, &what, foreign)?;
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "foreign".into());
            let spec = NetSpec { name, task: TaskKind::Classification, input: f.input_desc(), layers: Vec::new() };
            return Ok(Backbone { spec, net: Net::from_blocks(Vec::new()), source: Source::Foreign(Box::new(f)), origin: path.into(), digest });
        }
        own(&what)?;
        let imported = import::import(&bytes, &what, &device)?;
        let source = Source::Onnx { bytes, block_tensors: imported.block_tensors, input_tensor: imported.input_tensor };
        Ok(Backbone { spec: imported.spec, net: imported.net, source, origin: path.into(), digest })
    }

    /// The foreign graph, if the backbone is one.
    pub fn foreign(&self) -> Option<&ForeignBackbone> {
        match &self.source {
            Source::Foreign(f) => Some(f),
            _ => None,
        }
    }

    /// The names of the layers it can be cut after (a foreign graph's candidate nodes).
    pub fn layer_names(&self) -> Result<Vec<String>> {
        if let Some(f) = self.foreign() {
            return Ok(f.graph.candidates().map(|n| n.name.clone()).collect());
        }
        Ok(layer_names(&extract(&self.net, &self.spec.resolve()?)?))
    }

    /// The cut after layer `name`; by default after the last flatten (the classic bottleneck),
    /// or before the first dense layer when there is no flatten. A foreign graph is cut at node
    /// `name`, by default at the input of its last Gemm/MatMul.
    pub fn cut(&self, name: Option<&str>) -> Result<Cut> {
        if let Some(f) = self.foreign() {
            return f.cut(name);
        }
        let graph = extract(&self.net, &self.spec.resolve()?)?;
        let names = layer_names(&graph);
        let at = match name {
            Some(n) => {
                names.iter().position(|x| x == n).with_context(|| format!("{} has no layer {n:?}; its layers: {}", self.origin.display(), names.join(", ")))?
            }
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
            bail!(
                "{name}'s ReLU comes after a later max-pool in this network, so its output is not a feature the exported network has; cut at {}",
                names[at + 1]
            );
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
