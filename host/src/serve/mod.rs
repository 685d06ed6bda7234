//! `pilot serve`: the server side of the Udacity simulator's autonomous mode, as the course's
//! `drive.py` runs it (python-socketio 4.6 on python-engineio 3.13, eventlet's WebSocket), so
//! the simulator (Unity) drives with a `pilot` driver.
//!
//! What the simulator's client (socket.io for Unity, on websocket-sharp) does, read in the
//! simulator's sources (udacity/self-driving-car-sim, `Assets/SocketIO` and `CommandServer.cs`):
//! - It opens `ws://127.0.0.1:4567/socket.io/?EIO=4&transport=websocket` directly (no polling
//!   first), without an `Origin` header, and sends every message longer than 1016 bytes as
//!   fragments of 1016 bytes (a telemetry event always is).
//! - It speaks Engine.IO protocol 3 whatever `EIO=4` says: it sends ping `2` every 25 s and
//!   expects pong `3`; it never sends Socket.IO's connect `40`.
//! - It sends a `telemetry` event when the connection opens (twice: on the WebSocket's open and
//!   on Engine.IO's open packet) and after every `steer` or `manual` event it receives, so each
//!   reply asks for the next frame. Telemetry is `42["telemetry",{"steering_angle":"..",
//!   "throttle":"..","speed":"..","image":"<base64 JPEG, 320x160>"}]`; while a key is held
//!   (W or S) it is `42["telemetry",null]` (manual mode).
//!
//! What this server answers, as those versions do (details in [`session`]): after the 101
//! response, `0{"sid":..,"upgrades":[],"pingTimeout":60000,"pingInterval":25000}`, then drive.py's
//! connect handler's `42["steer",{"steering_angle":"0","throttle":"0"}]`, then `40`; `3` for
//! every `2`; for telemetry `42["steer",{"steering_angle":"<str>","throttle":"<str>"}]` with the
//! numbers written as Python's `str(float)` writes them, and `42["manual",{}]` for an empty one.
//! Later versions break this client: python-socketio 5 waits for a `40` that never comes, and
//! python-engineio 4 no longer answers the client's pings.
//!
//! The layers, each independent of models: [`http`] (the upgrade request and its answer),
//! [`websocket`] (frames), [`engineio`] and [`socketio`] (packets), [`telemetry`] (the event's
//! contents, the camera image), [`command`] (the `steer` reply and the throttle controller),
//! [`record`] (what it saw, in the Udacity format), [`session`] (one connection) and
//! [`server`] (listening, a thread per connection).

pub mod command;
pub mod engineio;
pub mod http;
pub mod record;
pub mod server;
pub mod session;
pub mod socketio;
pub mod telemetry;
pub mod websocket;

// The steering drivers and the camera frame they take: the one place that names their modules.
pub use crate::sim::drive::Driver;
pub use crate::sim::render::{Frame, FRAME_H, FRAME_W};

pub use server::{serve, Level, Limits, Observer, Options, Timing};
