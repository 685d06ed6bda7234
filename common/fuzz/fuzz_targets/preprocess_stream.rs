//! Random preprocessing specs and frames: whole-frame and row-streaming give the same bytes, and
//! neither panics on a spec that does not fit.
#![no_main]

use common::preprocess::{preprocess_frame, ColorMode, PixelFormat, Preprocess, Rect, RowStream};
use common::Shape;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 10 {
        return;
    }
    let (head, frame) = data.split_at(10);
    let d = |i: usize, m: u16| (head[i] as u16 % m) + 1;
    let format = [PixelFormat::Rgb888, PixelFormat::Rgb565Be, PixelFormat::Rgb565Le][head[0] as usize % 3];
    let color = [ColorMode::Rgb, ColorMode::Yuv, ColorMode::Gray][head[1] as usize % 3];
    let (fw, fh) = (d(2, 40), d(3, 40));
    let crop = Rect { x: d(4, 40) - 1, y: d(5, 40) - 1, w: d(6, 40), h: d(7, 40) };
    let pp = Preprocess { frame_w: fw, frame_h: fh, format, crop, color };
    let out = Shape::new(d(8, 48), d(9, 48), color.channels());
    let mut frame = frame.to_vec();
    frame.resize(pp.frame_bytes(), 0x5A);

    let mut whole = vec![0i8; out.len()];
    let ok = preprocess_frame(&pp, out, &frame, &mut whole).is_ok();
    let (nr, no) = RowStream::scratch_len(out.w, out.c);
    let (mut rows, mut orow) = (vec![0u16; nr], vec![0i8; no]);
    let Ok(mut stream) = RowStream::new(pp, out, &mut rows, &mut orow) else {
        assert!(!ok, "whole-frame accepted a spec the stream rejected");
        return;
    };
    assert!(ok, "stream accepted a spec whole-frame rejected");
    let mut streamed = vec![0i8; out.len()];
    let w = out.w as usize * out.c as usize;
    for row in frame.chunks(pp.row_bytes()) {
        stream.push_row(row, |y, r| streamed[y as usize * w..][..w].copy_from_slice(r)).unwrap();
    }
    assert!(stream.done());
    assert_eq!(streamed, whole);
});
