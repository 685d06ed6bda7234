//! Frame rate and time per part, logged every [`LOG_EVERY`] frames (defmt over RTT). Times
//! come from the core's cycle counter (DWT CYCCNT); each part of a frame is far shorter than
//! its 43 s wrap at 100 MHz.

use firmware::stack;

use crate::board::CORE_HZ;
use crate::pilot::FrameCycles;

/// Frames per log line.
pub const LOG_EVERY: u32 = 10;

/// Sums over the frames since the last log line.
#[derive(Default)]
pub struct Stats {
    frames: u32,
    /// Waiting for the camera's capture.
    capture: u64,
    /// Reading the rows and preprocessing them.
    read: u64,
    /// The network.
    network: u64,
}

impl Stats {
    /// Adds one frame; every [`LOG_EVERY`] frames logs the means and the last steering.
    pub fn record(&mut self, capture: u32, cycles: &FrameCycles, steering: f32, pulse_us: u16) {
        self.frames += 1;
        self.capture += capture as u64;
        self.read += cycles.read as u64;
        self.network += cycles.network as u64;
        if self.frames < LOG_EVERY {
            return;
        }
        let ms = |cycles: u64| cycles as f32 * 1000.0 / (self.frames as f32 * CORE_HZ as f32);
        let frame_ms = ms(self.capture + self.read + self.network);
        defmt::info!(
            "{=f32} frames/s; per frame: capture {=f32} ms, readout and preprocessing {=f32} ms, inference {=f32} ms; steering {=f32} (servo {=u16} us); stack high-water {=usize} B",
            1000.0 / frame_ms,
            ms(self.capture),
            ms(self.read),
            ms(self.network),
            steering,
            pulse_us,
            stack::high_water()
        );
        *self = Stats::default();
    }
}
