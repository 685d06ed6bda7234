//! On-target parser tests: the embedded model parses; truncated and corrupted blobs are
//! rejected with the right typed error and never panic.
#![no_std]
#![no_main]

qemu::runtime!(); // logger, panic handler, exit on fault

include!(concat!(env!("OUT_DIR"), "/vectors.rs"));

/// The blob the corruption tests start from.
fn blob() -> &'static [u8] {
    MODEL_CASES[0].blob
}

#[defmt_test::tests]
mod tests {
    use common::format::crc32::crc32;
    use common::format::header::HEADER_LEN;
    use common::{Model, ParseError};
    use firmware::once::Once;

    use super::{blob, MAX_BLOB_BYTES, MODEL_CASES};

    /// A RAM copy of a blob to corrupt (the originals are in flash).
    static SCRATCH: Once<[u8; MAX_BLOB_BYTES]> = Once::new([0; MAX_BLOB_BYTES]);

    #[init]
    fn init() -> &'static mut [u8; MAX_BLOB_BYTES] {
        defmt::unwrap!(SCRATCH.take())
    }

    #[test]
    fn the_embedded_model_parses_into_the_plan_build_rs_sized() {
        let model = defmt::unwrap!(firmware::model::parse());
        let plan = common::plan::CameraPlan::of(&model);
        defmt::assert_eq!(plan.arena_bytes(), firmware::model::ARENA_BYTES);
        defmt::assert_eq!(plan.rows.bytes(), firmware::model::SCRATCH_BYTES);
        defmt::assert_eq!(plan.rows.frame_row, firmware::model::FRAME_ROW_BYTES);
    }

    #[test]
    fn every_test_vector_parses() {
        for case in MODEL_CASES {
            defmt::unwrap!(Model::parse(case.blob));
        }
    }

    #[test]
    fn every_truncation_is_rejected() {
        let b = blob();
        for n in 0..b.len() {
            let err = defmt::unwrap!(Model::parse(&b[..n]).err());
            let expected = if n < HEADER_LEN {
                ParseError::Truncated { needed: HEADER_LEN, got: n }
            } else {
                ParseError::LengthMismatch { declared: b.len() - HEADER_LEN, actual: n - HEADER_LEN }
            };
            defmt::assert_eq!(err, expected);
        }
    }

    #[test]
    fn every_flipped_byte_is_rejected_by_its_field(scratch: &mut &'static mut [u8; MAX_BLOB_BYTES]) {
        let b = blob();
        let buf = &mut scratch[..b.len()];
        for i in 0..b.len() {
            buf.copy_from_slice(b);
            buf[i] ^= 0x5A;
            let err = defmt::unwrap!(Model::parse(buf).err());
            let ok = match i {
                0..4 => err == ParseError::BadMagic,
                4..6 => matches!(err, ParseError::UnsupportedVersion(_)),
                6..8 => err == ParseError::ReservedNotZero,
                8..12 => matches!(err, ParseError::LengthMismatch { .. }),
                _ => matches!(err, ParseError::BadCrc { .. }), // the CRC or the payload it guards
            };
            defmt::assert!(ok, "byte {=usize}: unexpected {}", i, err);
        }
    }

    #[test]
    fn corrupted_payloads_with_a_valid_crc_never_panic(scratch: &mut &'static mut [u8; MAX_BLOB_BYTES]) {
        // The CRC catches accidents; the validation behind it must hold against anything.
        let b = blob();
        let buf = &mut scratch[..b.len()];
        let mut rejected = 0;
        for i in HEADER_LEN..b.len() {
            for v in [0x00, 0x7F, 0x80, 0xFF] {
                buf.copy_from_slice(b);
                buf[i] = v;
                let crc = crc32(&buf[HEADER_LEN..]);
                buf[12..16].copy_from_slice(&crc.to_le_bytes());
                rejected += Model::parse(buf).is_err() as usize;
            }
        }
        defmt::info!("{=usize} of {=usize} corrupted payloads rejected, none panicked", rejected, 4 * (b.len() - HEADER_LEN));
        defmt::assert!(rejected > 0);
    }

    #[test]
    fn a_short_payload_with_a_valid_header_is_a_payload_error(scratch: &mut &'static mut [u8; MAX_BLOB_BYTES]) {
        // Drop the last payload byte and rewrite length and CRC: the header is valid, the
        // postcard payload runs out.
        let b = blob();
        let buf = &mut scratch[..b.len() - 1];
        buf.copy_from_slice(&b[..b.len() - 1]);
        let payload_len = (buf.len() - HEADER_LEN) as u32;
        buf[8..12].copy_from_slice(&payload_len.to_le_bytes());
        let crc = crc32(&buf[HEADER_LEN..]);
        buf[12..16].copy_from_slice(&crc.to_le_bytes());
        defmt::assert_eq!(Model::parse(buf).err(), Some(ParseError::Payload));
    }
}
