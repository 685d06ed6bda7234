//! The car's firmware on the STM32F411 "Black Pill". From `firmware/blackpill/`,
//! `cargo run --release` builds it, flashes it through probe-rs and shows its log.
//!
//! Each turn: capture a frame on the ArduCAM (320x240 RGB565), stream its rows through the
//! model's preprocessing into the network, steer the servo with the output. Every few frames
//! the log (defmt over RTT) gives the frame rate and the time of each part. Any camera or model
//! error centres the servo first, then is logged, and the camera is set up again a second
//! later. A model the board cannot drive with keeps the servo centred and says why, again and
//! again. Panics and faults centre the servo too (`safe.rs`). The camera's I2C bus, which the
//! HAL polls without timeouts, is only used while setting the camera up, with the servo
//! centred: a stuck bus cannot leave a stale steering.
#![no_std]
#![no_main]

mod board;
mod pilot;
mod safe;
mod stats;

/// Settings from the build's environment (`build.rs`).
mod config {
    include!(concat!(env!("OUT_DIR"), "/config.rs"));
}

use cortex_m::peripheral::DWT;
use cortex_m_rt::entry;
use defmt_rtt as _;
use drivers::arducam::{self, ArduCam};
use drivers::servo::Servo;
use embedded_hal::delay::DelayNs;
use firmware::model;

use board::{Board, CameraI2c, CameraSpi, Delay, ServoPwm};
use pilot::{FrameError, Pilot};
use stats::Stats;

type Camera = ArduCam<CameraSpi, CameraI2c>;
type CameraError = arducam::Error<<CameraSpi as embedded_hal::spi::ErrorType>::Error, <CameraI2c as embedded_hal::i2c::ErrorType>::Error>;

#[entry]
fn main() -> ! {
    let Some(Board { camera_spi, camera_i2c, servo, mut delay }) = Board::take() else {
        defmt::panic!("the peripherals were taken before main");
    };
    let Ok(mut servo) = Servo::new(servo, config::SERVO);
    safe::arm(servo.centre_duty());
    defmt::info!("servo: centre {=u16} us (trim {=i16} us), range {=i16} us", servo.pulse_us(0.0), config::SERVO.trim_us, config::SERVO.range_us);

    let model = match model::parse() {
        Ok(model) => model,
        Err(e) => park(&mut servo, &mut delay, || defmt::error!("model blob rejected by the parser: {}", e)),
    };
    let mut pilot = match Pilot::new(&model) {
        Ok(pilot) => pilot,
        Err(e) => park(&mut servo, &mut delay, || defmt::error!("cannot drive with model {=str}: {}", model.name(), e)),
    };
    let (pp, g) = (*pilot.camera_spec(), *pilot.geometry());
    defmt::info!(
        "model {=str}: {=u64} MACs, arena {=usize} B; camera {}: window {=u16}x{=u16} at ({=u16}, {=u16}) sent as {=u16}x{=u16} RGB565, {} input",
        model.name(),
        model.macs(),
        model::ARENA_BYTES,
        defmt::Debug2Format(&g.mode),
        g.w,
        g.h,
        g.x,
        g.y,
        pp.frame_w,
        pp.frame_h,
        pp.color
    );

    let mut camera = ArduCam::new(camera_spi, camera_i2c);
    loop {
        let error = match camera.init(&g, &mut delay) {
            Ok(()) => {
                defmt::info!("camera ready: OV2640, {=u16}x{=u16} RGB565", g.out_w, g.out_h);
                drive(&mut camera, &mut pilot, &mut servo, &mut delay)
            }
            Err(e) => FrameError::Camera(e),
        };
        let Ok(()) = servo.centre();
        defmt::error!("{}; servo centred, setting the camera up again in 1 s", error);
        delay.delay_ms(1000);
    }
}

/// Drives frame after frame; returns the first error (the servo still at its last position).
fn drive(camera: &mut Camera, pilot: &mut Pilot<'_, '_>, servo: &mut Servo<ServoPwm>, delay: &mut Delay) -> FrameError<CameraError> {
    let mut stats = Stats::default();
    loop {
        let t0 = DWT::cycle_count();
        let frame = match camera.capture(delay) {
            Ok(frame) => frame,
            Err(e) => return FrameError::Camera(e),
        };
        let capture = DWT::cycle_count().wrapping_sub(t0);
        match pilot.infer(|row, f| frame.read_rows(row, f)) {
            Ok((steering, cycles)) => {
                let Ok(pulse) = servo.steer(steering);
                stats.record(capture, &cycles, steering, pulse);
            }
            Err(e) => return e,
        }
    }
}

/// Keeps the servo centred and repeats why every 5 s (a probe attached later still sees it).
fn park(servo: &mut Servo<ServoPwm>, delay: &mut Delay, why: impl Fn()) -> ! {
    let Ok(()) = servo.centre();
    loop {
        why();
        delay.delay_ms(5000);
    }
}
