//! Feature extraction from a foreign ONNX image network (a model-zoo AlexNet or ResNet, a
//! torchvision or Keras export): tract runs the graph up to a named node, on images loaded at
//! the graph's own input size and prepared as the network expects (mean/std or a scale, RGB or
//! BGR, NCHW or NHWC); a new head trains on the cached features.
//!
//! Only feature extraction: fine-tuning and training from scratch need a network pilot can
//! train, i.e. its own. The result is a float head on foreign features, saved with a
//! description of the backbone, its cut and its preparation (`head.toml`); it is not a chip
//! model (nothing of it quantizes: the backbone is not pilot's).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{ensure, Context, Result};
use burn::module::Module;
use burn::tensor::{Bytes, Device};
use common::Shape;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use tract_onnx::prelude::*;

use super::backbone::Cut;
use super::features::Extractor;
use super::head::Head;
use super::prepare::{Preparation, PrepareOptions};
use crate::fsutil::atomic_write;
use crate::nn::net::Net;
use crate::nn::spec::{resolve_layer, Activation, ColorKind, InputDesc, LayerSpec, Resolved, ResolvedLayer, TaskKind, Units};
use crate::onnx::foreign::{ForeignGraph, Geometry, GraphNode, InputHints, Layout};

/// How to read a foreign graph: what its file does not say about its input.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ForeignOptions {
    pub hints: InputHints,
    pub prepare: PrepareOptions,
}

impl ForeignOptions {
    /// Whether anything was given (pilot's own networks take none of it).
    pub fn is_empty(&self) -> bool {
        *self == ForeignOptions::default()
    }
}

/// A foreign graph with the preparation its input gets.
pub struct ForeignBackbone {
    pub graph: ForeignGraph,
    pub preparation: Preparation,
    /// Where the preparation came from, for messages.
    pub preparation_from: &'static str,
}

/// The metadata entry in which pilot's float exports state their input scale: the network
/// takes `x = (v - 128) * 2^e` (`onnx::float`).
const PILOT_SCALE_EXP: &str = "pilot.input_scale_exp";

impl ForeignBackbone {
    /// The graph in `bytes` with the preparation `opts` give; with none given, the one the
    /// graph's metadata states (older pilot exports without `pilot.arch`), else `unit` (v/255).
    pub fn read(bytes: &[u8], what: &str, opts: &ForeignOptions) -> Result<ForeignBackbone> {
        let graph = ForeignGraph::read(bytes, what, opts.hints)?;
        let stated = graph.metadata(PILOT_SCALE_EXP).map(|e| e.trim().parse::<i8>().ok().filter(|e| (-24..=8).contains(e)));
        let (preparation, preparation_from) = match stated {
            Some(Some(e)) if opts.prepare == PrepareOptions::default() => {
                let scale = 2f32.powi(e as i32);
                let p = PrepareOptions { scale: Some(scale), mean: Some(vec![128.0 * scale]), ..PrepareOptions::default() };
                (p.resolve(graph.geometry.channels)?, "the graph's pilot.input_scale_exp metadata")
            }
            Some(None) if opts.prepare == PrepareOptions::default() => {
                anyhow::bail!("{what}: its {PILOT_SCALE_EXP} metadata is not a power-of-two exponent; give the preparation (--preset, --mean, --std, --scale)")
            }
            _ => {
                let from = if opts.prepare == PrepareOptions::default() { "the default (--preset unit: nothing given)" } else { "the command line" };
                (opts.prepare.resolve(graph.geometry.channels).with_context(|| format!("{what}: input preparation"))?, from)
            }
        };
        Ok(ForeignBackbone { graph, preparation, preparation_from })
    }

    /// The images the loaders make for it: the graph's size, RGB (or grey), resized whole.
    pub fn input_desc(&self) -> InputDesc {
        let g = &self.graph.geometry;
        InputDesc { height: g.height, width: g.width, color: if g.channels == 1 { ColorKind::Gray } else { ColorKind::Rgb }, scale_exp: -7, frame: None }
    }

    /// The cut at node `name`, or by default at the input of the graph's last Gemm/MatMul.
    pub fn cut(&self, name: Option<&str>) -> Result<Cut> {
        let g = &self.graph;
        let node = match name {
            Some(n) => g.node(n)?,
            None => g.default_cut().with_context(|| {
                format!(
                    "{}: no Gemm or MatMul whose input could be the default cut; give --cut, one of (node, op, output shape): {}",
                    g.what,
                    g.candidate_list()
                )
            })?,
        };
        let values = node.values().context("a candidate has a shape")?;
        let c = u16::try_from(values).ok().with_context(|| {
            format!(
                "{}: {} gives {values} values per image; a head takes at most 65535: cut at a later node (`pilot report --onnx` lists them)",
                g.what, node.name
            )
        })?;
        // No burn blocks: the backbone is the graph. The features are flat in the tensor's order.
        Ok(Cut { name: node.name.clone(), blocks: 0, spec_layers: 0, shape: Shape::new(1, 1, c) })
    }

    /// The node a cut is at.
    pub fn node(&self, cut: &Cut) -> Result<&GraphNode> {
        self.graph.node(&cut.name)
    }
}

/// The graph in tract up to the cut, fed prepared images.
pub struct ForeignExtractor {
    plan: Arc<TypedRunnableModel>,
    geometry: Geometry,
    preparation: Preparation,
    tensor: String,
}

impl ForeignExtractor {
    pub fn new(backbone: &ForeignBackbone, cut: &Cut) -> Result<ForeignExtractor> {
        let node = backbone.node(cut)?;
        let plan = backbone.graph.plan(node)?;
        Ok(ForeignExtractor { plan, geometry: backbone.graph.geometry, preparation: backbone.preparation.clone(), tensor: node.tensor.clone() })
    }

    fn one(&self, hwc: &[i8]) -> Result<Vec<f32>> {
        let mut x = Vec::with_capacity(hwc.len());
        self.preparation.apply(&self.geometry, hwc, &mut x);
        let t = Tensor::from_shape(&self.geometry.dims(), &x)?;
        let outs = self.plan.run(tvec!(t.into()))?;
        Ok(outs[0].to_plain_array_view::<f32>()?.iter().copied().collect())
    }
}

impl Extractor for ForeignExtractor {
    fn engine(&self) -> &'static str {
        "tract"
    }

    fn key(&self) -> String {
        let g = &self.geometry;
        format!("foreign graph, tensor {}, {} {}x{}x{}, {}", self.tensor, g.layout.name(), g.height, g.width, g.channels, self.preparation.key())
    }

    fn run(&mut self, inputs: &[i8], n: usize) -> Result<Vec<f32>> {
        let len = self.geometry.dims().iter().product::<usize>();
        ensure!(inputs.len() == n * len, "{} input values for {n} images of {len}", inputs.len());
        // One image per tract run (the graph may fix its batch at 1), images on all cores.
        let outs: Vec<Vec<f32>> = inputs.par_chunks_exact(len).map(|img| self.one(img)).collect::<Result<_>>()?;
        Ok(outs.concat())
    }
}

/// The head's layers on `features` flat values: `head` with `N` = `outputs`, each ReLU a layer
/// of its own (as [`crate::nn::spec::NetSpec::resolve`] makes them).
pub fn head_layers(head: &Head, features: u16, task: TaskKind, outputs: u16) -> Result<(Vec<LayerSpec>, Vec<ResolvedLayer>)> {
    let specs: Vec<LayerSpec> = head
        .layers
        .iter()
        .map(|l| match l {
            LayerSpec::Dense { units: Units::Named(_), activation } => LayerSpec::Dense { units: Units::Count(outputs), activation: *activation },
            other => other.clone(),
        })
        .collect();
    let mut shape = Shape::new(1, 1, features);
    let mut out = Vec::new();
    for (i, l) in specs.iter().enumerate() {
        let (layer, next) = resolve_layer(l, shape).with_context(|| format!("head layer {}", i + 1))?;
        out.push(ResolvedLayer { layer, input: shape, output: next });
        if matches!(l, LayerSpec::Dense { activation: Some(Activation::Relu), .. }) {
            out.push(ResolvedLayer { layer: Resolved::Relu, input: next, output: next });
        }
        shape = next;
    }
    ensure!(task == TaskKind::Classification || shape.c == 1, "a steering head must end with 1 output, not {}", shape.c);
    Ok((specs, out))
}

/// What a run trained on foreign features holds besides the head's weights (`model.bpk`):
/// written to `head.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForeignHead {
    /// Says what this is, for whoever opens the file.
    pub note: String,
    pub backbone: PathBuf,
    /// FNV-1a of the backbone file, hexadecimal.
    pub backbone_digest: String,
    /// The node the features are taken at, and their count.
    pub cut: String,
    pub features: u16,
    pub input: InputRecord,
    pub preparation: Preparation,
    pub task: TaskKind,
    /// The head as given (`--head`) and its layers on the features.
    pub head: String,
    pub layers: Vec<LayerSpec>,
}

/// The input the backbone was run with.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputRecord {
    pub height: u16,
    pub width: u16,
    pub channels: u16,
    pub layout: Layout,
}

/// Why a foreign head is not a chip model, in the file and on the console.
pub const NOT_A_CHIP_MODEL: &str =
    "a float head on the features of a foreign ONNX graph: not a chip model (pilot quantizes and exports only its own networks; the backbone stays in ONNX)";

impl ForeignHead {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("head.toml")
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        atomic_write(&Self::path(dir), toml::to_string_pretty(self)?.as_bytes())
    }

    pub fn load(dir: &Path) -> Result<ForeignHead> {
        let path = Self::path(dir);
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
    }

    /// The head's best weights (`model.bpk` beside `head.toml`), on `device`.
    pub fn net(&self, dir: &Path, device: &Device) -> Result<Net> {
        let head: Head = self.head.parse()?;
        let outputs = match self.layers.last() {
            Some(LayerSpec::Dense { units: Units::Count(n), .. }) => *n,
            _ => anyhow::bail!("{}: the head does not end with a dense layer", Self::path(dir).display()),
        };
        let (_, layers) = head_layers(&head, self.features, self.task, outputs)?;
        let path = dir.join("model.bpk");
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let record =
            burn::store::ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes)).with_context(|| format!("{} is not a burnpack file", path.display()))?;
        Net::new(&layers, device).try_load_record(record).with_context(|| format!("{} does not match {}", path.display(), Self::path(dir).display()))
    }
}
