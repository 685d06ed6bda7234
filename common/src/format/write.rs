//! The writer (host side): `ModelDef` -> blob bytes.

use alloc::vec::Vec;

use super::{header, Layer, ModelDef};

/// Serializes a definition into a complete blob (header + postcard payload).
///
/// The caller should check the definition with [`super::Model::from_def`] first; this function
/// writes whatever it is given, so that tests can produce invalid blobs on purpose.
pub fn write(def: &ModelDef<'_>) -> Vec<u8> {
    let payload = postcard::to_allocvec(def).expect("postcard serialization into a Vec cannot fail");
    let mut out = Vec::with_capacity(header::HEADER_LEN + payload.len());
    out.extend_from_slice(&header::encode(&payload, version_for(def)));
    out.extend_from_slice(&payload);
    out
}

/// The oldest format version that can hold `def`: 2 with a depthwise layer, else 1.
pub fn version_for(def: &ModelDef<'_>) -> u16 {
    if def.layers.iter().any(|n| matches!(n.layer, Layer::Depthwise(_))) {
        2
    } else {
        1
    }
}
