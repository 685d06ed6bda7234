//! What one frame cost on the chip, as a typed record the firmware writes and the host reads.
//!
//! The QEMU application counts instructions with SysTick under `-icount shift=0` and, besides
//! its human-readable log, writes one [`CostRecord`] per frame into a host file, postcard-encoded
//! records back to back ([`CostRecord::encode`]); the host reads them back with
//! `CostRecord::decode_all` (feature `alloc`). No allocation on the chip: the per-layer counts are a
//! fixed-capacity vector and a record encodes into a [`MAX_ENCODED_BYTES`] buffer.

use serde::{Deserialize, Serialize};

use crate::format::MAX_LAYERS;

/// The cost of one frame, from its first camera row to the network's output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostRecord {
    /// Instructions of the network: the row bands while rows come in, then the layers after
    /// them.
    pub network: u64,
    /// Instructions of everything else in the frame besides reading rows: preprocessing
    /// (crop, resize, colour) and the pipeline's own set-up.
    pub preprocess: u64,
    /// Instructions spent reading the camera rows (in QEMU: semihosting file reads).
    pub read_rows: u64,
    /// Instructions of each layer, in model order (a banded layer's rows summed); their sum is
    /// `network` less the bookkeeping between layers.
    pub layers: heapless::Vec<u32, MAX_LAYERS>,
    /// The stack high-water mark so far, in bytes.
    pub stack_high_water: u32,
    /// Bytes of the stack region.
    pub stack_bytes: u32,
    /// Bytes of the activation arena (row-band plan, preprocessing's row buffers included).
    pub arena_bytes: u32,
}

/// The longest encoding of a [`CostRecord`]: postcard writes integers as varints (at most 10
/// bytes for a u64, 5 for a u32) and the layer count in one byte.
pub const MAX_ENCODED_BYTES: usize = 3 * 10 + 1 + MAX_LAYERS * 5 + 3 * 5;

/// A cost file that does not decode: the byte offset of the first bad record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    /// Records decoded before it.
    pub records: usize,
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "not a frame cost record at byte {} (after {} records)", self.offset, self.records)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DecodeError {}

impl CostRecord {
    /// The record's postcard encoding, in `buf`.
    pub fn encode<'b>(&self, buf: &'b mut [u8; MAX_ENCODED_BYTES]) -> &'b [u8] {
        match postcard::to_slice(self, buf) {
            Ok(bytes) => bytes,
            // MAX_ENCODED_BYTES bounds every record (tested); a message without values keeps
            // formatting code out of the chip's flash.
            Err(_) => unreachable!("a frame cost record is longer than MAX_ENCODED_BYTES"),
        }
    }

    /// Every record of a cost file, in order.
    #[cfg(feature = "alloc")]
    pub fn decode_all(mut bytes: &[u8]) -> Result<alloc::vec::Vec<CostRecord>, DecodeError> {
        let (total, mut records) = (bytes.len(), alloc::vec::Vec::new());
        while !bytes.is_empty() {
            let offset = total - bytes.len();
            let (record, rest) = postcard::take_from_bytes::<CostRecord>(bytes).map_err(|_| DecodeError { offset, records: records.len() })?;
            records.push(record);
            bytes = rest;
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seed: u32, layers: usize) -> CostRecord {
        CostRecord {
            network: 30_000_000 + seed as u64,
            preprocess: 3_500_000,
            read_rows: 12_000 + seed as u64,
            layers: (0..layers as u32).map(|i| i * 1000 + seed).collect(),
            stack_high_water: 10_828,
            stack_bytes: 98_000,
            arena_bytes: 32_460,
        }
    }

    #[test]
    fn records_written_back_to_back_decode_in_order() {
        let mut file = Vec::new();
        let mut buf = [0; MAX_ENCODED_BYTES];
        let written: Vec<CostRecord> = (0..5).map(|i| record(i, 3 + i as usize)).collect();
        for r in &written {
            file.extend_from_slice(r.encode(&mut buf));
        }
        assert_eq!(CostRecord::decode_all(&file).unwrap(), written);
        assert_eq!(CostRecord::decode_all(&[]).unwrap(), vec![]);
    }

    #[test]
    fn the_largest_record_fits_the_buffer_exactly() {
        let max = CostRecord {
            network: u64::MAX,
            preprocess: u64::MAX,
            read_rows: u64::MAX,
            layers: core::iter::repeat_n(u32::MAX, MAX_LAYERS).collect(),
            stack_high_water: u32::MAX,
            stack_bytes: u32::MAX,
            arena_bytes: u32::MAX,
        };
        let mut buf = [0; MAX_ENCODED_BYTES];
        let bytes = max.encode(&mut buf).to_vec();
        assert_eq!(bytes.len(), MAX_ENCODED_BYTES);
        assert_eq!(CostRecord::decode_all(&bytes).unwrap(), vec![max]);
    }

    #[test]
    fn a_truncated_file_names_the_bad_record() {
        let mut buf = [0; MAX_ENCODED_BYTES];
        let mut file = record(1, 4).encode(&mut buf).to_vec();
        let first = file.len();
        file.extend_from_slice(record(2, 4).encode(&mut buf));
        file.pop();
        assert_eq!(CostRecord::decode_all(&file), Err(DecodeError { offset: first, records: 1 }));
    }
}
