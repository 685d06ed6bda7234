//! Owned models (host side): what the quantizer builds and the writer turns into a blob. The
//! layers are the blob's own layer types ([`ConvLayer`], [`DenseLayer`], [`LayerOf`]) holding
//! typed vectors instead of borrowed bytes.

use alloc::string::String;
use alloc::vec::Vec;

use super::{ConvLayer, DenseLayer, DepthwiseLayer, InputSpec, Layer, LayerOf, ModelDef, Node, Task, MAX_LAYERS};

/// A convolution with its weights (OHWI), biases and multipliers as vectors.
pub type OwnedConv = ConvLayer<Vec<i8>, Vec<i32>>;
/// A dense layer with its weights (`[out][in]`), biases and multipliers as vectors.
pub type OwnedDense = DenseLayer<Vec<i8>, Vec<i32>>;
/// A depthwise convolution with its weights (`[ky][kx][c]`), biases and multipliers as vectors.
pub type OwnedDepthwise = DepthwiseLayer<Vec<i8>, Vec<i32>>;
pub type OwnedLayer = LayerOf<Vec<i8>, Vec<i32>>;

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

/// A layer's tables in the blob's byte form (int8; int32 little-endian), kept alive while a
/// `ModelDef` borrows them.
struct Tables {
    weights: Vec<u8>,
    bias: Vec<u8>,
    multipliers: Vec<u8>,
}

impl Tables {
    fn of(weights: &[i8], bias: &[i32], multipliers: &[i32]) -> Tables {
        let le = |v: &[i32]| v.iter().flat_map(|x| x.to_le_bytes()).collect();
        Tables { weights: crate::i8_as_bytes(weights).to_vec(), bias: le(bias), multipliers: le(multipliers) }
    }

    fn of_layer(layer: &OwnedLayer) -> Tables {
        match layer {
            LayerOf::Conv2d(c) => Tables::of(&c.weights, &c.bias, &c.multipliers),
            LayerOf::Dense(d) => Tables::of(&d.weights, &d.bias, &d.multipliers),
            LayerOf::Depthwise(d) => Tables::of(&d.weights, &d.bias, &d.multipliers),
            _ => Tables::of(&[], &[], &[]),
        }
    }

    /// `layer` with its tables borrowed from `self`.
    fn borrow<'t>(&'t self, layer: &OwnedLayer) -> Layer<'t> {
        let (w, b, m) = (&self.weights[..], &self.bias[..], &self.multipliers[..]);
        match layer {
            LayerOf::Conv2d(c) => LayerOf::Conv2d(ConvLayer {
                out_channels: c.out_channels,
                window: c.window,
                relu: c.relu,
                output: c.output,
                weights: w,
                bias: b,
                multipliers: m,
            }),
            LayerOf::Dense(d) => {
                LayerOf::Dense(DenseLayer { out_features: d.out_features, relu: d.relu, output: d.output, weights: w, bias: b, multipliers: m })
            }
            LayerOf::Depthwise(d) => {
                LayerOf::Depthwise(DepthwiseLayer { window: d.window, relu: d.relu, output: d.output, weights: w, bias: b, multipliers: m })
            }
            LayerOf::MaxPool(p) => LayerOf::MaxPool(*p),
            LayerOf::AvgPool(p) => LayerOf::AvgPool(*p),
            LayerOf::Flatten => LayerOf::Flatten,
        }
    }
}

impl OwnedModel {
    /// Writes the blob (header + postcard payload). Panics if there are more than
    /// `MAX_LAYERS` layers; validate with [`OwnedModel::check`] first.
    pub fn to_bytes(&self) -> Vec<u8> {
        let tables: Vec<Tables> = self.layers.iter().map(|n| Tables::of_layer(&n.layer)).collect();
        let mut layers = heapless::Vec::<Node<'_>, MAX_LAYERS>::new();
        for (n, t) in self.layers.iter().zip(&tables) {
            layers.push(Node { name: &n.name, layer: t.borrow(&n.layer) }).unwrap_or_else(|_| panic!("more than {MAX_LAYERS} layers"));
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
