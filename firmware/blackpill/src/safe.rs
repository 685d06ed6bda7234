//! The last line of the safe state: a panic or a fault centres the servo before anything
//! else, so a car never keeps its last steering with the program gone. The application
//! handles camera and model errors itself (`main.rs`); this is for bugs.
//!
//! A panic handler of its own instead of panic-probe's, which prints and faults but cannot
//! touch the servo first. It then faults the same way, so probe-rs still stops with a
//! backtrace; the timer keeps sending the centre pulse while the core is halted.

use core::panic::PanicInfo;
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m_rt::{exception, ExceptionFrame};

use crate::board;

/// The servo's centre duty, once the servo is set up; 0 before (no pulse: nothing to undo).
static CENTRE_DUTY: AtomicU32 = AtomicU32::new(0);

/// Records the centre duty for the handlers below ([`drivers::servo::Servo::centre_duty`]).
pub fn arm(centre_duty: u16) {
    CENTRE_DUTY.store(centre_duty as u32, Ordering::Relaxed);
}

fn centre_servo() {
    let duty = CENTRE_DUTY.load(Ordering::Relaxed);
    if duty != 0 {
        board::force_servo_duty(duty as u16);
    }
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    centre_servo();
    defmt::error!("panic: {}", defmt::Display2Format(info));
    cortex_m::asm::udf()
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    centre_servo();
    defmt::error!("HardFault at pc {=u32:#010x}; servo centred, stopped", frame.pc());
    loop {
        cortex_m::asm::wfi();
    }
}
