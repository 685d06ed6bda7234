//! Any standard ONNX image network (a model-zoo AlexNet or ResNet, a torchvision or Keras
//! export), read by tract: its image input (size and layout, where the graph states them), its
//! nodes with their output shapes (the places it can be cut), and a runnable plan that stops at
//! one of them.
//!
//! Nothing here assumes pilot's own operators: tract runs whatever it supports (LRN,
//! BatchNormalization, Add, Concat, GlobalAveragePool, Softmax, ...). pilot's own float export
//! is read by [`super::import`] instead, which rebuilds it as a trainable burn network.

use std::fmt::Write as _;

use anyhow::{bail, ensure, Context, Result};
use prost::Message;
use tract_onnx::pb::tensor_shape_proto::dimension;
use tract_onnx::pb::{type_proto, ModelProto};
use tract_onnx::prelude::*;

use super::rewrite;

/// How an image tensor's axes are ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// `[N, C, H, W]` (Caffe, PyTorch, MXNet exports).
    Nchw,
    /// `[N, H, W, C]` (TensorFlow/Keras exports).
    Nhwc,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Nchw => "NCHW",
            Layout::Nhwc => "NHWC",
        }
    }
}

/// The graph's image input as the file declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclaredInput {
    pub name: String,
    /// Each dimension: its size, or `None` where the graph leaves it open (a named batch
    /// dimension such as `N`, or a free image size).
    pub dims: Vec<Option<usize>>,
    /// The dimensions as written (`1x3x224x224`, `Nx3x224x224`), for messages.
    pub text: String,
}

/// The input the graph is run with: one image of `height x width x channels` in `layout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub layout: Layout,
    pub height: u16,
    pub width: u16,
    pub channels: u16,
}

impl Geometry {
    /// The input tensor's dimensions, batch 1.
    pub fn dims(&self) -> [usize; 4] {
        let (h, w, c) = (self.height as usize, self.width as usize, self.channels as usize);
        match self.layout {
            Layout::Nchw => [1, c, h, w],
            Layout::Nhwc => [1, h, w, c],
        }
    }
}

/// What the user says about the input where the graph does not.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InputHints {
    /// `(height, width)`.
    pub size: Option<(u16, u16)>,
    pub layout: Option<Layout>,
}

/// One node of the graph, with what it computes for one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphNode {
    /// The node's name (its first output's name when the node has none, as tract names it).
    pub name: String,
    pub op: String,
    /// Its first output tensor: what a cut there returns.
    pub tensor: String,
    /// The tensors it reads (weights included).
    pub inputs: Vec<String>,
    /// The output's dimensions for one image; `None` when tract could not tell.
    pub shape: Option<Vec<usize>>,
    /// Whether the output is a float tensor.
    pub float: bool,
}

impl GraphNode {
    /// Whether features can be taken here: one image's float tensor, batch first.
    pub fn is_candidate(&self) -> bool {
        self.float && self.shape.as_ref().is_some_and(|s| s.len() >= 2 && s[0] == 1)
    }

    /// Values per image (the product of the dimensions after the batch).
    pub fn values(&self) -> Option<usize> {
        self.shape.as_ref().map(|s| s[1..].iter().product())
    }

    /// `1x256x6x6`, or `?`.
    pub fn shape_text(&self) -> String {
        match &self.shape {
            Some(s) => s.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x"),
            None => "?".into(),
        }
    }
}

/// A foreign ONNX graph, typed by tract for one image.
pub struct ForeignGraph {
    /// The file, for messages.
    pub what: String,
    /// The graph's name and producer, as stored.
    pub name: String,
    pub producer: String,
    pub input: DeclaredInput,
    pub geometry: Geometry,
    /// Every node, in the file's order, with its output shape.
    pub nodes: Vec<GraphNode>,
    /// Values in the graph's float initializers (its weights).
    pub parameters: usize,
    /// The model's metadata (`metadata_props`), as stored.
    pub metadata: Vec<(String, String)>,
    /// The LRN nodes run as standard operators ([`rewrite::lrn`]).
    pub fast_lrn: Vec<String>,
    /// The whole graph in tract, batch 1; plans are cut from it.
    typed: TypedModel,
}

/// Whether ONNX bytes were written by `pilot export --float-onnx` (they carry the architecture
/// in the `pilot.arch` metadata, and [`super::import`] rebuilds them as a burn network).
pub fn is_pilot_export(bytes: &[u8]) -> bool {
    ModelProto::decode(bytes).is_ok_and(|m| m.metadata_props.iter().any(|p| p.key == "pilot.arch"))
}

impl ForeignGraph {
    /// Reads ONNX bytes (`what` names the file in errors) for one image: the input's size and
    /// layout come from the graph where it fixes them, else from `hints`.
    pub fn read(bytes: &[u8], what: &str, hints: InputHints) -> Result<ForeignGraph> {
        let proto = ModelProto::decode(bytes).with_context(|| format!("{what} is not an ONNX model"))?;
        let graph = proto.graph.as_ref().with_context(|| format!("{what} has no graph"))?;
        let input = declared_input(&proto, what)?;
        let geometry = geometry(&input, hints).with_context(|| format!("{what}: input {:?} ({})", input.name, input.text))?;

        let typed = typed(bytes, what, &geometry)?;

        let mut nodes = Vec::with_capacity(graph.node.len());
        for n in &graph.node {
            let Some(tensor) = n.output.first().filter(|t| !t.is_empty()) else { continue };
            let name = if n.name.is_empty() { tensor.clone() } else { n.name.clone() };
            let fact = fact(&typed, tensor);
            nodes.push(GraphNode {
                name,
                op: n.op_type.clone(),
                tensor: tensor.clone(),
                inputs: n.input.clone(),
                shape: fact.and_then(|f| f.shape.as_concrete().map(|s| s.to_vec())),
                float: fact.is_some_and(|f| f.datum_type == f32::datum_type()),
            });
        }
        ensure!(!nodes.is_empty(), "{what}: the graph has no nodes");
        let float = tract_onnx::pb::tensor_proto::DataType::Float as i32;
        let parameters = graph.initializer.iter().filter(|t| t.data_type == float).map(|t| t.dims.iter().map(|&d| d.max(0) as usize).product::<usize>()).sum();
        let metadata = proto.metadata_props.iter().map(|p| (p.key.clone(), p.value.clone())).collect();
        let (name, producer) = (graph.name.clone(), proto.producer_name.clone());

        // The shapes above are the graph's as written; the plans run it with its LRNs rewritten
        // (one copy of the weights in memory at a time: a model-zoo AlexNet has 244 MB).
        let four_d: std::collections::HashSet<String> = graph
            .node
            .iter()
            .filter(|n| n.op_type == "LRN")
            .filter_map(|n| n.input.first())
            .filter(|t| fact(&typed, t).is_some_and(|f| f.shape.rank() == 4))
            .cloned()
            .collect();
        let (typed, fast_lrn) = if four_d.is_empty() {
            (typed, Vec::new())
        } else {
            drop(typed);
            let mut proto = proto;
            let fast_lrn = rewrite::lrn(&mut proto, |t| four_d.contains(t))?;
            let bytes = proto.encode_to_vec();
            drop(proto);
            (self::typed(&bytes, what, &geometry).context("with its LRN nodes as standard operators")?, fast_lrn)
        };
        Ok(ForeignGraph { what: what.into(), name, producer, input, geometry, nodes, parameters, metadata, fast_lrn, typed })
    }

    /// The value of metadata entry `key`.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The nodes features can be taken from.
    pub fn candidates(&self) -> impl Iterator<Item = &GraphNode> {
        self.nodes.iter().filter(|n| n.is_candidate())
    }

    /// The node named `name` (a node name or its output tensor's name); an unknown name is an
    /// error that lists the candidates with their output shapes.
    pub fn node(&self, name: &str) -> Result<&GraphNode> {
        let found = self.nodes.iter().find(|n| n.name == name).or_else(|| self.nodes.iter().find(|n| n.tensor == name));
        match found {
            Some(n) if n.is_candidate() => Ok(n),
            Some(n) => bail!(
                "{}: node {name:?} ({}) gives {} {}, not one image's float features; cut at one of: {}",
                self.what,
                n.op,
                if n.float { "a tensor of shape" } else { "a non-float tensor of shape" },
                n.shape_text(),
                self.candidate_list()
            ),
            None => bail!("{} has no node {name:?}; cut at one of (node, op, output shape): {}", self.what, self.candidate_list()),
        }
    }

    /// `name (Op) 1x64x55x55, ...`.
    pub fn candidate_list(&self) -> String {
        self.candidates().map(|n| format!("{} ({}) {}", n.name, n.op, n.shape_text())).collect::<Vec<_>>().join(", ")
    }

    /// Where a network's own classifier reads its features: the input of its last `Gemm` or
    /// `MatMul` (AlexNet's fc8 reads fc7, ResNet's fc the pooled 2048 values). `None` when the
    /// graph has no such node.
    pub fn default_cut(&self) -> Option<&GraphNode> {
        let last = self.nodes.iter().rev().find(|n| n.op == "Gemm" || n.op == "MatMul")?;
        let input = last.inputs.first()?;
        self.nodes.iter().find(|n| &n.tensor == input).filter(|n| n.is_candidate())
    }

    /// The graph run up to `node`'s output, optimized, for one image of [`Self::geometry`].
    pub fn plan(&self, node: &GraphNode) -> Result<Arc<TypedRunnableModel>> {
        let what = &self.what;
        let model = self.typed.clone().with_outputs_by_name([node.tensor.as_str()]).with_context(|| format!("{what}: no tensor {:?}", node.tensor))?;
        let plan = model.into_optimized().with_context(|| format!("tract cannot optimize {what} up to {}", node.name))?.into_runnable()?;
        Ok(plan)
    }

    /// What `pilot report --onnx` prints: the input, then every node with its output shape,
    /// marking the default cut and the nodes that cannot be cut at.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let g = &self.geometry;
        let _ = writeln!(s, "{}: graph {:?} (producer {:?}), {} nodes, {} weights", self.what, self.name, self.producer, self.nodes.len(), self.parameters);
        let _ = writeln!(
            s,
            "input {:?}: declared {}, run as {} {} ({}x{}, {} channel{})",
            self.input.name,
            self.input.text,
            g.layout.name(),
            dims_text(&g.dims()),
            g.height,
            g.width,
            g.channels,
            if g.channels == 1 { "" } else { "s" }
        );
        if !self.fast_lrn.is_empty() {
            let _ = writeln!(s, "LRN nodes run as standard operators (tract's own LRN is a per-value loop): {}", self.fast_lrn.join(", "));
        }
        for (k, v) in &self.metadata {
            let v = v.lines().next().unwrap_or_default();
            let short: String = v.chars().take(60).collect();
            let _ = writeln!(s, "metadata {k}: {short}{}", if short.len() < v.len() { " ..." } else { "" });
        }
        let default = self.default_cut().map(|n| n.name.clone());
        let width = self.nodes.iter().map(|n| n.name.len()).max().unwrap_or(4).max(4);
        let _ = writeln!(s, "{:>4}  {:<width$}  {:<20} {:>16} {:>10}", "#", "node", "op", "output", "values");
        for (i, n) in self.nodes.iter().enumerate() {
            let values = if n.is_candidate() { n.values().map(|v| v.to_string()).unwrap_or_default() } else { "-".into() };
            let mark = if default.as_deref() == Some(n.name.as_str()) { "  <- default cut" } else { "" };
            let _ = writeln!(s, "{:>4}  {:<width$}  {:<20} {:>16} {:>10}{mark}", i + 1, n.name, n.op, n.shape_text(), values);
        }
        let _ = writeln!(
            s,
            "cut with --cut NODE at any node with values (one image's float output); default: {}",
            default.map(|d| format!("{d}, the input of the last Gemm/MatMul")).unwrap_or_else(|| "none (no Gemm or MatMul): give --cut".into())
        );
        s
    }
}

/// The graph in tract for one image of `geometry`, typed (every shape known).
fn typed(bytes: &[u8], what: &str, geometry: &Geometry) -> Result<TypedModel> {
    let model = tract_onnx::onnx().model_for_read(&mut &bytes[..]).with_context(|| format!("tract cannot read {what}"))?;
    ensure!(model.inputs.len() == 1, "{what}: the graph has {} inputs; an image network has one", model.inputs.len());
    let fact = InferenceFact::dt_shape(f32::datum_type(), geometry.dims().to_vec());
    model
        .with_input_fact(0, fact)?
        .into_typed()
        .with_context(|| format!("tract cannot run {what} on a {} input of {}", geometry.layout.name(), dims_text(&geometry.dims())))
}

/// What tract knows of tensor `name` (a node output, or the graph input).
fn fact<'m>(typed: &'m TypedModel, name: &str) -> Option<&'m TypedFact> {
    let outlet = typed.find_outlet_label(name).or_else(|| typed.node_id_by_name(name).ok().map(OutletId::from))?;
    typed.outlet_fact(outlet).ok()
}

/// `1x3x224x224`.
pub fn dims_text(d: &[usize]) -> String {
    d.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("x")
}

/// The first graph input that is not an initializer, with its declared dimensions.
fn declared_input(proto: &ModelProto, what: &str) -> Result<DeclaredInput> {
    let graph = proto.graph.as_ref().with_context(|| format!("{what} has no graph"))?;
    let inits: std::collections::HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<_> = graph.input.iter().filter(|i| !inits.contains(i.name.as_str())).collect();
    let [input] = inputs[..] else { bail!("{what}: the graph has {} inputs; an image network has one", inputs.len()) };
    let Some(type_proto::Value::TensorType(t)) = input.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
        bail!("{what}: input {:?} is not a tensor", input.name)
    };
    let shape = t.shape.as_ref().with_context(|| format!("{what}: input {:?} has no declared shape", input.name))?;
    let mut dims = Vec::new();
    let mut text = Vec::new();
    for d in &shape.dim {
        match &d.value {
            Some(dimension::Value::DimValue(v)) if *v > 0 => {
                dims.push(Some(*v as usize));
                text.push(v.to_string());
            }
            Some(dimension::Value::DimParam(p)) if !p.is_empty() => {
                dims.push(None);
                text.push(p.clone());
            }
            _ => {
                dims.push(None);
                text.push("?".into());
            }
        }
    }
    Ok(DeclaredInput { name: input.name.clone(), dims, text: text.join("x") })
}

/// The input to run with: the declared dimensions, with `hints` for what they leave open.
pub fn geometry(input: &DeclaredInput, hints: InputHints) -> Result<Geometry> {
    let [n, a, b, c] = input.dims[..] else { bail!("an image input has 4 dimensions, this one {}", input.dims.len()) };
    ensure!(
        n.is_none_or(|n| n == 1),
        "the batch dimension is fixed at {}; pilot runs one image at a time (batch 1 or a named batch dimension)",
        n.unwrap_or(0)
    );
    let is_channels = |d: Option<usize>| matches!(d, Some(1) | Some(3));
    let from_graph = match (is_channels(a), is_channels(c)) {
        (true, false) => Some(Layout::Nchw),
        (false, true) => Some(Layout::Nhwc),
        _ => None,
    };
    let layout = match (from_graph, hints.layout) {
        (Some(g), Some(h)) if g != h => {
            bail!("the graph's input is {} (channels {}), not {} as --layout says", g.name(), if g == Layout::Nchw { "second" } else { "last" }, h.name())
        }
        (Some(g), _) => g,
        (None, Some(h)) => h,
        // 1 or 3 in both places (e.g. 1x3x5x3), or in neither: NCHW is ONNX's convention.
        (None, None) if is_channels(a) => Layout::Nchw,
        (None, None) => bail!("cannot tell which dimension holds the colour channels (1 or 3); give --layout nchw or nhwc"),
    };
    let (channels, h, w) = match layout {
        Layout::Nchw => (a, b, c),
        Layout::Nhwc => (c, a, b),
    };
    let channels = channels.context("the channel dimension is not fixed")?;
    ensure!(channels == 1 || channels == 3, "the input has {channels} channels; an image network takes 1 (grey) or 3 (colour)");
    let size = match (h.zip(w), hints.size) {
        (Some((h, w)), Some(hint)) if (h, w) != (hint.0 as usize, hint.1 as usize) => {
            bail!("the graph fixes the input at {h}x{w}; --input-size {}x{} does not match", hint.0, hint.1)
        }
        (Some((h, w)), _) => (u16::try_from(h).context("input height over 65535")?, u16::try_from(w).context("input width over 65535")?),
        (None, Some(hint)) => hint,
        (None, None) => bail!("the graph does not fix the image size; give --input-size HxW (e.g. 224x224)"),
    };
    ensure!(size.0 > 0 && size.1 > 0, "the input size must be at least 1x1");
    Ok(Geometry { layout, height: size.0, width: size.1, channels: channels as u16 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(dims: &[Option<usize>]) -> DeclaredInput {
        DeclaredInput { name: "x".into(), dims: dims.to_vec(), text: String::new() }
    }

    #[test]
    fn layout_and_size_come_from_the_graph_or_the_hints() {
        let none = InputHints::default();
        let g = geometry(&input(&[None, Some(3), Some(224), Some(224)]), none).unwrap();
        assert_eq!(g, Geometry { layout: Layout::Nchw, height: 224, width: 224, channels: 3 });
        assert_eq!(g.dims(), [1, 3, 224, 224]);
        let g = geometry(&input(&[Some(1), Some(227), Some(200), Some(3)]), none).unwrap();
        assert_eq!(g, Geometry { layout: Layout::Nhwc, height: 227, width: 200, channels: 3 });
        assert_eq!(g.dims(), [1, 227, 200, 3]);
        let grey = geometry(&input(&[Some(1), Some(1), Some(28), Some(28)]), none).unwrap();
        assert_eq!((grey.layout, grey.channels), (Layout::Nchw, 1));

        // A free size needs --input-size; a fixed one must agree with it.
        let free = input(&[None, None, None, Some(3)]);
        assert!(geometry(&free, none).unwrap_err().to_string().contains("--input-size"));
        let g = geometry(&free, InputHints { size: Some((96, 128)), layout: None }).unwrap();
        assert_eq!((g.layout, g.height, g.width), (Layout::Nhwc, 96, 128));
        let fixed = input(&[Some(1), Some(3), Some(32), Some(32)]);
        assert!(geometry(&fixed, InputHints { size: Some((64, 64)), layout: None }).unwrap_err().to_string().contains("32x32"));
        assert!(geometry(&fixed, InputHints { size: Some((32, 32)), layout: None }).is_ok());

        // --layout settles what the graph cannot say, and may not contradict it.
        assert!(geometry(&fixed, InputHints { size: None, layout: Some(Layout::Nhwc) }).unwrap_err().to_string().contains("NCHW"));
        let unknown = input(&[None, Some(5), Some(5), Some(5)]);
        assert!(geometry(&unknown, none).unwrap_err().to_string().contains("--layout"));
        assert!(geometry(&input(&[Some(1), Some(3), Some(5), Some(3)]), none).is_ok_and(|g| g.layout == Layout::Nchw));

        assert!(geometry(&input(&[Some(8), Some(3), Some(32), Some(32)]), none).unwrap_err().to_string().contains("batch"));
        assert!(geometry(&input(&[Some(1), Some(3), Some(32)]), none).is_err());
        let four = input(&[Some(1), Some(4), Some(32), Some(32)]);
        assert!(geometry(&four, InputHints { layout: Some(Layout::Nchw), size: None }).unwrap_err().to_string().contains("4 channels"));
    }
}
