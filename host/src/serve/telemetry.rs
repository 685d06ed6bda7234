//! The `telemetry` event's contents: the simulator's speed and its centre camera's image
//! (base64 of a JPEG, 320x160), or nothing at all in manual mode.
//!
//! drive.py reads `speed` and `image` and takes any "empty" data (`null`, `{}`) as manual mode;
//! the same here. The simulator sends its numbers as strings (`"12.3456"`); numbers are taken
//! too. The image is decoded by the same JPEG decoder that `pilot train` reads Udacity
//! recordings with, so a network sees the pixels it was trained on.

use std::io::Cursor;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use image::codecs::jpeg::JpegDecoder;
use image::ImageDecoder;
use serde_json::Value;

use super::{Frame, FRAME_H, FRAME_W};

/// One frame of driving, as reported.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// In mph, as the simulator reports it.
    pub speed: f64,
    /// The JPEG bytes, as sent.
    pub jpeg: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Telemetry {
    /// Empty telemetry: a person is driving (W or S held in the simulator).
    Manual,
    Drive(Sample),
}

/// Reads a telemetry event's arguments (after its name). `max_base64` bounds the image's
/// base64 text, checked before it is decoded.
pub fn parse(args: &[Value], max_base64: usize) -> Result<Telemetry, String> {
    let data = match args.first() {
        None => return Ok(Telemetry::Manual),
        Some(v) if is_empty(v) => return Ok(Telemetry::Manual),
        Some(Value::Object(map)) => map,
        Some(other) => return Err(format!("the telemetry is {}, not an object", kind(other))),
    };
    let speed = match data.get("speed") {
        None => return Err("the telemetry has no `speed`".into()),
        Some(Value::Number(n)) => n.as_f64().ok_or("`speed` is not a number")?,
        Some(Value::String(s)) => parse_number(s).ok_or_else(|| {
            let hint = if s.contains(',') { " (a comma as the decimal separator?)" } else { "" };
            format!("`speed` is `{}`, not a number{hint}", super::http::shorten(s))
        })?,
        Some(other) => return Err(format!("`speed` is {}, not a number", kind(other))),
    };
    if !speed.is_finite() {
        return Err(format!("`speed` is {speed}, not a finite number"));
    }
    let image = match data.get("image") {
        None => return Err("the telemetry has no `image`".into()),
        Some(Value::String(s)) => s,
        Some(other) => return Err(format!("`image` is {}, not a base64 string", kind(other))),
    };
    if image.len() > max_base64 {
        return Err(format!("`image` has {} characters of base64, more than the {max_base64} accepted", image.len()));
    }
    let jpeg = BASE64.decode(image).map_err(|e| format!("`image` is not valid base64: {e}"))?;
    Ok(Telemetry::Drive(Sample { speed, jpeg }))
}

/// Python's truthiness, which drive.py's `if data:` tests.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A decimal number as Python's `float()` reads one (surrounding spaces allowed).
pub fn parse_number(s: &str) -> Option<f64> {
    s.trim().parse().ok()
}

/// Decodes the camera image into a frame; it must be a whole JPEG of the simulator's
/// 320x160, and its size is checked in its header before any pixel is decoded.
pub fn decode_frame(jpeg: &[u8]) -> Result<Frame, String> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return Err(format!("the image is not a JPEG (it starts with {:02x?})", &jpeg[..jpeg.len().min(4)]));
    }
    // The decoder fills in a truncated image without complaint; the end marker shows it.
    if !jpeg.ends_with(&[0xFF, 0xD9]) {
        return Err(format!("the JPEG is truncated: {} bytes without the end-of-image marker", jpeg.len()));
    }
    let decoder = JpegDecoder::new(Cursor::new(jpeg)).map_err(|e| format!("the JPEG cannot be read: {e}"))?;
    let (w, h) = decoder.dimensions();
    if (w as usize, h as usize) != (FRAME_W, FRAME_H) {
        return Err(format!("the image is {w}x{h}; the simulator's centre camera gives {FRAME_W}x{FRAME_H}"));
    }
    let image = image::DynamicImage::from_decoder(decoder).map_err(|e| format!("the JPEG cannot be decoded: {e}"))?;
    let mut frame = Frame::default();
    frame.rgb_mut().copy_from_slice(image.into_rgb8().as_raw());
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::jpeg::JpegEncoder;
    use image::ImageEncoder;
    use serde_json::json;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 75).write_image(&rgb, w, h, image::ExtendedColorType::Rgb8).unwrap();
        out
    }

    #[test]
    fn empty_telemetry_is_manual_mode() {
        for args in [vec![], vec![Value::Null], vec![json!({})], vec![json!("")], vec![json!(false)]] {
            assert_eq!(parse(&args, 100), Ok(Telemetry::Manual), "{args:?}");
        }
    }

    #[test]
    fn the_simulators_telemetry_is_read() {
        let bytes = jpeg(FRAME_W as u32, FRAME_H as u32);
        let args = [json!({"steering_angle": "0.0000", "throttle": "0.0000", "speed": "30.1900", "image": BASE64.encode(&bytes)})];
        let Telemetry::Drive(sample) = parse(&args, 1 << 20).unwrap() else { panic!("manual") };
        assert_eq!((sample.speed, &sample.jpeg), (30.19, &bytes));
        let frame = decode_frame(&sample.jpeg).unwrap();
        let direct = image::load_from_memory(&bytes).unwrap().into_rgb8();
        assert_eq!(frame.rgb(), direct.as_raw().as_slice());
        assert_eq!(parse(&[json!({"speed": 7.5, "image": ""})], 10).map(|_| ()), Ok(()));
    }

    #[test]
    fn bad_fields_are_named() {
        let err = |v: Value| parse(&[v], 64).unwrap_err();
        assert!(err(json!("x")).contains("a string, not an object"));
        assert!(err(json!({"image": ""})).contains("no `speed`"));
        assert!(err(json!({"speed": "12,5", "image": ""})).contains("decimal separator"));
        assert!(err(json!({"speed": "fast", "image": ""})).contains("`fast`, not a number"));
        assert!(err(json!({"speed": "inf", "image": ""})).contains("not a finite"));
        assert!(err(json!({"speed": [], "image": ""})).contains("an array, not a number"));
        assert!(err(json!({"speed": "1"})).contains("no `image`"));
        assert!(err(json!({"speed": "1", "image": 3})).contains("not a base64 string"));
        assert!(err(json!({"speed": "1", "image": "a".repeat(65)})).contains("65 characters of base64, more than the 64"));
        assert!(err(json!({"speed": "1", "image": "not base64!"})).contains("not valid base64"));
    }

    #[test]
    fn images_must_be_whole_jpegs_of_the_cameras_size() {
        let good = jpeg(FRAME_W as u32, FRAME_H as u32);
        assert!(decode_frame(b"\x89PNG\r\n").unwrap_err().contains("not a JPEG"));
        assert!(decode_frame(&good[..good.len() / 2]).unwrap_err().contains("truncated"));
        assert!(decode_frame(&jpeg(64, 32)).unwrap_err().contains("64x32"));
        // A header that claims 65000x65000 pixels (12 GB of RGB) over a small image's data:
        // refused from the header, before anything is allocated for the pixels.
        let mut huge = good.clone();
        let sof = huge.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        huge[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]);
        assert!(decode_frame(&huge).unwrap_err().contains("65000x65000"), "{:?}", decode_frame(&huge).err());
        let mut garbage = vec![0xFF, 0xD8];
        garbage.extend_from_slice(&[0x12; 100]);
        garbage.extend_from_slice(&[0xFF, 0xD9]);
        assert!(decode_frame(&garbage).unwrap_err().contains("cannot"));
    }
}
