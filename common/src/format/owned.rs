//! Owned models (host side): what the quantizer builds and the writer turns into a blob.

use alloc::string::String;
use alloc::vec::Vec;

use super::{Conv2d, Dense, InputSpec, Layer, ModelDef, Node, Pads, Pool, QParams, Task, MAX_LAYERS};

#[derive(Clone, Debug, PartialEq)]
pub struct OwnedConv {
    pub out_channels: u16,
    pub kernel_h: u8,
    pub kernel_w: u8,
    pub stride_h: u8,
    pub stride_w: u8,
    pub pads: Pads,
    pub relu: bool,
    pub output: QParams,
    /// OHWI.
    pub weights: Vec<i8>,
    pub bias: Vec<i32>,
    pub multipliers: Vec<i32>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OwnedDense {
    pub out_features: u16,
    pub relu: bool,
    pub output: QParams,
    /// `[out][in]`.
    pub weights: Vec<i8>,
    pub bias: Vec<i32>,
    pub multipliers: Vec<i32>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum OwnedLayer {
    Conv2d(OwnedConv),
    Dense(OwnedDense),
    MaxPool(Pool),
    AvgPool(Pool),
    Flatten,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OwnedNode {
    pub name: String,
    pub layer: OwnedLayer,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OwnedModel {
    pub name: String,
    pub task: Task,
    pub input: InputSpec,
    pub layers: Vec<OwnedNode>,
}

fn le_bytes(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The byte tables of one layer, kept alive while a `ModelDef` borrows them.
struct Tables {
    weights: Vec<u8>,
    bias: Vec<u8>,
    multipliers: Vec<u8>,
}

impl OwnedModel {
    /// Writes the blob (header + postcard payload). Panics if there are more than
    /// `MAX_LAYERS` layers; validate with [`OwnedModel::check`] first.
    pub fn to_bytes(&self) -> Vec<u8> {
        let tables: Vec<Tables> = self
            .layers
            .iter()
            .map(|n| match &n.layer {
                OwnedLayer::Conv2d(c) => Tables {
                    weights: crate::i8_as_bytes(&c.weights).to_vec(),
                    bias: le_bytes(&c.bias),
                    multipliers: le_bytes(&c.multipliers),
                },
                OwnedLayer::Dense(d) => Tables {
                    weights: crate::i8_as_bytes(&d.weights).to_vec(),
                    bias: le_bytes(&d.bias),
                    multipliers: le_bytes(&d.multipliers),
                },
                _ => Tables { weights: Vec::new(), bias: Vec::new(), multipliers: Vec::new() },
            })
            .collect();
        let mut layers = heapless::Vec::<Node<'_>, MAX_LAYERS>::new();
        for (n, t) in self.layers.iter().zip(&tables) {
            let layer = match &n.layer {
                OwnedLayer::Conv2d(c) => Layer::Conv2d(Conv2d {
                    out_channels: c.out_channels,
                    kernel_h: c.kernel_h,
                    kernel_w: c.kernel_w,
                    stride_h: c.stride_h,
                    stride_w: c.stride_w,
                    pads: c.pads,
                    relu: c.relu,
                    output: c.output,
                    weights: &t.weights,
                    bias: &t.bias,
                    multipliers: &t.multipliers,
                }),
                OwnedLayer::Dense(d) => Layer::Dense(Dense {
                    out_features: d.out_features,
                    relu: d.relu,
                    output: d.output,
                    weights: &t.weights,
                    bias: &t.bias,
                    multipliers: &t.multipliers,
                }),
                OwnedLayer::MaxPool(p) => Layer::MaxPool(*p),
                OwnedLayer::AvgPool(p) => Layer::AvgPool(*p),
                OwnedLayer::Flatten => Layer::Flatten,
            };
            layers
                .push(Node { name: &n.name, layer })
                .unwrap_or_else(|_| panic!("more than {MAX_LAYERS} layers"));
        }
        let def = ModelDef { name: &self.name, task: self.task, input: self.input, layers };
        super::write(&def)
    }

    /// Validates the model as the parser will (`Err` names the layer and the problem).
    pub fn check(&self) -> Result<(), super::ParseError> {
        if self.layers.len() > MAX_LAYERS {
            return Err(super::ParseError::Payload);
        }
        let bytes = self.to_bytes();
        super::Model::parse(&bytes).map(|_| ())
    }
}
