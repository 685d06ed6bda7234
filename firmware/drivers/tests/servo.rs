//! The servo driver against a fake PWM channel.

mod fake;

use drivers::servo::{Config, Servo};
use fake::Pwm;

/// A channel counting microseconds (a 1 MHz timer with a 20 ms period, as the board sets up).
fn us_channel() -> Pwm {
    Pwm { max: 20_000, duty: None }
}

#[test]
fn new_centres_at_once() {
    let mut pwm = us_channel();
    let servo = Servo::new(&mut pwm, Config::default()).unwrap();
    assert_eq!(servo.centre_duty(), 1500);
    assert_eq!(pwm.duty, Some(1500));
}

#[test]
fn full_range_maps_minus_one_zero_one_to_1000_1500_2000_us() {
    let mut pwm = us_channel();
    for (steering, pulse) in [(-1.0, 1000), (-0.5, 1250), (0.0, 1500), (0.25, 1625), (1.0, 2000)] {
        let mut servo = Servo::new(&mut pwm, Config::default()).unwrap();
        assert_eq!(servo.steer(steering).unwrap(), pulse, "steering {steering}");
        assert_eq!(pwm.duty, Some(pulse), "1 us per duty step");
    }
}

#[test]
fn trim_moves_the_centre_and_range_scales_the_travel() {
    let servo = Servo::new(us_channel(), Config { trim_us: -40, range_us: 300 }).unwrap();
    assert_eq!(servo.pulse_us(0.0), 1460);
    assert_eq!(servo.pulse_us(1.0), 1760);
    assert_eq!(servo.pulse_us(-1.0), 1160);
    assert_eq!(servo.pulse_us(0.001), 1460, "0.3 us rounds to the centre");
    assert_eq!(servo.pulse_us(0.005), 1462, "1.5 us rounds away from the centre");
    assert_eq!(servo.centre_duty(), 1460);
}

#[test]
fn a_negative_range_reverses_the_servo() {
    let servo = Servo::new(us_channel(), Config { trim_us: 0, range_us: -400 }).unwrap();
    assert_eq!(servo.pulse_us(1.0), 1100);
    assert_eq!(servo.pulse_us(-1.0), 1900);
}

#[test]
fn pulses_never_leave_1000_to_2000_us() {
    let servo = Servo::new(us_channel(), Config { trim_us: 300, range_us: 500 }).unwrap();
    assert_eq!(servo.pulse_us(1.0), 2000, "trim + range clamp at the end of travel");
    assert_eq!(servo.pulse_us(-1.0), 1300);
    let servo = Servo::new(us_channel(), Config { trim_us: -700, range_us: 500 }).unwrap();
    assert_eq!(servo.pulse_us(0.0), 1000);
    let servo = Servo::new(us_channel(), Config::default()).unwrap();
    assert_eq!(servo.pulse_us(7.0), 2000, "steering clamps to [-1, 1]");
    assert_eq!(servo.pulse_us(f32::NEG_INFINITY), 1000);
    assert_eq!(servo.pulse_us(f32::NAN), 1500, "not a number: centre");
}

#[test]
fn duty_scales_to_the_channel_resolution() {
    // A 16-bit timer at full resolution: 65535 steps per 20 ms.
    let mut pwm = Pwm { max: 65_535, duty: None };
    let mut servo = Servo::new(&mut pwm, Config::default()).unwrap();
    assert_eq!(servo.duty(1000), 3277, "1 ms of 20 ms, rounded");
    assert_eq!(servo.duty(2000), 6554);
    assert_eq!(servo.centre_duty(), 4915);
    servo.steer(-1.0).unwrap();
    assert_eq!(pwm.duty, Some(3277));
}

#[test]
fn centre_is_the_safe_state_after_any_steering() {
    let mut pwm = us_channel();
    let mut servo = Servo::new(&mut pwm, Config { trim_us: 25, range_us: 500 }).unwrap();
    servo.steer(1.0).unwrap();
    servo.centre().unwrap();
    assert_eq!(pwm.duty, Some(1525), "centre plus trim");
}
