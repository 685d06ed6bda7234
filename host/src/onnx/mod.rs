//! ONNX: the int8 export in QOperator form ([`int8`]), the float export ([`float`]), reading a
//! float network back for transfer learning ([`import`]), reading any other ONNX image network
//! for feature extraction ([`foreign`], with [`rewrite`] making tract fast on it), and running
//! exported models in tract ([`run`]).

pub mod builder;
pub mod float;
pub mod foreign;
pub mod import;
pub mod int8;
pub mod rewrite;
pub mod run;

/// The metadata entries (key, value) of an ONNX file.
pub fn metadata(bytes: &[u8]) -> anyhow::Result<Vec<(String, String)>> {
    use prost::Message;
    let model = tract_onnx::pb::ModelProto::decode(bytes)?;
    Ok(model.metadata_props.into_iter().map(|p| (p.key, p.value)).collect())
}
