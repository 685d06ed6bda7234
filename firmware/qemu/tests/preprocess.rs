//! On-target preprocessing tests: whole-frame and row-streaming preprocessing on the chip give
//! the bytes the host computed (build.rs), for every pixel format and colour mode.
#![no_std]
#![no_main]

qemu::runtime!(); // logger, panic handler, exit on fault

include!(concat!(env!("OUT_DIR"), "/vectors.rs"));

#[defmt_test::tests]
mod tests {
    use common::preprocess::{preprocess_frame, PreprocessError, RowStream};

    use super::{PP_MAX_INTERP_U16S, PP_MAX_OUT, PP_MAX_OUT_ROW, PREPROCESS_CASES};

    #[test]
    fn whole_frame_matches_the_host() {
        let mut out = [0i8; PP_MAX_OUT];
        for (i, case) in PREPROCESS_CASES.iter().enumerate() {
            let out = &mut out[..case.out.len()];
            defmt::unwrap!(preprocess_frame(&case.spec, case.out, case.frame, out));
            defmt::assert_eq!(out, case.expected, "case {=usize}", i);
        }
    }

    #[test]
    fn row_stream_matches_the_host() {
        let (mut interp, mut out_row, mut out) = ([0u16; PP_MAX_INTERP_U16S], [0i8; PP_MAX_OUT_ROW], [0i8; PP_MAX_OUT]);
        for (i, case) in PREPROCESS_CASES.iter().enumerate() {
            let out = &mut out[..case.out.len()];
            out.fill(0);
            let row_len = case.out.w as usize * case.out.c as usize;
            let mut stream = defmt::unwrap!(RowStream::new(case.spec, case.out, &mut interp, &mut out_row));
            for row in case.frame.chunks(case.spec.row_bytes()) {
                defmt::unwrap!(stream.push_row(row, |y, r| out[y as usize * row_len..][..row_len].copy_from_slice(r)));
            }
            defmt::assert!(stream.done(), "case {=usize}: not every output row emitted", i);
            defmt::assert_eq!(out, case.expected, "case {=usize}", i);
        }
    }

    #[test]
    fn row_stream_rejects_wrong_rows() {
        let case = &PREPROCESS_CASES[0];
        let (mut interp, mut out_row) = ([0u16; PP_MAX_INTERP_U16S], [0i8; PP_MAX_OUT_ROW]);
        let mut stream = defmt::unwrap!(RowStream::new(case.spec, case.out, &mut interp, &mut out_row));
        let row_bytes = case.spec.row_bytes();
        defmt::assert_eq!(
            stream.push_row(&case.frame[..row_bytes - 1], |_, _| {}),
            Err(PreprocessError::RowLength { expected: row_bytes, got: row_bytes - 1 })
        );
        for row in case.frame.chunks(row_bytes) {
            defmt::unwrap!(stream.push_row(row, |_, _| {}));
        }
        defmt::assert_eq!(stream.push_row(&case.frame[..row_bytes], |_, _| {}), Err(PreprocessError::TooManyRows));
    }
}
