use super::*;
use crate::format::crc32::crc32;
use proptest::prelude::*;

fn rgb888(w: u16, h: u16) -> Preprocess {
    Preprocess { frame_w: w, frame_h: h, format: PixelFormat::Rgb888, crop: Rect { x: 0, y: 0, w, h }, color: ColorMode::Rgb }
}

fn streamed(pp: &Preprocess, out: Shape, frame: &[u8]) -> Result<Vec<i8>, PreprocessError> {
    let (nr, no) = RowStream::scratch_len(out.w, out.c);
    let (mut rows, mut orow) = (vec![0u16; nr], vec![0i8; no]);
    let mut s = RowStream::new(*pp, out, &mut rows, &mut orow)?;
    let mut result = vec![0i8; out.len()];
    let mut next = 0u16;
    let w = (out.w * out.c) as usize;
    for row in frame.chunks(pp.row_bytes()) {
        s.push_row(row, |y, r| {
            assert_eq!(y, next, "rows are emitted in order");
            next += 1;
            result[y as usize * w..][..w].copy_from_slice(r);
        })?;
    }
    assert!(s.done());
    Ok(result)
}

#[test]
fn averaging_2x2_to_1_pixel() {
    // Halving both axes samples exactly between the pixels: the rounded mean of the four.
    let frame = [10, 0, 255, 20, 0, 255, 30, 100, 0, 41, 101, 0];
    let pp = rgb888(2, 2);
    let mut out = [0i8; 3];
    preprocess_frame(&pp, Shape::new(1, 1, 3), &frame, &mut out).unwrap();
    // R: (10+20+30+41)/4 = 25.25 -> 25; G: 201/4 = 50.25 -> 50; B: 510/4 = 127.5 -> 128 (v >= .5 rounds up).
    assert_eq!(out, [25i16 - 128, 50 - 128, 0].map(|v: i16| v as i8));
}

#[test]
fn identity_size_is_a_copy() {
    let frame: Vec<u8> = (0..5 * 4 * 3).map(|i| (i * 37 % 256) as u8).collect();
    let pp = rgb888(5, 4);
    let mut out = vec![0i8; 60];
    preprocess_frame(&pp, Shape::new(4, 5, 3), &frame, &mut out).unwrap();
    let want: Vec<i8> = frame.iter().map(|&v| (v as i16 - 128) as i8).collect();
    assert_eq!(out, want);
}

#[test]
fn yuv_of_known_colours() {
    assert_eq!(rgb_to_yuv([255, 255, 255]), [255, 128, 128]);
    assert_eq!(rgb_to_yuv([0, 0, 0]), [0, 128, 128]);
    assert_eq!(rgb_to_yuv([255, 0, 0]), [77, 85, 255]);
    assert_eq!(rgb_to_yuv([0, 0, 255]), [29, 255, 107]);
    assert_eq!(rgb_to_yuv([0, 255, 0]), [149, 43, 21]);
}

#[test]
fn rgb565_expands_by_bit_replication() {
    assert_eq!(rgb565(0xFFFF), [255, 255, 255]);
    assert_eq!(rgb565(0x0000), [0, 0, 0]);
    assert_eq!(rgb565(0xF800), [255, 0, 0]);
    assert_eq!(rgb565(0x07E0), [0, 255, 0]);
    assert_eq!(rgb565(0x8410), [132, 130, 132]);
    assert_eq!(PixelFormat::Rgb565Be.pixel(&[0xF8, 0x00], 0), [255, 0, 0]);
    assert_eq!(PixelFormat::Rgb565Le.pixel(&[0x00, 0xF8], 0), [255, 0, 0]);
}

/// A deterministic 320x160 test frame.
fn test_frame() -> Vec<u8> {
    (0..320 * 160 * 3).map(|i: u32| ((i.wrapping_mul(2_654_435_761) >> 13) ^ (i / 960)) as u8).collect()
}

#[test]
fn pilotnet_preprocessing_is_frozen() {
    // The exact bytes PilotNet's preprocessing gives for a fixed frame, as computed by an
    // independent Python implementation of the documented spec
    // (`common/tests/spec/preprocess_reference.py`). If this changes, every trained model and
    // every firmware image changes meaning: bump the model format version.
    let pp = Preprocess { frame_w: 320, frame_h: 160, format: PixelFormat::Rgb888, crop: Rect { x: 0, y: 60, w: 320, h: 75 }, color: ColorMode::Yuv };
    let out_shape = Shape::new(66, 200, 3);
    let mut out = vec![0i8; out_shape.len()];
    preprocess_frame(&pp, out_shape, &test_frame(), &mut out).unwrap();
    assert_eq!(&out[..6], &[3, -39, 32, 52, 3, -74]);
    assert_eq!(crc32(crate::i8_as_bytes(&out)), 0x7be3_55b2);
}

#[test]
fn resize_coordinates() {
    // Same size: identity, no interpolation.
    for i in 0..10 {
        assert_eq!(resize_coord(i, 10, 10), (i, (i + 1).min(9), 0));
    }
    // Halving: exactly between source pixels 2i and 2i+1.
    assert_eq!(resize_coord(3, 8, 4), (6, 7, 128));
    // Upscaling clamps at both borders.
    assert_eq!(resize_coord(0, 2, 8), (0, 1, 0));
    assert_eq!(resize_coord(7, 2, 8), (1, 1, 0));
}

#[test]
fn bad_inputs_are_errors() {
    let pp = rgb888(4, 4);
    let mut out = vec![0i8; 12];
    assert!(matches!(preprocess_frame(&pp, Shape::new(2, 2, 3), &[0; 47], &mut out), Err(PreprocessError::FrameLength { .. })));
    assert_eq!(preprocess_frame(&pp, Shape::new(2, 2, 1), &[0; 48], &mut out), Err(PreprocessError::BadSpec));
    let mut bad = pp;
    bad.crop.x = 1;
    assert_eq!(preprocess_frame(&bad, Shape::new(2, 2, 3), &[0; 48], &mut out), Err(PreprocessError::BadSpec));
    let (mut rows, mut orow) = (vec![0u16; 11], vec![0i8; 6]);
    assert!(matches!(RowStream::new(pp, Shape::new(2, 2, 3), &mut rows, &mut orow), Err(PreprocessError::ScratchTooSmall)));
    let (mut rows, mut orow) = (vec![0u16; 12], vec![0i8; 6]);
    let mut s = RowStream::new(pp, Shape::new(2, 2, 3), &mut rows, &mut orow).unwrap();
    assert!(matches!(s.push_row(&[0; 11], |_, _| {}), Err(PreprocessError::RowLength { .. })));
    for _ in 0..4 {
        s.push_row(&[0; 12], |_, _| {}).unwrap();
    }
    assert_eq!(s.push_row(&[0; 12], |_, _| {}), Err(PreprocessError::TooManyRows));
}

fn format_strategy() -> impl Strategy<Value = PixelFormat> {
    prop_oneof![Just(PixelFormat::Rgb888), Just(PixelFormat::Rgb565Be), Just(PixelFormat::Rgb565Le)]
}

fn color_strategy() -> impl Strategy<Value = ColorMode> {
    prop_oneof![Just(ColorMode::Rgb), Just(ColorMode::Yuv), Just(ColorMode::Gray)]
}

fn spec() -> impl Strategy<Value = (Preprocess, Shape)> {
    (1u16..48, 1u16..40, format_strategy(), color_strategy())
        .prop_flat_map(|(fw, fh, format, color)| (Just((fw, fh, format, color)), 0..fw, 0..fh))
        .prop_flat_map(|((fw, fh, format, color), cx, cy)| (Just((fw, fh, format, color, cx, cy)), 1..=fw - cx, 1..=fh - cy, 1u16..40, 1u16..40))
        .prop_map(|((fw, fh, format, color, cx, cy), cw, ch, ow, oh)| {
            (Preprocess { frame_w: fw, frame_h: fh, format, crop: Rect { x: cx, y: cy, w: cw, h: ch }, color }, Shape::new(oh, ow, color.channels()))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn streaming_equals_whole_frame((pp, out) in spec(), seed in any::<u64>()) {
        let frame = crate::testing::Rng::new(seed).bytes(pp.frame_bytes());
        let mut whole = vec![0i8; out.len()];
        preprocess_frame(&pp, out, &frame, &mut whole).unwrap();
        prop_assert_eq!(streamed(&pp, out, &frame).unwrap(), whole);
    }
}

#[test]
fn streaming_equals_whole_frame_at_camera_size() {
    let pp = Preprocess { frame_w: 320, frame_h: 160, format: PixelFormat::Rgb565Be, crop: Rect { x: 8, y: 60, w: 300, h: 75 }, color: ColorMode::Yuv };
    let out = Shape::new(66, 200, 3);
    let frame = crate::testing::Rng::new(9).bytes(pp.frame_bytes());
    let mut whole = vec![0i8; out.len()];
    preprocess_frame(&pp, out, &frame, &mut whole).unwrap();
    assert_eq!(streamed(&pp, out, &frame).unwrap(), whole);
}

/// PilotNet's spec, for the simulator's 320x160 RGB888 frames.
fn pilotnet_spec() -> Preprocess {
    Preprocess { frame_w: 320, frame_h: 160, format: PixelFormat::Rgb888, crop: Rect { x: 0, y: 60, w: 320, h: 75 }, color: ColorMode::Yuv }
}

#[test]
fn for_frame_places_the_crop_in_the_cameras_middle_band() {
    let pp = pilotnet_spec();
    let same = pp.for_frame(320, 160, PixelFormat::Rgb888).unwrap();
    assert_eq!(same, pp, "the same frame: the same spec");
    let qvga = pp.for_frame(320, 240, PixelFormat::Rgb565Be).unwrap();
    assert_eq!(qvga.crop, Rect { x: 0, y: 100, w: 320, h: 75 }, "40 rows more above and below");
    assert_eq!((qvga.frame_w, qvga.frame_h, qvga.format, qvga.color), (320, 240, PixelFormat::Rgb565Be, ColorMode::Yuv));
    let vga = pp.for_frame(640, 480, PixelFormat::Rgb565Le).unwrap();
    assert_eq!(vga.crop, Rect { x: 0, y: 200, w: 640, h: 150 }, "twice the pixels per degree");
    let short = pp.for_frame(320, 110, PixelFormat::Rgb888).unwrap();
    assert_eq!(short.crop, Rect { x: 0, y: 35, w: 320, h: 75 }, "a shorter frame that still holds the crop");
    assert_eq!(pp.for_frame(320, 100, PixelFormat::Rgb888), None, "the crop's bottom rows are not seen");
    assert_eq!(pp.for_frame(1, 240, PixelFormat::Rgb888), None, "the crop vanishes");
}

#[test]
fn for_frame_gives_the_models_input_from_the_cameras_frame() {
    // A 320x240 RGB565 camera frame whose middle band is a 320x160 frame: the camera spec on
    // the whole frame gives exactly what the model's spec gives on the band.
    let pp = Preprocess { format: PixelFormat::Rgb565Be, ..pilotnet_spec() };
    let cam = pp.for_frame(320, 240, PixelFormat::Rgb565Be).unwrap();
    let frame = crate::testing::Rng::new(3).bytes(cam.frame_bytes());
    let band = &frame[40 * cam.row_bytes()..200 * cam.row_bytes()];
    let out = Shape::new(66, 200, 3);
    let (mut from_band, mut from_frame) = (vec![0i8; out.len()], vec![0i8; out.len()]);
    preprocess_frame(&pp, out, band, &mut from_band).unwrap();
    preprocess_frame(&cam, out, &frame, &mut from_frame).unwrap();
    assert_eq!(from_frame, from_band);
    assert_eq!(streamed(&cam, out, &frame).unwrap(), from_band);
}

#[test]
fn a_whole_multiple_resize_has_one_weight_per_axis() {
    // What the fast path relies on: when the crop is k outputs long per output, every output
    // reads source k i + offset, with f = 0 (odd k) or f = 128 and the next pixel (even k).
    for n_out in 1u16..=200 {
        for k in 1u16..=(1000 / n_out).min(12) {
            let n_in = k * n_out;
            let step = Step::of(n_in, n_out).unwrap();
            for i in 0..n_out {
                let (i0, i1, f) = resize_coord(i, n_in, n_out);
                assert_eq!(i0, step.first(i), "{n_in} -> {n_out}, output {i}");
                assert_eq!(f, if step.pair { 128 } else { 0 }, "{n_in} -> {n_out}, output {i}");
                if step.pair {
                    assert_eq!(i1, i0 + 1);
                }
            }
        }
        assert_eq!(Step::of(n_out + 1, n_out), if n_out == 1 { Step::of(2, 1) } else { None });
    }
}

#[test]
fn fast_path_cases_are_frozen() {
    // The same frame as `pilotnet_preprocessing_is_frozen`, crops that are a whole multiple
    // of the output (identity, 2x, 4x, 3x): the bytes of the Python implementation of the
    // spec (`common/tests/spec/preprocess_reference.py`), from the whole-frame definition and
    // from the stream's fast path.
    let cases = [
        (Rect { x: 100, y: 60, w: 96, h: 32 }, (96, 32), ColorMode::Yuv, [-44, -41, 35, 31, -40, 35], 0x0b4f_4e4d),
        (Rect { x: 0, y: 60, w: 320, h: 76 }, (160, 38), ColorMode::Rgb, [33, 37, -23, -38, -3, 65], 0x5003_959d),
        (Rect { x: 0, y: 58, w: 320, h: 96 }, (80, 24), ColorMode::Gray, [45, -8, -32, -1, 43, 40], 0x5d6c_4cc6),
        (Rect { x: 1, y: 2, w: 288, h: 96 }, (96, 32), ColorMode::Yuv, [40, -2, -89, 19, -45, 39], 0x43df_ecdc),
    ];
    let frame = test_frame();
    for (crop, (w, h), color, first, crc) in cases {
        let pp = Preprocess { crop, color, ..rgb888(320, 160) };
        let out = Shape::new(h, w, color.channels());
        let (nr, no) = RowStream::scratch_len(out.w, out.c);
        let (mut rows, mut orow) = (vec![0u16; nr], vec![0i8; no]);
        assert!(RowStream::new(pp, out, &mut rows, &mut orow).unwrap().fast_path().is_some(), "{crop:?}");
        let mut whole = vec![0i8; out.len()];
        preprocess_frame(&pp, out, &frame, &mut whole).unwrap();
        assert_eq!(&whole[..6], &first, "{crop:?}");
        assert_eq!(crc32(crate::i8_as_bytes(&whole)), crc, "{crop:?}");
        assert_eq!(streamed(&pp, out, &frame).unwrap(), whole, "{crop:?}");
    }
}

/// Specs whose crop is a whole multiple (1 to 4) of the output along each axis: the stream's
/// fast path.
fn fast_spec() -> impl Strategy<Value = (Preprocess, Shape)> {
    (1u16..20, 1u16..16, 1u16..=4, 1u16..=4, format_strategy(), color_strategy(), 0u16..5, 0u16..5, 0u16..5, 0u16..5).prop_map(
        |(ow, oh, kx, ky, format, color, left, top, right, bottom)| {
            let crop = Rect { x: left, y: top, w: ow * kx, h: oh * ky };
            let (fw, fh) = (left + crop.w + right, top + crop.h + bottom);
            (Preprocess { frame_w: fw, frame_h: fh, format, crop, color }, Shape::new(oh, ow, color.channels()))
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn the_fast_path_equals_the_whole_frame_definition((pp, out) in fast_spec(), seed in any::<u64>()) {
        let frame = crate::testing::Rng::new(seed).bytes(pp.frame_bytes());
        let mut whole = vec![0i8; out.len()];
        preprocess_frame(&pp, out, &frame, &mut whole).unwrap();
        prop_assert!(FastResize::of(&pp, out).is_some());
        prop_assert_eq!(streamed(&pp, out, &frame).unwrap(), whole);
    }
}

#[test]
fn gray_is_the_luma_of_yuv() {
    for seed in 0..2000u64 {
        let b = crate::testing::Rng::new(seed).bytes(3);
        let p = [b[0], b[1], b[2]];
        let mut gray = [0i8];
        ColorMode::Gray.write(p, &mut gray);
        assert_eq!(gray[0], (rgb_to_yuv(p)[0] as i16 - 128) as i8);
    }
}
