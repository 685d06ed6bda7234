//! Instruction counting with SysTick under QEMU's `-icount shift=0`.
//!
//! QEMU models no cycles and DWT CYCCNT reads 0, but with `-icount shift=0` every instruction
//! takes exactly 1 ns of virtual time, and SysTick counts that time at the mps2 boards' 25 MHz
//! core clock: one tick is 40 instructions, repeatably. The 24-bit counter wraps every
//! `RELOAD + 1` ticks; the SysTick exception counts the wraps, so time is a 64-bit tick
//! count. (On a real chip the same ticks are core cycles / 1; use DWT there.)

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::{SCB, SYST};
use cortex_m_rt::exception;

/// Instructions per SysTick tick on mps2 under `-icount shift=0` (1 GHz virtual / 25 MHz).
pub const INSTRUCTIONS_PER_TICK: u64 = 40;

/// Ticks per wrap minus one: a wrap every 2.6 M instructions, so the exception's own cost
/// (a few instructions) stays below 0.001 % and the first reload comes quickly.
const RELOAD: u32 = 0xFFFF;

static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// A running SysTick: the firmware's clock.
pub struct Clock {
    syst: SYST,
}

impl Clock {
    /// Starts SysTick and waits for its first reload (QEMU's counter reads 0 until then).
    pub fn start(mut syst: SYST) -> Clock {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        while WRAPS.load(Ordering::Relaxed) == 0 {}
        Clock { syst }
    }

    /// Ticks since start.
    pub fn now(&self) -> u64 {
        let _ = &self.syst; // owning SYST proves that no one else reprograms it
        cortex_m::interrupt::free(|_| {
            let mut wraps = WRAPS.load(Ordering::Relaxed);
            let mut current = SYST::get_current();
            // A wrap whose exception is still pending (interrupts are off here) has not been
            // counted yet: count it and re-read the counter, which is past the wrap by now.
            if SCB::is_pendst_pending() {
                wraps += 1;
                current = SYST::get_current();
            }
            // The exception becomes pending as the counter reaches 0, one tick before it
            // reloads: 0 is the first tick of the period that wrap starts, then RELOAD..1.
            // (Counting 0 as the old period's last tick made a reading in that one tick a
            // whole period late once the exception had run.)
            let ticks_into_period = if current == 0 { 0 } else { RELOAD + 1 - current };
            wraps as u64 * (RELOAD as u64 + 1) + ticks_into_period as u64
        })
    }

    /// Instructions executed since `since` (a value of [`Clock::now`]).
    pub fn instructions_since(&self, since: u64) -> u64 {
        (self.now() - since) * INSTRUCTIONS_PER_TICK
    }
}
