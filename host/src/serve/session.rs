//! One connection, from its HTTP request to its end, answering as drive.py on python-socketio
//! 4.6 and python-engineio 3.13 answers:
//! - after the `101`: the open packet, the `steer` of drive.py's connect handler
//!   (`send_control(0, 0)`, sent before `40` because python-socketio runs the handler first),
//!   then `40`;
//! - `2` (ping, optional data): `3` with the same data; no ping for `pingInterval` + 5 s closes
//!   the session (`1`), checked before every reply and by the socket's read timeout;
//! - `40`: drive.py's connect handler again, then `40`; `41`: the client leaves, its events are
//!   ignored from then on; `1`: nothing more is sent, and the WebSocket close that follows is
//!   answered (with 1000, as eventlet answers every close);
//! - `42["telemetry",{..}]`: the driver steers from the image, the PI controller sets the
//!   throttle, the reply is `42["steer",..]`; empty telemetry gets `42["manual",{}]`;
//! - an event with an id also gets its acknowledgement, `43<id>[]`.
//!
//! Where drive.py would raise (telemetry it cannot read, a driver that fails), this server logs
//! the error and answers `manual`, which makes the simulator send its next frame with its
//! controls unchanged: the simulator sends telemetry only in answer to `steer` or `manual`, so
//! a frame left unanswered would stop its stream. Everything else unexpected is logged and
//! ignored; a WebSocket framing error closes the connection with its close code (the simulator
//! reconnects within milliseconds). Replies go to the connection that asked (drive.py
//! broadcasts to every client; with one simulator that is the same) and each connection has its
//! own throttle controller.

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::command::{python_float, steer, steer_at_connect, PiController, MANUAL};
use super::engineio::{self, Packet as EnginePacket};
use super::http::{self, ReadError, Rejection};
use super::server::{Level, Shared, Steered};
use super::socketio::{self, Kind};
use super::telemetry::{self, Telemetry};
use super::websocket::{self, Message};

/// How a session ended: at what level to report it, and why.
struct End(Level, String);

/// Reads the request on a new connection, answers it, and serves the WebSocket session it
/// opens. `busy`: too many connections are open; the request is answered `503`.
pub(super) fn handle(stream: TcpStream, peer: SocketAddr, busy: bool, shared: &Shared<'_>) {
    let reader = match stream.try_clone() {
        Ok(s) => s,
        Err(e) => {
            shared.log(Level::Warn, &format!("connection from {peer}: {e}"));
            return;
        }
    };
    let mut reader = BufReader::new(reader);
    let mut writer = stream;
    answer(&mut reader, &mut writer, peer, busy, shared);
    linger(&writer, &mut reader);
}

/// Closes our side and reads what the client still sends, for at most a second and 1 MiB:
/// closing a socket with unread bytes in it resets the connection, and over a network the reset
/// can destroy the last answer (an HTTP error, a close frame) on its way to the client.
fn linger(writer: &TcpStream, reader: &mut BufReader<TcpStream>) {
    let _ = writer.shutdown(Shutdown::Write);
    let _ = writer.set_read_timeout(Some(Duration::from_millis(500)));
    let until = Instant::now() + Duration::from_secs(1);
    let mut buf = [0u8; 16 * 1024];
    let mut drained = 0;
    while Instant::now() < until && drained < (1 << 20) {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

fn answer(reader: &mut BufReader<TcpStream>, writer: &mut TcpStream, peer: SocketAddr, busy: bool, shared: &Shared<'_>) {
    let limits = shared.options.limits;
    let request = match http::read_request(reader, limits.max_request_head) {
        Ok(r) => r,
        Err(e) => {
            let status = match e {
                ReadError::TooLarge { .. } => Some(431),
                ReadError::Malformed(_) => Some(400),
                ReadError::Closed { .. } | ReadError::Io(_) => None,
            };
            if let Some(status) = status {
                let _ = writer.write_all(Rejection { status, reason: e.to_string() }.response().as_bytes());
            }
            let answer = status.map_or(String::new(), |s| format!(" (answered {s})"));
            shared.log(Level::Warn, &format!("connection from {peer}: {e}{answer}"));
            return;
        }
    };
    let line = format!("{} {}", request.method, http::shorten(&request.target));
    if busy {
        let reason = format!("{} connections are open already", limits.max_connections);
        let _ = writer.write_all(Rejection { status: 503, reason: reason.clone() }.response().as_bytes());
        shared.log(Level::Warn, &format!("refused {line} from {peer}: {reason} (answered 503)"));
        return;
    }
    let upgrade = match http::check_upgrade(&request) {
        Ok(u) => u,
        Err(rejection) => {
            let _ = writer.write_all(rejection.response().as_bytes());
            shared.log(Level::Warn, &format!("refused {line} from {peer}: {} (answered {})", rejection.reason, rejection.status));
            return;
        }
    };
    let timing = shared.options.timing;
    let setup = writer
        .write_all(http::switching_protocols(&upgrade.key).as_bytes())
        .and_then(|_| writer.set_read_timeout(Some(timing.ping_interval + timing.ping_grace)));
    if let Err(e) = setup {
        shared.log(Level::Warn, &format!("connection from {peer}: the upgrade failed: {e}"));
        return;
    }
    let mut session = Session::new(reader, writer, shared);
    shared.log(
        Level::Info,
        &format!(
            "simulator connected from {peer}: session {} ({}, EIO={})",
            short(&session.sid),
            upgrade.user_agent.as_deref().map_or("no User-Agent".into(), http::shorten),
            upgrade.eio.as_deref().map_or("unset".into(), http::shorten),
        ),
    );
    let End(level, why) = session.run();
    let seconds = session.started.elapsed().as_secs_f64();
    shared.log(level, &format!("session {}: {why}; {} frames steered in {seconds:.1} s", short(&session.sid), session.frames));
}

struct Session<'s, 'a> {
    shared: &'s Shared<'a>,
    sid: String,
    reader: &'s mut BufReader<TcpStream>,
    writer: &'s mut TcpStream,
    frames_in: websocket::Reader,
    /// Socket.IO namespaces the client is connected to.
    namespaces: BTreeSet<String>,
    throttle: PiController,
    last_ping: Instant,
    started: Instant,
    frames: u64,
    manual: bool,
}

impl<'s, 'a> Session<'s, 'a> {
    fn new(reader: &'s mut BufReader<TcpStream>, writer: &'s mut TcpStream, shared: &'s Shared<'a>) -> Session<'s, 'a> {
        let o = &shared.options;
        let limits = websocket::Limits { max_message: o.limits.max_message, max_fragments: o.limits.max_fragments };
        Session {
            shared,
            sid: new_sid(),
            reader,
            writer,
            frames_in: websocket::Reader::new(limits),
            namespaces: BTreeSet::new(),
            throttle: PiController::new(o.kp, o.ki, o.set_speed),
            last_ping: Instant::now(),
            started: Instant::now(),
            frames: 0,
            manual: false,
        }
    }

    fn log(&self, level: Level, message: &str) {
        self.shared.log(level, &format!("session {}: {message}", short(&self.sid)));
    }

    fn ping_deadline(&self) -> Duration {
        self.shared.options.timing.ping_interval + self.shared.options.timing.ping_grace
    }

    fn run(&mut self) -> End {
        match self.serve() {
            Ok(never) => match never {},
            Err(end) => end,
        }
    }

    fn serve(&mut self) -> Result<std::convert::Infallible, End> {
        let timing = self.shared.options.timing;
        let open = engineio::open(&self.sid, timing.ping_timeout.as_millis() as u64, timing.ping_interval.as_millis() as u64);
        self.write(&open)?;
        self.connect("/")?;
        loop {
            let message = match self.frames_in.read(&mut self.reader) {
                Ok(m) => m,
                Err(e) => return Err(self.read_failed(e)),
            };
            match message {
                Message::Text(text) => self.on_packet(&text)?,
                Message::Binary(bytes) => {
                    self.log(Level::Warn, &format!("a binary WebSocket message of {} bytes (the simulator sends text): ignored", bytes.len()))
                }
                Message::Ping(data) => self.write_frame(websocket::OP_PONG, &data)?,
                Message::Pong(_) => {}
                Message::Close(code, reason) => {
                    // eventlet answers every close with 1000, whatever the client's code.
                    let _ = websocket::write_close(&mut self.writer, Some(websocket::CLOSE_NORMAL), "");
                    let code = code.map_or("no status code".to_string(), |c| format!("code {c}"));
                    let reason = if reason.is_empty() { String::new() } else { format!(", `{}`", http::shorten(&reason)) };
                    return Err(End(Level::Info, format!("the simulator disconnected (WebSocket close, {code}{reason})")));
                }
            }
        }
    }

    /// After Engine.IO's close python-engineio sends nothing more, and eventlet answers the
    /// WebSocket close that follows (the simulator sends it right after); what comes between is
    /// ignored.
    fn await_close(&mut self) -> End {
        let closed = "the simulator closed the session (Engine.IO close";
        loop {
            match self.frames_in.read(&mut self.reader) {
                Ok(Message::Close(..)) => {
                    let _ = websocket::write_close(&mut self.writer, Some(websocket::CLOSE_NORMAL), "");
                    return End(Level::Info, format!("{closed}, then WebSocket close)"));
                }
                Ok(Message::Ping(data)) => {
                    if let Err(end) = self.write_frame(websocket::OP_PONG, &data) {
                        return end;
                    }
                }
                Ok(_) => {}
                Err(e) => return End(Level::Info, format!("{closed}); then {e}")),
            }
        }
    }

    /// Ends the session on a read error, with a close frame where the error calls for one.
    fn read_failed(&mut self, e: websocket::Error) -> End {
        if let websocket::Error::Io(io) = &e {
            if http::is_timeout(io) {
                return self.ping_timeout();
            }
        }
        match e.close_code() {
            Some(code) => {
                let _ = websocket::write_close(&mut self.writer, Some(code), &e.to_string());
                End(Level::Error, format!("{e}; closed the connection with code {code}"))
            }
            None => End(Level::Warn, format!("the simulator dropped the connection: {e}")),
        }
    }

    /// python-engineio's answer to a client that stopped pinging: a close packet.
    fn ping_timeout(&mut self) -> End {
        let seconds = self.ping_deadline().as_secs_f64();
        let _ = websocket::write_text(&mut self.writer, engineio::CLOSE);
        let _ = websocket::write_close(&mut self.writer, Some(websocket::CLOSE_NORMAL), "no ping");
        End(Level::Warn, format!("no ping from the simulator for {seconds:.1} s: closed the session"))
    }

    fn write_frame(&mut self, opcode: u8, payload: &[u8]) -> Result<(), End> {
        websocket::write_frame(&mut self.writer, opcode, payload)
            .map_err(|e| End(Level::Warn, format!("the simulator dropped the connection: sending failed: {e}")))
    }

    /// Sends an Engine.IO packet, unless the client has stopped pinging (python-engineio checks
    /// on every send).
    fn write(&mut self, packet: &str) -> Result<(), End> {
        if self.last_ping.elapsed() > self.ping_deadline() {
            return Err(self.ping_timeout());
        }
        self.write_frame(websocket::OP_TEXT, packet.as_bytes())
    }

    fn emit(&mut self, event_json: &str) -> Result<(), End> {
        self.write(&engineio::message(&socketio::event(event_json)))
    }

    /// python-socketio's connect: drive.py's handler on the default namespace, then `40`.
    fn connect(&mut self, namespace: &str) -> Result<(), End> {
        self.namespaces.insert(namespace.to_string());
        if namespace == "/" {
            self.emit(&steer_at_connect())?;
        }
        self.write(&engineio::message(&socketio::connect(namespace)))
    }

    fn on_packet(&mut self, text: &str) -> Result<(), End> {
        match engineio::parse(text) {
            Err(why) => self.log(Level::Warn, &format!("{why} in `{}`: ignored", http::shorten(text))),
            Ok(EnginePacket::Ping(data)) => {
                self.last_ping = Instant::now();
                self.write(&engineio::pong(data))?;
            }
            Ok(EnginePacket::Message(data)) => self.on_socketio(data)?,
            Ok(EnginePacket::Close) => return Err(self.await_close()),
            Ok(EnginePacket::Upgrade) => self.write(engineio::NOOP)?,
            Ok(other) => self.log(Level::Warn, &format!("unexpected Engine.IO packet {other:?} from a client: ignored")),
        }
        Ok(())
    }

    fn on_socketio(&mut self, text: &str) -> Result<(), End> {
        let packet = match socketio::parse(text) {
            Ok(p) => p,
            Err(why) => {
                self.log(Level::Warn, &format!("{why}: ignored"));
                return Ok(());
            }
        };
        let ns = packet.namespace;
        match packet.kind {
            Kind::Connect => {
                self.log(Level::Info, &format!("the client connected to namespace {ns}"));
                self.connect(ns)?;
            }
            Kind::Disconnect => {
                self.log(Level::Info, &format!("the client left namespace {ns}; its events are ignored from now on"));
                if ns == "/" {
                    self.namespaces.clear();
                } else {
                    self.namespaces.remove(ns);
                }
            }
            Kind::Event => {
                if !self.namespaces.contains(ns) {
                    self.log(Level::Warn, &format!("an event on namespace {ns}, which the client is not connected to: ignored"));
                    return Ok(());
                }
                self.on_event(ns, packet.data)?;
                if let Some(id) = packet.id {
                    self.write(&engineio::message(&socketio::ack(ns, id)))?;
                }
            }
            Kind::Ack => self.log(Level::Warn, &format!("an acknowledgement (id {:?}) for nothing this server asked: ignored", packet.id)),
            Kind::Error => self.log(Level::Error, &format!("the client sent a Socket.IO error: {}", http::shorten(packet.data))),
            Kind::BinaryEvent | Kind::BinaryAck => self.log(Level::Error, "a binary Socket.IO packet (the simulator sends none; not served): ignored"),
        }
        Ok(())
    }

    fn on_event(&mut self, ns: &str, data: &str) -> Result<(), End> {
        // A telemetry event that cannot be read is still answered (see the module's notes).
        let telemetry_like = data.starts_with("[\"telemetry\"");
        match socketio::event_args(data) {
            Err(why) if telemetry_like => self.bad_telemetry(&why),
            Err(why) => {
                self.log(Level::Error, &format!("{why} in `{}`: ignored", http::shorten(data)));
                Ok(())
            }
            Ok((name, args)) if name == "telemetry" && ns == "/" => self.on_telemetry(&args),
            Ok((name, _)) => {
                self.log(
                    Level::Warn,
                    &format!("unexpected event `{}` on namespace {ns} (drive.py handles only `telemetry` on /): ignored", http::shorten(&name)),
                );
                Ok(())
            }
        }
    }

    fn on_telemetry(&mut self, args: &[Value]) -> Result<(), End> {
        let sample = match telemetry::parse(args, self.shared.options.limits.max_image_base64) {
            Ok(Telemetry::Drive(sample)) => sample,
            Ok(Telemetry::Manual) => {
                if !self.manual {
                    self.log(Level::Info, "manual mode (empty telemetry: W or S held in the simulator); answering `manual` until it ends");
                    self.manual = true;
                }
                return self.emit(MANUAL);
            }
            Err(why) => return self.bad_telemetry(&why),
        };
        if self.manual {
            self.log(Level::Info, "autonomous again");
            self.manual = false;
        }
        let frame = match telemetry::decode_frame(&sample.jpeg) {
            Ok(f) => f,
            Err(why) => return self.bad_telemetry(&why),
        };
        let steering = match self.shared.steer(&frame) {
            Ok(s) if s.is_finite() => s,
            Ok(s) => return self.bad_telemetry(&format!("the driver steered {s}")),
            Err(e) => return self.bad_telemetry(&format!("the driver failed: {e:#}")),
        };
        let throttle = self.throttle.update(sample.speed);
        let (steering_text, throttle_text) = (python_float(f64::from(steering)), python_float(throttle));
        self.shared.record(&sample.jpeg, &steering_text, &throttle_text, sample.speed);
        self.frames += 1;
        self.shared.observer.frame(&Steered { session: short(&self.sid), frames: self.frames, steering, throttle, speed: sample.speed });
        self.emit(&steer(&steering_text, &throttle_text))
    }

    fn bad_telemetry(&mut self, why: &str) -> Result<(), End> {
        self.log(Level::Error, &format!("unusable telemetry: {why}; answered `manual` (the simulator sends its next frame)"));
        self.emit(MANUAL)
    }
}

/// The first 8 digits of a session id, which tell sessions apart in a log.
pub fn short(sid: &str) -> &str {
    &sid[..sid.len().min(8)]
}

/// A session id like python-engineio's (`uuid4().hex`: 32 hex digits), from the standard
/// library's randomly keyed hasher.
fn new_sid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    (0..2u64)
        .map(|half| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(n);
            h.write_u64(half);
            h.write_u128(nanos);
            format!("{:016x}", h.finish())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn session_ids_are_32_hex_digits_and_differ() {
        let (a, b) = (super::new_sid(), super::new_sid());
        assert!(a.len() == 32 && a.bytes().all(|c| c.is_ascii_hexdigit()) && a != b, "{a} {b}");
    }
}
