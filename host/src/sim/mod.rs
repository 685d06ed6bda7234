//! The driving simulator: procedurally generated closed tracks, a forward camera rendered like
//! the Udacity simulator's (centre, left and right cameras), a kinematic bicycle model, an expert
//! driver with recoveries for recording training data in the Udacity format, and closed-loop
//! scoring of a driver with the PilotNet autonomy metric.
//!
//! Conventions shared by every part:
//! - **World**: metres; x east, y north; headings in radians counter-clockwise from +x. The
//!   ground is flat.
//! - **Steering** in `[-1, 1]`, positive turns right (the Udacity simulator's sign), mapped
//!   linearly to a front wheel angle of up to 25 degrees ([`vehicle`]).
//! - **Time**: the physics takes [`PHYSICS_STEPS`] steps of 10 ms per frame tick of
//!   [`FRAME_DT`] (0.1 s); the drive ends, and its path gets a point, on a tick. When the camera
//!   is read and when a command reaches the wheels is the [`clock`]'s business: at ideal timing
//!   once per tick with no delay (the simulator's historical 10 Hz loop), at a board's timing
//!   as often and as late as the chip allows ([`timed`]).
//! - **Lateral error**: signed distance of the car's centre from the road's centre line,
//!   positive to the left. The car drives on the road's centre line (over the dashed line, using
//!   both lanes), as the expert does; "lane centre" in the autonomy metric means that line.
//! - **Determinism**: every random choice comes from the seed ([`noise`]); the same seed gives
//!   the same track, the same frames byte for byte, and the same recording.
//!
//! Left and right cameras sit [`render::SIDE_CAMERA_OFFSET`] = 0.8 m to the sides. A side camera
//! sees the road as the centre camera would if the car were 0.8 m off the centre line, so its
//! label is the centre label plus the expert's own correction for that offset
//! ([`steering_correction`]): +0.235 for the left image and -0.235 for the right one at the default
//! 9 m/s (the expert recovers with a fixed time constant, so the correction shrinks as the speed
//! grows: 0.11 at 13 m/s).
//!
//! The parts: [`track`] (centre line), [`look`], [`ground`], [`sky`] and [`world`] (what the
//! camera sees), [`texture`] and [`render`] (the camera), [`vehicle`], [`expert`], [`session`]
//! (one drive, with interventions), [`drive`] (the closed loop and the [`drive::Driver`] trait),
//! [`clock`] and [`timed`] (the loop in continuous time, at a board's frame rate and latency),
//! [`metrics`], [`record`] (Udacity-format recordings) and [`draw`] (pictures of a drive).

pub mod clock;
pub mod compare;
pub mod draw;
pub mod drive;
pub mod expert;
pub mod ground;
pub mod look;
pub mod metrics;
pub mod noise;
pub mod record;
pub mod render;
pub mod session;
pub mod sky;
pub mod texture;
pub mod timed;
pub mod track;
pub mod vehicle;
pub mod world;

/// Seconds between camera frames (10 Hz).
pub const FRAME_DT: f64 = 0.1;
/// Physics steps per frame.
pub const PHYSICS_STEPS: u32 = 10;
/// [`FRAME_DT`] in nanoseconds, the unit of the loop's clock (as of `common::board`'s timing).
pub const FRAME_NS: u64 = 100_000_000;
/// One physics step in nanoseconds.
pub const STEP_NS: u64 = FRAME_NS / PHYSICS_STEPS as u64;

/// The steering correction for the left camera's image at `speed` (m/s); the right camera's is
/// its negative. It is the expert's command for a car [`render::SIDE_CAMERA_OFFSET`] metres left
/// of the centre line, parallel to a straight road: what the left camera sees when the car is
/// centred is what the centre camera would see from there.
pub fn steering_correction(speed: f64) -> f32 {
    expert::Expert::correction_for_offset(render::SIDE_CAMERA_OFFSET, speed)
}
