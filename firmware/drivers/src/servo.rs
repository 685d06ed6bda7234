//! A hobby steering servo on one PWM channel.
//!
//! The channel must run at 50 Hz (a 20 ms period, what analogue and digital hobby servos
//! expect): the duty cycle is computed as a fraction of [`PERIOD_US`]. The pulse width sets the
//! angle: 1500 us is straight ahead, 1000 us and 2000 us the ends of travel, which the pulse
//! never leaves whatever the trim and range say.

use embedded_hal::pwm::SetDutyCycle;

/// The PWM period the channel must be set up with, in microseconds (50 Hz).
pub const PERIOD_US: u32 = 20_000;
/// Pulse widths in microseconds: straight ahead, and the ends of travel.
pub const CENTRE_US: u16 = 1500;
pub const MIN_US: u16 = 1000;
pub const MAX_US: u16 = 2000;

/// How steering values become pulses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Added to the centre pulse so that steering 0 drives straight (mechanical offsets).
    pub trim_us: i16,
    /// Pulse change from the centre at steering 1 (full right); negative reverses a servo
    /// mounted the other way round.
    pub range_us: i16,
}

impl Default for Config {
    /// No trim; steering +-1 uses the full 1000..2000 us travel.
    fn default() -> Self {
        Config { trim_us: 0, range_us: 500 }
    }
}

/// The steering servo.
pub struct Servo<P> {
    pwm: P,
    config: Config,
}

impl<P: SetDutyCycle> Servo<P> {
    /// Takes the channel (already at 50 Hz) and centres the servo at once.
    pub fn new(pwm: P, config: Config) -> Result<Self, P::Error> {
        let mut servo = Servo { pwm, config };
        servo.centre()?;
        Ok(servo)
    }

    /// The pulse for a steering value in [-1, 1] (clamped; not a number: centre), in us.
    pub fn pulse_us(&self, steering: f32) -> u16 {
        let s = if steering.is_nan() { 0.0 } else { steering.clamp(-1.0, 1.0) };
        let offset = s * self.config.range_us as f32;
        // Rounds half away from zero (`as` truncates towards zero; core has no `round`).
        let offset = if offset < 0.0 { offset - 0.5 } else { offset + 0.5 } as i32;
        let pulse = CENTRE_US as i32 + self.config.trim_us as i32 + offset;
        pulse.clamp(MIN_US as i32, MAX_US as i32) as u16
    }

    /// The channel's duty value for a pulse of `pulse_us`, rounded to the nearest step.
    pub fn duty(&self, pulse_us: u16) -> u16 {
        let max = self.pwm.max_duty_cycle() as u32;
        ((pulse_us as u32 * max + PERIOD_US / 2) / PERIOD_US) as u16
    }

    /// The duty value of the safe state (centre plus trim): what a fault handler that cannot
    /// borrow the servo writes to the channel's compare register.
    pub fn centre_duty(&self) -> u16 {
        self.duty(self.pulse_us(0.0))
    }

    /// Steers to `steering` in [-1, 1] (right positive) and returns the pulse width in us.
    pub fn steer(&mut self, steering: f32) -> Result<u16, P::Error> {
        let pulse = self.pulse_us(steering);
        self.pwm.set_duty_cycle(self.duty(pulse))?;
        Ok(pulse)
    }

    /// The safe state: straight ahead (centre plus trim).
    pub fn centre(&mut self) -> Result<(), P::Error> {
        self.steer(0.0).map(|_| ())
    }
}
