//! The writer (host side): `ModelDef` -> blob bytes.

use alloc::vec::Vec;

use super::{header, ModelDef};

/// Serializes a definition into a complete blob (header + postcard payload).
///
/// The caller should check the definition with [`super::Model::from_def`] first; this function
/// writes whatever it is given, so that tests can produce invalid blobs on purpose.
pub fn write(def: &ModelDef<'_>) -> Vec<u8> {
    let payload = postcard::to_allocvec(def).expect("postcard serialization into a Vec cannot fail");
    let mut out = Vec::with_capacity(header::HEADER_LEN + payload.len());
    out.extend_from_slice(&header::encode(&payload));
    out.extend_from_slice(&payload);
    out
}
