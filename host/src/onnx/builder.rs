//! A small builder over tract's ONNX protobuf types (`tract_onnx::pb`, prost): named tensors,
//! nodes and attributes, and the model wrapper (opset 13, IR version 8).

use prost::Message;
use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::tensor_shape_proto::{dimension, Dimension};
use tract_onnx::pb::type_proto;
use tract_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};

/// A graph under construction.
#[derive(Default)]
pub struct Graph {
    pub proto: GraphProto,
}

/// A node attribute.
pub enum Attr {
    Int(i64),
    Ints(Vec<i64>),
}

impl Graph {
    pub fn new(name: &str) -> Graph {
        Graph { proto: GraphProto { name: name.into(), ..GraphProto::default() } }
    }

    fn init(&mut self, name: &str, dims: &[usize], data_type: DataType, raw: Vec<u8>) -> String {
        self.proto.initializer.push(TensorProto {
            name: name.into(),
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: data_type as i32,
            raw_data: raw,
            ..TensorProto::default()
        });
        name.into()
    }

    pub fn i8s(&mut self, name: &str, dims: &[usize], v: &[i8]) -> String {
        self.init(name, dims, DataType::Int8, v.iter().map(|&x| x as u8).collect())
    }

    pub fn i32s(&mut self, name: &str, dims: &[usize], v: &[i32]) -> String {
        self.init(name, dims, DataType::Int32, v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }

    pub fn i64s(&mut self, name: &str, dims: &[usize], v: &[i64]) -> String {
        self.init(name, dims, DataType::Int64, v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }

    pub fn f32s(&mut self, name: &str, dims: &[usize], v: &[f32]) -> String {
        self.init(name, dims, DataType::Float, v.iter().flat_map(|x| x.to_le_bytes()).collect())
    }

    /// Adds a node; returns its (first) output name.
    pub fn node(&mut self, op: &str, name: &str, inputs: &[&str], output: &str, attrs: Vec<(&str, Attr)>) -> String {
        let attribute = attrs
            .into_iter()
            .map(|(n, a)| match a {
                Attr::Int(i) => AttributeProto { name: n.into(), r#type: AttributeType::Int as i32, i, ..AttributeProto::default() },
                Attr::Ints(ints) => AttributeProto { name: n.into(), r#type: AttributeType::Ints as i32, ints, ..AttributeProto::default() },
            })
            .collect();
        self.node_with(op, name, inputs, output, attribute)
    }

    /// Adds a node with attributes of any type; returns its output name.
    pub fn node_with(&mut self, op: &str, name: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) -> String {
        self.proto.node.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            name: name.into(),
            op_type: op.into(),
            attribute,
            ..NodeProto::default()
        });
        output.into()
    }

    pub fn input(&mut self, name: &str, data_type: DataType, dims: &[usize]) {
        self.proto.input.push(value_info(name, data_type, dims));
    }

    pub fn output(&mut self, name: &str, data_type: DataType, dims: &[usize]) {
        self.proto.output.push(value_info(name, data_type, dims));
    }

    /// The serialized model with its metadata.
    pub fn into_model(self, doc: &str, metadata: &[(String, String)]) -> Vec<u8> {
        ModelProto {
            ir_version: 8,
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 13 }],
            producer_name: "pilot".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            doc_string: doc.into(),
            graph: Some(self.proto),
            metadata_props: metadata.iter().map(|(k, v)| StringStringEntryProto { key: k.clone(), value: v.clone() }).collect(),
            ..ModelProto::default()
        }
        .encode_to_vec()
    }
}

fn value_info(name: &str, data_type: DataType, dims: &[usize]) -> ValueInfoProto {
    let dim = dims.iter().map(|&d| Dimension { denotation: String::new(), value: Some(dimension::Value::DimValue(d as i64)) }).collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            denotation: String::new(),
            value: Some(type_proto::Value::TensorType(type_proto::Tensor { elem_type: data_type as i32, shape: Some(TensorShapeProto { dim }) })),
        }),
        doc_string: String::new(),
    }
}
