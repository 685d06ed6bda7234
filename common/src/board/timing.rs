//! Frame timing: how the camera and the core's work combine into decisions per second and the
//! latency from a frame to its servo command.
//!
//! The work of one frame, as the firmware does it (`firmware/blackpill/src/main.rs`,
//! `pilot.rs`): once the sensor has delivered the frame, its rows are read one at a time, each
//! preprocessed as it arrives and pushed into the network's row bands (the **streamed** part:
//! readout, preprocessing and the banded layers, interleaved on the one core); after the last
//! row the layers after the band chain run (the network's **tail**), then the servo is set.
//!
//! The sensor runs freely with period `T`: frame `n` starts at a VSYNC and is complete one
//! period later. A capture request waits for the next VSYNC.
//! - [`Pipeline::Sequential`] (what the firmware does today): request, wait for the VSYNC, the
//!   frame, the streamed part, the tail, the servo; then the next request.
//! - [`Pipeline::Overlapped`]: the next capture is requested as soon as the last row has been
//!   read (the camera's buffer is free again), so the sensor delivers the next frame while the
//!   tail runs.
//!
//! The latency is counted from the start of the captured frame (its VSYNC: the scene the frame
//! shows is no newer than that, and its first rows are exposed before it) to the servo command.
//! The period is the time between two servo commands. Both are found by running the schedule
//! for a number of frames in integer nanoseconds: a loop locked to the sensor's VSYNCs settles
//! into a fixed pattern, whose mean this returns.

use super::camera::{Camera, Nanos};

/// When the next capture is requested.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pipeline {
    /// After the servo command (the firmware today).
    Sequential,
    /// Right after the last row is read, while the network's tail runs.
    Overlapped,
}

impl Pipeline {
    pub fn name(self) -> &'static str {
        match self {
            Pipeline::Sequential => "sequential",
            Pipeline::Overlapped => "overlapped",
        }
    }
}

/// The core's work on one frame, in nanoseconds at the board's clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// Reading the rows off the camera (core time; 0 when DMA did it).
    pub readout_ns: Nanos,
    /// Preprocessing every row.
    pub preprocess_ns: Nanos,
    /// The banded layers, computed as the rows come in.
    pub network_streamed_ns: Nanos,
    /// The layers after the band chain, once the last row is in.
    pub network_tail_ns: Nanos,
}

impl Work {
    /// Readout, preprocessing and the banded layers: what runs while the rows come in.
    pub fn streamed_ns(&self) -> Nanos {
        self.readout_ns + self.preprocess_ns + self.network_streamed_ns
    }

    /// The whole network.
    pub fn network_ns(&self) -> Nanos {
        self.network_streamed_ns + self.network_tail_ns
    }
}

/// Where the time of a frame goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameTiming {
    pub pipeline: Pipeline,
    /// Mean time between two servo commands.
    pub period_ns: Nanos,
    /// Mean time from the start of the captured frame to its servo command.
    pub latency_ns: Nanos,
    /// Mean time from a capture request to the VSYNC that starts its frame.
    pub capture_wait_ns: Nanos,
    /// The sensor's frame period: the frame's own transfer into the camera's buffer or RAM.
    pub sensor_ns: Nanos,
    /// From the frame being complete to the core starting on it: the done flag's polling and,
    /// overlapped, waiting for the core to finish the previous frame's tail.
    pub notice_ns: Nanos,
    pub work: Work,
}

impl FrameTiming {
    /// Decisions (servo commands) per second.
    pub fn decisions_per_second(&self) -> f32 {
        if self.period_ns == 0 {
            return 0.0;
        }
        1e9 / self.period_ns as f32
    }

    /// The latency's camera part: the frame's transfer, noticing it, reading it out.
    pub fn camera_latency_ns(&self) -> Nanos {
        self.sensor_ns + self.notice_ns + self.work.readout_ns
    }
}

/// Frames the schedule runs before it is measured, and then measured over. A VSYNC-locked loop
/// repeats after at most a few frames when its work is fixed; these are generous.
const SETTLE_FRAMES: u64 = 16;
const MEASURED_FRAMES: u64 = 64;

/// Runs the schedule of `work` on `camera` (see the module documentation).
pub fn frame_timing(camera: &Camera, work: Work, pipeline: Pipeline) -> FrameTiming {
    let t = camera.frame_ns.max(1);
    let notice = camera.notice_ns();
    let next_vsync = |at: Nanos| at.div_ceil(t) * t;
    let (mut request, mut core_free) = (0, 0);
    let (mut first_done, mut last_done) = (0, 0);
    let (mut latency, mut wait, mut stall) = (0, 0, 0);
    for frame in 0..SETTLE_FRAMES + MEASURED_FRAMES {
        let vsync = next_vsync(request);
        let ready = vsync + t + notice;
        let start = ready.max(core_free);
        let streamed_end = start + work.streamed_ns();
        let done = streamed_end + work.network_tail_ns;
        if frame >= SETTLE_FRAMES {
            if frame == SETTLE_FRAMES {
                first_done = done;
            }
            latency += done - vsync;
            wait += vsync - request;
            stall += start - ready;
        }
        last_done = done;
        core_free = done;
        request = match pipeline {
            Pipeline::Sequential => done,
            Pipeline::Overlapped => streamed_end,
        };
    }
    let n = MEASURED_FRAMES;
    FrameTiming {
        pipeline,
        // (MEASURED_FRAMES commands span MEASURED_FRAMES - 1 periods.)
        period_ns: (last_done - first_done) / (n - 1),
        latency_ns: latency / n,
        capture_wait_ns: wait / n,
        sensor_ns: t,
        notice_ns: notice + stall / n,
        work,
    }
}
