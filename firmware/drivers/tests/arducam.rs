//! The camera driver against fakes of the ArduChip (SPI) and the OV2640 (I2C).

mod fake;

use drivers::arducam::{ArduCam, Error, MAX_ROW_BYTES};
use drivers::ov2640::{Geometry, Mode};
use fake::{ArduChip, BusError, Delay, Sensor};

const FULL: Geometry = Geometry::FULL;
const FRAME_BYTES: u32 = FULL.frame_bytes();
const ROW_BYTES: usize = FULL.row_bytes();
const HEIGHT: u16 = FULL.out_h;

/// A frame of `g` whose every byte says where it is.
fn frame_of(g: &Geometry) -> Vec<u8> {
    let row = g.row_bytes();
    (0..g.frame_bytes() as usize).map(|i| (i / row * 7 + i % row) as u8).collect()
}

fn test_frame() -> Vec<u8> {
    frame_of(&FULL)
}

/// What an OV2640 answers in PIDH, PIDL.
const PRODUCT_ID: u16 = 0x2642;

fn camera(chip: ArduChip, sensor: Sensor) -> ArduCam<ArduChip, Sensor> {
    ArduCam::new(chip, sensor)
}

#[test]
fn init_resets_the_module_and_sets_up_rgb565_qvga() {
    let mut cam = camera(ArduChip::with_frame(test_frame()), Sensor::with_id(PRODUCT_ID));
    let mut delay = Delay::default();
    cam.init(&FULL, &mut delay).unwrap();
    let (chip, sensor) = cam.release();

    assert_eq!(&chip.writes[..2], &[(0x07, 0x80), (0x07, 0x00)], "ArduChip reset first");
    assert_eq!(chip.regs[0x01], 0, "one frame per capture");
    assert!(delay.total_ns >= 200_000_000, "waits after the ArduChip reset");

    assert_eq!(sensor.writes[0], (1, 0x12, 0x80), "sensor soft reset before the setup");
    assert_eq!(sensor.reg(0, 0xDA), 0x08, "RGB565, high byte first");
    assert_eq!((sensor.reg(0, 0x5A), sensor.reg(0, 0x5B), sensor.reg(0, 0x5C)), (80, 60, 0), "320x240 out");
    assert_eq!((sensor.reg(0, 0xC0), sensor.reg(0, 0xC1), sensor.reg(0, 0x8C)), (200, 150, 0), "1600x1200 in");
    assert_eq!((sensor.reg(0, 0x51), sensor.reg(0, 0x52), sensor.reg(0, 0x55)), (0x90, 0x2C, 0x88), "400x300 x4 window");
    assert_eq!(sensor.reg(0, 0x86), 0x2D, "DCW on, other CTRL2 bits kept");
    assert_eq!(sensor.reg(0, 0x50), 0x89, "halved both ways, other CTRLI bits kept");
    assert_eq!(sensor.reg(0, 0xC2), 0x0E, "RGB path on, other CTRL0 bits kept");
    assert_eq!(sensor.writes.last(), Some(&(0, 0xE0, 0x00)), "output released last");
}

#[test]
fn init_detects_a_broken_spi_wire() {
    for stuck in [0x00, 0xFF] {
        let mut chip = ArduChip::with_frame(test_frame());
        chip.miso_stuck = Some(stuck);
        let mut cam = camera(chip, Sensor::with_id(PRODUCT_ID));
        let err = cam.init(&FULL, &mut Delay::default()).unwrap_err();
        assert_eq!(err, Error::SpiTest { wrote: 0x55, read: stuck });
    }
}

#[test]
fn init_detects_a_wrong_sensor() {
    for id in [0x5640, 0x7673, 0x0000] {
        let mut cam = camera(ArduChip::with_frame(test_frame()), Sensor::with_id(id));
        assert_eq!(cam.init(&FULL, &mut Delay::default()), Err(Error::ChipId { id }));
    }
}

#[test]
fn init_accepts_both_ov2640_revisions() {
    for id in [0x2641, 0x2642] {
        let mut cam = camera(ArduChip::with_frame(test_frame()), Sensor::with_id(id));
        assert_eq!(cam.init(&FULL, &mut Delay::default()), Ok(()));
    }
}

#[test]
fn init_reports_a_silent_i2c_bus() {
    let mut sensor = Sensor::with_id(PRODUCT_ID);
    sensor.present = false;
    let mut cam = camera(ArduChip::with_frame(test_frame()), sensor);
    assert_eq!(cam.init(&FULL, &mut Delay::default()), Err(Error::I2c(BusError)));
}

#[test]
fn a_capture_streams_every_row_in_order() {
    let frame = test_frame();
    let mut cam = camera(ArduChip::with_frame(frame.clone()), Sensor::with_id(PRODUCT_ID));
    let mut delay = Delay::default();
    cam.init(&FULL, &mut delay).unwrap();
    for _ in 0..2 {
        let mut row = [0; MAX_ROW_BYTES];
        let mut got = Vec::new();
        let mut ys = Vec::new();
        cam.capture(&mut delay)
            .unwrap()
            .read_rows(&mut row, |y, r| {
                ys.push(y);
                got.extend_from_slice(r);
            })
            .unwrap();
        assert_eq!(ys, (0..HEIGHT).collect::<Vec<_>>());
        assert!(got == frame, "the rows are the FIFO's bytes, in order");
    }
    let (chip, _) = cam.release();
    assert_eq!(chip.bursts, 2 * HEIGHT as usize, "one burst read per row");
    assert_eq!(chip.writes.last(), Some(&(0x04, 0x01)), "done flag cleared after reading");
}

#[test]
fn a_capture_that_never_completes_times_out() {
    let mut chip = ArduChip::with_frame(test_frame());
    chip.polls_until_done = None;
    let mut cam = camera(chip, Sensor::with_id(PRODUCT_ID));
    let mut delay = Delay::default();
    cam.init(&FULL, &mut delay).unwrap();
    let before = delay.total_ns;
    assert!(matches!(cam.capture(&mut delay), Err(Error::CaptureTimeout)));
    assert_eq!(delay.total_ns - before, 1_000_000_000, "waits the whole timeout, no more");
}

#[test]
fn a_fifo_that_does_not_hold_one_frame_is_refused() {
    for len in [0, 4_000, FRAME_BYTES as usize - 1, FRAME_BYTES as usize + ROW_BYTES + 1, 0x7F_FFFF] {
        let mut chip = ArduChip::with_frame(test_frame());
        chip.fifo_len = len;
        let mut cam = camera(chip, Sensor::with_id(PRODUCT_ID));
        let mut delay = Delay::default();
        cam.init(&FULL, &mut delay).unwrap();
        assert!(
            matches!(cam.capture(&mut delay), Err(Error::FifoLength { bytes, expected }) if bytes as usize == len && expected == FRAME_BYTES),
            "FIFO length {len}"
        );
    }
    for len in [FRAME_BYTES as usize, FRAME_BYTES as usize + 8] {
        let mut chip = ArduChip::with_frame(test_frame());
        chip.fifo_len = len;
        let mut cam = camera(chip, Sensor::with_id(PRODUCT_ID));
        let mut delay = Delay::default();
        cam.init(&FULL, &mut delay).unwrap();
        assert!(cam.capture(&mut delay).is_ok(), "FIFO length {len}");
    }
}

/// A model's set-up (`common::board::front_end` for a 80x18 network): CIF, a 400x88 window
/// from row 124, sent at 80x20.
const SMALL: Geometry = Geometry { mode: Mode::Cif, x: 0, y: 124, w: 400, h: 88, out_w: 80, out_h: 20 };

#[test]
fn a_small_window_sets_the_mode_window_and_zoom_and_reads_its_own_rows() {
    let frame = frame_of(&SMALL);
    let mut cam = camera(ArduChip::with_frame(frame.clone()), Sensor::with_id(PRODUCT_ID));
    let mut delay = Delay::default();
    cam.init(&SMALL, &mut delay).unwrap();
    let mut row = [0; MAX_ROW_BYTES];
    let (mut got, mut rows) = (Vec::new(), 0);
    cam.capture(&mut delay)
        .unwrap()
        .read_rows(&mut row, |_, r| {
            assert_eq!(r.len(), 160);
            got.extend_from_slice(r);
            rows += 1;
        })
        .unwrap();
    assert_eq!((rows, got == frame), (20, true));
    let (_, sensor) = cam.release();
    assert_eq!(sensor.reg(1, 0x12), 0x20, "CIF readout");
    assert_eq!((sensor.reg(0, 0xC0), sensor.reg(0, 0xC1), sensor.reg(0, 0x8C)), (50, 37, 0), "400x296 in");
    assert_eq!((sensor.reg(0, 0x51), sensor.reg(0, 0x52), sensor.reg(0, 0x53), sensor.reg(0, 0x54)), (100, 22, 0, 31), "window /4");
    assert_eq!((sensor.reg(0, 0x5A), sensor.reg(0, 0x5B), sensor.reg(0, 0x5C)), (20, 5, 0), "80x20 out");
    assert_eq!(sensor.reg(0, 0x50) & 0x3F, 0x09, "halved both ways (400x88 is over twice 80x20)");
}

#[test]
fn a_geometry_the_registers_cannot_hold_is_refused_before_any_write() {
    for g in [
        Geometry { out_w: 82, ..SMALL },
        Geometry { y: 240, ..SMALL },
        Geometry { out_w: 404, w: 400, ..SMALL },
        Geometry { mode: Mode::Uxga, out_w: 400, w: 1600, ..SMALL },
    ] {
        let mut cam = camera(ArduChip::with_frame(test_frame()), Sensor::with_id(PRODUCT_ID));
        assert_eq!(cam.init(&g, &mut Delay::default()), Err(Error::Geometry), "{g:?}");
        let (chip, sensor) = cam.release();
        assert!(chip.writes.is_empty() && sensor.writes.is_empty());
    }
}
