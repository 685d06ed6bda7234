//! What drive.py answers: the `steer` event with the steering and throttle as strings, written
//! as Python's `str()` writes a float, and the `manual` event; and drive.py's PI speed
//! controller for the throttle (kp 0.1, ki 0.002, set speed 9 mph).
//!
//! The controller's arithmetic is drive.py's, in f64 and in the same order, so for the same
//! reported speeds it gives the same throttles to the last bit, and the same strings.

/// drive.py's `SimplePIController`: `throttle = kp * error + ki * integral`, where `integral`
/// sums the errors of every update. No clamping: the simulator clamps the throttle to [-1, 1].
#[derive(Clone, Debug)]
pub struct PiController {
    pub kp: f64,
    pub ki: f64,
    /// The set speed, in the simulator's unit (mph).
    pub set_point: f64,
    integral: f64,
}

/// drive.py's gains and set speed.
pub const KP: f64 = 0.1;
pub const KI: f64 = 0.002;
pub const SET_SPEED_MPH: f64 = 9.0;

impl PiController {
    pub fn new(kp: f64, ki: f64, set_point: f64) -> PiController {
        PiController { kp, ki, set_point, integral: 0.0 }
    }

    /// The throttle for a measured speed.
    pub fn update(&mut self, measurement: f64) -> f64 {
        let error = self.set_point - measurement;
        self.integral += error;
        self.kp * error + self.ki * self.integral
    }
}

/// The `steer` event's JSON array. `steering` and `throttle` are the strings to send.
pub fn steer(steering: &str, throttle: &str) -> String {
    format!(r#"["steer",{{"steering_angle":"{steering}","throttle":"{throttle}"}}]"#)
}

/// drive.py's connect handler sends `send_control(0, 0)`: Python ints, so `"0"`, not `"0.0"`.
pub fn steer_at_connect() -> String {
    steer("0", "0")
}

/// drive.py's answer to empty telemetry; the simulator answers it with its next telemetry.
pub const MANUAL: &str = r#"["manual",{}]"#;

/// `str(x)` (= `repr(x)`) of a Python float: the shortest digits that read back as `x`, in
/// positional form for decimal exponents from -4 to 15 (with `.0` when integral), else as
/// `d.ddde[+-]XX`.
pub fn python_float(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // Rust's `{:e}` also writes the shortest round-trip digits: `d.ddde-N` or `de N`.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').expect("LowerExp writes an exponent");
    let exp: i32 = exp.parse().expect("LowerExp writes an integer exponent");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if !(-4..16).contains(&exp) {
        let m = if digits.len() == 1 { digits } else { format!("{}.{}", &digits[..1], &digits[1..]) };
        return format!("{sign}{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.unsigned_abs());
    }
    if exp < 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize));
    }
    let point = exp as usize + 1;
    if digits.len() <= point {
        format!("{sign}{digits}{}.0", "0".repeat(point - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bit patterns and what Python 3 prints for them (`repr(float)`), generated with
    /// `struct.unpack('d', ...)`; the last four are drive.py's throttles for reported speeds
    /// 0.0000, 5.1234, 8.9999 and 12.3456 in a row, and the four before them f32 values.
    const PYTHON: [(u64, &str); 26] = [
        (0x0000000000000000, "0.0"),
        (0x8000000000000000, "-0.0"),
        (0x3ff0000000000000, "1.0"),
        (0xbff0000000000000, "-1.0"),
        (0x3fb999999999999a, "0.1"),
        (0xbfac000000000000, "-0.0546875"),
        (0x3ee4f8b588e368f1, "1e-05"),
        (0x3f1a36e2eb1c432d, "0.0001"),
        (0x3f202e4b6ce5dc68, "0.00012345"),
        (0x4341c37937e08000, "1e+16"),
        (0x430c6bf526340000, "1000000000000000.0"),
        (0x437b69b4ba630f35, "1.2345678901234568e+17"),
        (0x43118b54f22aeb00, "1234567890123456.0"),
        (0x4345ee2a2eb5a5c4, "1.2345678901234568e+16"),
        (0x3e90c6f7a0b5ed8d, "2.5e-07"),
        (0xbeff75104d551d69, "-3e-05"),
        (0x4059000000000000, "100.0"),
        (0x434aa535d3d0c000, "1.5e+16"),
        (0x3fabe34560000000, "0.054468315094709396"),
        (0xbfc99999a0000000, "-0.20000000298023224"),
        (0x3fefffffe0000000, "0.9999999403953552"),
        (0x3e7ad7f2a0000000, "1.0000000116860974e-07"),
        (0x3fed604189374bc7, "0.918"),
        (0x3fda755ca36f0571, "0.4134132"),
        (0x3f9a61b881bc2d3b, "0.025763399999999975"),
        (0xbfd4311daf3d6fcc, "-0.31549779999999994"),
    ];

    #[test]
    fn floats_are_written_as_python_writes_them() {
        for (bits, want) in PYTHON {
            assert_eq!(python_float(f64::from_bits(bits)), want, "{bits:#018x}");
        }
        assert_eq!((python_float(f64::NAN), python_float(f64::NEG_INFINITY)), ("nan".into(), "-inf".into()));
    }

    #[test]
    fn the_controller_is_drive_pys() {
        let mut pi = PiController::new(KP, KI, SET_SPEED_MPH);
        let throttles: Vec<String> = ["0.0000", "5.1234", "8.9999", "12.3456"].iter().map(|s| python_float(pi.update(s.parse().unwrap()))).collect();
        assert_eq!(throttles, ["0.918", "0.4134132", "0.025763399999999975", "-0.31549779999999994"]);
    }

    #[test]
    fn events_are_python_socketios_json() {
        assert_eq!(steer_at_connect(), r#"["steer",{"steering_angle":"0","throttle":"0"}]"#);
        assert_eq!(steer("-0.0546875", "0.918"), r#"["steer",{"steering_angle":"-0.0546875","throttle":"0.918"}]"#);
    }
}
