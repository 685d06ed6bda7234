//! The fixed 16-byte header in front of the postcard payload.
//!
//! ```text
//! offset  size  field
//!      0     4  magic b"PNN8"
//!      4     2  format version, u16 little-endian (MIN_VERSION..=FORMAT_VERSION)
//!      6     2  reserved, must be 0
//!      8     4  payload length in bytes, u32 LE (the blob is exactly 16 + this long)
//!     12     4  CRC-32 (IEEE) of the payload, u32 LE
//!     16     -  payload: postcard-encoded ModelDef
//! ```

use super::crc32::crc32;
use super::ParseError;

pub const MAGIC: [u8; 4] = *b"PNN8";
/// The newest format version this build reads and writes. Version 2 added depthwise
/// convolution; a model without it is written as version 1, so older firmware still reads it.
pub const FORMAT_VERSION: u16 = 2;
/// The oldest version this build reads.
pub const MIN_VERSION: u16 = 1;
pub const HEADER_LEN: usize = 16;

/// Checks the header and returns the payload it guards.
pub fn check(bytes: &[u8]) -> Result<&[u8], ParseError> {
    if bytes.len() < HEADER_LEN {
        return Err(ParseError::Truncated { needed: HEADER_LEN, got: bytes.len() });
    }
    if bytes[0..4] != MAGIC {
        return Err(ParseError::BadMagic);
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if !(MIN_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(ParseError::UnsupportedVersion(version));
    }
    if bytes[6] != 0 || bytes[7] != 0 {
        return Err(ParseError::ReservedNotZero);
    }
    let declared = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    let actual = bytes.len() - HEADER_LEN;
    if declared != actual {
        return Err(ParseError::LengthMismatch { declared, actual });
    }
    let expected = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]);
    let payload = &bytes[HEADER_LEN..];
    let found = crc32(payload);
    if expected != found {
        return Err(ParseError::BadCrc { expected, found });
    }
    Ok(payload)
}

/// The header for `payload`, written in format `version`.
pub fn encode(payload: &[u8], version: u16) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0..4].copy_from_slice(&MAGIC);
    h[4..6].copy_from_slice(&version.to_le_bytes());
    h[8..12].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    h[12..16].copy_from_slice(&crc32(payload).to_le_bytes());
    h
}
