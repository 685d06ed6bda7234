//! Listening: a thread per connection (a simulator uses one; a few more are allowed so that a
//! reconnecting simulator is not locked out by its own stale connection), one driver shared by
//! all of them, and what the server reports to whoever runs it.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use super::command::{KI, KP, SET_SPEED_MPH};
use super::record::Recorder;
use super::session;
use super::Driver;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// A frame the driver steered.
#[derive(Clone, Copy, Debug)]
pub struct Steered<'a> {
    /// The session's id (the first 8 digits of the Engine.IO `sid`).
    pub session: &'a str,
    /// Frames steered in this session, this one included.
    pub frames: u64,
    pub steering: f32,
    pub throttle: f64,
    /// Reported speed (mph).
    pub speed: f64,
}

/// Who hears what the server does: every connection, refusal, drop and bad message as a line,
/// and every steered frame.
pub trait Observer: Sync {
    fn log(&self, level: Level, message: &str);
    fn frame(&self, _steered: &Steered<'_>) {}
}

/// Bounds on what a client may send and take.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes of the HTTP request head.
    pub max_request_head: usize,
    /// Bytes of one WebSocket message (all its fragments).
    pub max_message: usize,
    /// Fragments of one WebSocket message (the simulator's are 1016 bytes each).
    pub max_fragments: usize,
    /// Characters of the image's base64 (a 320x160 JPEG at quality 100 is under 100 KB).
    pub max_image_base64: usize,
    /// Connections open at once; more are answered `503`.
    pub max_connections: usize,
    /// For the whole HTTP request to arrive.
    pub handshake_timeout: Duration,
    /// For a write to the client to go through.
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_request_head: 8 * 1024,
            max_message: 1024 * 1024,
            max_fragments: 2048,
            max_image_base64: 512 * 1024,
            max_connections: 4,
            handshake_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// Engine.IO's timing, as python-engineio 3.13 sets it by default.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// How often the client pings (announced in the open packet).
    pub ping_interval: Duration,
    /// Announced in the open packet (the simulator's client ignores it).
    pub ping_timeout: Duration,
    /// Added to the interval before a silent client is dropped.
    pub ping_grace: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing { ping_interval: Duration::from_secs(25), ping_timeout: Duration::from_secs(60), ping_grace: Duration::from_secs(5) }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The throttle controller's set speed (mph, the simulator's unit) and gains.
    pub set_speed: f64,
    pub kp: f64,
    pub ki: f64,
    pub limits: Limits,
    pub timing: Timing,
}

impl Default for Options {
    fn default() -> Options {
        Options { set_speed: SET_SPEED_MPH, kp: KP, ki: KI, limits: Limits::default(), timing: Timing::default() }
    }
}

/// What every connection's thread shares.
pub(super) struct Shared<'a> {
    pub driver: Mutex<Box<dyn Driver + Send + 'a>>,
    pub recorder: Mutex<Option<Recorder>>,
    pub options: Options,
    pub observer: &'a dyn Observer,
}

impl Shared<'_> {
    pub fn log(&self, level: Level, message: &str) {
        self.observer.log(level, message);
    }

    pub fn steer(&self, frame: &super::Frame) -> anyhow::Result<f32> {
        self.driver.lock().unwrap_or_else(PoisonError::into_inner).steer(frame)
    }

    /// Records a frame, if recording; a failure is logged and driving goes on.
    pub fn record(&self, jpeg: &[u8], steering: &str, throttle: &str, speed: f64) {
        let mut recorder = self.recorder.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(rec) = recorder.as_mut() {
            if let Err(e) = rec.write(jpeg, steering, throttle, speed) {
                self.log(Level::Error, &format!("recording failed: {e:#}"));
            }
        }
    }
}

/// Serves simulators on `listener` until the process ends: every connection on its own thread,
/// all steered by `driver`, every frame recorded by `recorder` if given.
pub fn serve<'a>(listener: TcpListener, driver: Box<dyn Driver + Send + 'a>, recorder: Option<Recorder>, options: Options, observer: &'a dyn Observer) -> ! {
    let shared = Shared { driver: Mutex::new(driver), recorder: Mutex::new(recorder), options, observer };
    let open = AtomicUsize::new(0);
    std::thread::scope(|scope| loop {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                shared.log(Level::Warn, &format!("accepting a connection failed: {e}"));
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let (shared, open) = (&shared, &open);
        scope.spawn(move || {
            let now_open = open.fetch_add(1, Ordering::SeqCst) + 1;
            let _count = OpenGuard(open);
            handle(stream, peer, now_open, shared);
        });
    })
}

/// Takes one off the open-connection count when a connection's thread ends.
struct OpenGuard<'a>(&'a AtomicUsize);

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn handle(stream: TcpStream, peer: SocketAddr, now_open: usize, shared: &Shared<'_>) {
    let limits = &shared.options.limits;
    let setup = stream
        .set_read_timeout(Some(limits.handshake_timeout))
        .and_then(|_| stream.set_write_timeout(Some(limits.write_timeout)))
        .and_then(|_| stream.set_nodelay(true));
    if let Err(e) = setup {
        shared.log(Level::Warn, &format!("connection from {peer}: cannot set it up: {e}"));
        return;
    }
    let busy = now_open > limits.max_connections;
    session::handle(stream, peer, busy, shared);
}
