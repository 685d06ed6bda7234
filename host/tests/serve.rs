//! `pilot serve` from the outside: a client that speaks as the Udacity simulator does
//! (websocket-sharp's upgrade request, masked frames cut at 1016 bytes, Engine.IO 3 pings,
//! Socket.IO events, telemetry with real JPEGs of the simulator's size, manual mode, the
//! disconnect it sends on quitting) against a server on an ephemeral port, with every `steer`
//! checked against the int8 reference's command for the same JPEG and drive.py's throttle; and
//! everything a client can get wrong, each answered, logged, and followed by a working frame.
//!
//! `cargo test --release -p host --test serve` runs these; `-- --ignored` adds the firmware in
//! QEMU (it builds the firmware).

mod serve {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
    use std::path::Path;
    use std::sync::{Arc, Mutex, OnceLock};
    use std::time::{Duration, Instant};

    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine as _;
    use clap::Parser;
    use host::cli::{run, Cli};
    use host::serve::record::Recorder;
    use host::serve::{serve, Driver, Frame, Level, Limits, Observer, Options, Timing};
    use host::sim::drive::{drive, ModelDriver, Pilot};
    use host::sim::render::{Camera, FRAME_H, FRAME_W};
    use host::sim::track::Track;
    use host::sim::world::World;
    use image::codecs::jpeg::JpegEncoder;
    use image::ImageEncoder;
    use serde_json::Value;

    const BLOB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/pilotnet/pilotnet.pnn8");
    /// RFC 6455's example key and its accept value, computed here by no code of the server's.
    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
    /// websocket-sharp's `FragmentLength`.
    const FRAGMENT: usize = 1016;

    fn blob() -> &'static [u8] {
        static BLOB_BYTES: OnceLock<Vec<u8>> = OnceLock::new();
        BLOB_BYTES.get_or_init(|| std::fs::read(BLOB).unwrap())
    }

    /// The int8 reference's steering for a JPEG, decoded here as the trainer decodes images.
    fn reference_steering(jpeg: &[u8]) -> f32 {
        let rgb = image::load_from_memory(jpeg).unwrap().into_rgb8();
        let mut frame = Frame::default();
        frame.rgb_mut().copy_from_slice(rgb.as_raw());
        ModelDriver::new(blob()).unwrap().steer(&frame).unwrap()
    }

    /// Centre-camera frames of the built-in simulator along a track, as JPEGs at quality 75
    /// (what Unity's `EncodeToJPG` writes by default).
    fn camera_jpegs(n: usize) -> Vec<Vec<u8>> {
        static JPEGS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
        JPEGS
            .get_or_init(|| {
                let track = Track::generate(3);
                let world = World::new(&track, 3);
                let mut poses = Vec::new();
                drive(&track, None, &mut Pilot::Expert, 9.0, 0.2, |t| {
                    poses.push(t.session.car().pose);
                    Ok(())
                })
                .unwrap();
                (0..4)
                    .map(|k| {
                        let mut frame = Frame::default();
                        world.render(&Camera::centre(), &poses[k * poses.len() / 4], &mut frame);
                        jpeg_of(frame.rgb(), FRAME_W as u32, FRAME_H as u32)
                    })
                    .collect()
            })
            .iter()
            .take(n)
            .cloned()
            .collect()
    }

    fn jpeg_of(rgb: &[u8], w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 75).write_image(rgb, w, h, image::ExtendedColorType::Rgb8).unwrap();
        out
    }

    /// The simulator's telemetry event: its numbers as strings with 4 decimals (C#'s "N4").
    fn telemetry(speed: &str, jpeg: &[u8]) -> String {
        format!(r#"42["telemetry",{{"steering_angle":"0.0000","throttle":"0.0000","speed":"{speed}","image":"{}"}}]"#, BASE64.encode(jpeg))
    }

    type Lines = Arc<Mutex<Vec<(Level, String)>>>;

    struct Collect(Lines);

    impl Observer for Collect {
        fn log(&self, level: Level, message: &str) {
            self.0.lock().unwrap().push((level, message.to_string()));
        }
    }

    struct Server {
        addr: SocketAddr,
        lines: Lines,
    }

    impl Server {
        /// A server steered by the shipped PilotNet through the int8 reference, on a free port.
        fn start(options: Options, recorder: Option<Recorder>) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let lines = Lines::default();
            let observer: &'static Collect = Box::leak(Box::new(Collect(lines.clone())));
            let driver = ModelDriver::new(blob()).unwrap();
            std::thread::spawn(move || serve(listener, Box::new(driver), recorder, options, observer));
            Server { addr, lines }
        }

        /// Waits (up to 10 s) for a log line containing every one of `words`; returns it.
        fn logged(&self, level: Level, words: &[&str]) -> String {
            let until = Instant::now() + Duration::from_secs(10);
            loop {
                let found = self.lines.lock().unwrap().iter().find(|(l, m)| *l == level && words.iter().all(|w| m.contains(w))).cloned();
                if let Some((_, m)) = found {
                    return m;
                }
                if Instant::now() > until {
                    panic!("no {level:?} line with {words:?} in the log:\n{:#?}", self.lines.lock().unwrap());
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }

        /// Connects as the simulator, drives one frame and checks its command; proves the
        /// server still serves.
        fn still_serves(&self) {
            // A connection that just ended may hold its place for a moment after its last log line.
            let until = Instant::now() + Duration::from_secs(2);
            let mut sim = loop {
                match Sim::connect_with(self.addr, &simulator_request(self.addr)) {
                    Ok(sim) => break sim,
                    Err(answer) if answer.starts_with("HTTP/1.1 503") && Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
                    Err(answer) => panic!("refused: {answer}"),
                }
            };
            sim.opening();
            let jpeg = &camera_jpegs(1)[0];
            let (steering, _) = sim.steer_reply(&telemetry("0.0000", jpeg));
            assert_eq!(steering, f64::from(reference_steering(jpeg)));
        }
    }

    /// What a server frame carried.
    #[derive(Debug, PartialEq)]
    struct Frame_ {
        opcode: u8,
        payload: Vec<u8>,
    }

    /// The simulator's side of a connection.
    struct Sim {
        stream: TcpStream,
        reader: BufReader<TcpStream>,
        masks: u32,
    }

    /// websocket-sharp's upgrade request, headers in its order.
    fn simulator_request(addr: SocketAddr) -> String {
        format!(
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nUser-Agent: websocket-sharp/1.0\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nHost: {addr}\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
    }

    /// Sends raw bytes on a new connection and returns everything the server answers until it
    /// closes.
    fn exchange(addr: SocketAddr, bytes: &[u8], half_close: bool) -> String {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        s.write_all(bytes).unwrap();
        if half_close {
            s.shutdown(Shutdown::Write).unwrap();
        }
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    impl Sim {
        fn connect(addr: SocketAddr) -> Sim {
            Sim::connect_with(addr, &simulator_request(addr)).unwrap()
        }

        /// Sends `request`; returns the connection if the answer is websocket-sharp's idea of a
        /// valid 101, else the answer.
        fn connect_with(addr: SocketAddr, request: &str) -> Result<Sim, String> {
            let stream = TcpStream::connect(addr).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            (&stream).write_all(request.as_bytes()).unwrap();
            let mut head = Vec::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 {
                    return Err(head.join(""));
                }
                if line == "\r\n" {
                    break;
                }
                head.push(line);
            }
            let status = head[0].clone();
            let header = |name: &str| {
                head.iter().find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                })
            };
            if !status.starts_with("HTTP/1.1 101 ") {
                let mut body = String::new();
                let _ = reader.read_to_string(&mut body);
                return Err(format!("{}{body}", head.join("")));
            }
            // What websocket-sharp checks (HandshakeResponse.IsWebSocketResponse and
            // checkIfValidHandshakeResponse).
            assert_eq!(header("Upgrade").unwrap().to_lowercase(), "websocket");
            assert!(header("Connection").unwrap().split(',').any(|t| t.trim().eq_ignore_ascii_case("upgrade")));
            assert_eq!(header("Sec-WebSocket-Accept").as_deref(), Some(ACCEPT));
            assert_eq!((header("Sec-WebSocket-Protocol"), header("Sec-WebSocket-Extensions")), (None, None));
            Ok(Sim { stream, reader, masks: 0x9E37_79B9 })
        }

        fn next_mask(&mut self) -> [u8; 4] {
            self.masks = self.masks.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            self.masks.to_be_bytes()
        }

        /// One frame, masked as a client must.
        fn frame(&mut self, first_byte: u8, payload: &[u8]) -> Vec<u8> {
            let mask = self.next_mask();
            host::serve::websocket::encode_frame(first_byte, payload, Some(mask))
        }

        fn write(&mut self, bytes: &[u8]) {
            self.stream.write_all(bytes).unwrap();
        }

        /// A text message as websocket-sharp sends it: one frame up to 1016 bytes, else a text
        /// frame of 1016 bytes, continuation frames, and a final continuation frame.
        fn send(&mut self, text: &str) {
            let bytes = text.as_bytes();
            if bytes.len() <= FRAGMENT {
                let f = self.frame(0x81, bytes);
                return self.write(&f);
            }
            let chunks: Vec<&[u8]> = bytes.chunks(FRAGMENT).collect();
            for (i, chunk) in chunks.iter().enumerate() {
                let fin = if i + 1 == chunks.len() { 0x80 } else { 0 };
                let opcode = if i == 0 { 0x1 } else { 0x0 };
                let f = self.frame(fin | opcode, chunk);
                self.write(&f);
            }
        }

        fn recv_frame(&mut self) -> Frame_ {
            let mut head = [0u8; 2];
            self.reader.read_exact(&mut head).unwrap();
            assert_eq!(head[0] & 0x80, 0x80, "the server fragments");
            assert_eq!(head[1] & 0x80, 0, "a server frame is masked");
            let len = match head[1] & 0x7F {
                126 => {
                    let mut b = [0u8; 2];
                    self.reader.read_exact(&mut b).unwrap();
                    u16::from_be_bytes(b) as usize
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.reader.read_exact(&mut b).unwrap();
                    u64::from_be_bytes(b) as usize
                }
                n => n as usize,
            };
            let mut payload = vec![0; len];
            self.reader.read_exact(&mut payload).unwrap();
            Frame_ { opcode: head[0] & 0x0F, payload }
        }

        fn recv(&mut self) -> String {
            let f = self.recv_frame();
            assert_eq!(f.opcode, 1, "not a text frame: {f:?}");
            String::from_utf8(f.payload).unwrap()
        }

        /// The close frame's code, and then the end of the connection.
        fn recv_close(&mut self) -> Option<u16> {
            let f = self.recv_frame();
            assert_eq!(f.opcode, 8, "not a close frame: {:?}", String::from_utf8_lossy(&f.payload));
            let mut rest = Vec::new();
            let _ = self.reader.read_to_end(&mut rest);
            (f.payload.len() >= 2).then(|| u16::from_be_bytes([f.payload[0], f.payload[1]]))
        }

        /// What python-socketio 4.6 + drive.py send first, with the default timing; returns
        /// the sid. Then pings, as the simulator's ping thread does at once.
        fn opening(&mut self) -> String {
            let (sid, open) = self.opening_packets();
            assert_eq!(open, format!(r#"0{{"sid":"{sid}","upgrades":[],"pingTimeout":60000,"pingInterval":25000}}"#));
            self.send("2");
            assert_eq!(self.recv(), "3");
            sid
        }

        /// The open packet (and its sid), drive.py's connect `steer`, and `40`.
        fn opening_packets(&mut self) -> (String, String) {
            let open = self.recv();
            let sid = open.strip_prefix(r#"0{"sid":""#).and_then(|s| s.split_once('"')).map(|(sid, _)| sid.to_string());
            let sid = sid.unwrap_or_else(|| panic!("not an open packet: {open}"));
            assert!(sid.len() == 32 && sid.bytes().all(|c| c.is_ascii_hexdigit()), "{sid}");
            assert_eq!(self.recv(), r#"42["steer",{"steering_angle":"0","throttle":"0"}]"#);
            assert_eq!(self.recv(), "40");
            (sid, open)
        }

        /// Sends `text` and reads a `steer` reply: its steering and throttle, parsed.
        fn steer_reply(&mut self, text: &str) -> (f64, f64) {
            self.send(text);
            let reply = self.recv();
            let json = reply.strip_prefix("42").unwrap_or_else(|| panic!("not an event: {reply}"));
            let v: Value = serde_json::from_str(json).unwrap();
            assert_eq!(v[0], "steer", "{reply}");
            let field = |k: &str| v[1][k].as_str().unwrap_or_else(|| panic!("{k} is not a string: {reply}")).to_string();
            let (s, t) = (field("steering_angle"), field("throttle"));
            assert_eq!(v[1].as_object().unwrap().len(), 2, "{reply}");
            // Python's str(float): shortest round-trip digits, always with a point or exponent.
            assert!(s.contains('.') || s.contains('e'), "{s}");
            (s.parse().unwrap(), t.parse().unwrap())
        }

        fn expect_manual(&mut self, text: &str) {
            self.send(text);
            assert_eq!(self.recv(), r#"42["manual",{}]"#, "after {}", &text[..text.len().min(60)]);
        }
    }

    /// drive.py's controller over a sequence of reported speeds.
    fn drive_py_throttles(speeds: &[&str]) -> Vec<f64> {
        let mut integral = 0.0;
        speeds
            .iter()
            .map(|s| {
                let error = 9.0 - s.parse::<f64>().unwrap();
                integral += error;
                0.1 * error + 0.002 * integral
            })
            .collect()
    }

    #[test]
    fn drives_as_drive_py_does_for_the_simulators_client() {
        let server = Server::start(Options::default(), None);
        let mut sim = Sim::connect(server.addr);
        let sid = sim.opening();
        let connected = server.logged(Level::Info, &["simulator connected from 127.0.0.1", "websocket-sharp/1.0", "EIO=4"]);
        assert!(connected.contains(&sid[..8]), "{connected}");

        let jpegs = camera_jpegs(3);
        let speeds = ["0.0000", "5.1234", "8.9999"];
        let throttles = drive_py_throttles(&speeds);
        let mut seen = Vec::new();
        for ((jpeg, speed), want_throttle) in jpegs.iter().zip(speeds).zip(&throttles) {
            let message = telemetry(speed, jpeg);
            assert!(message.len() > 5 * FRAGMENT, "the telemetry goes in fragments");
            let (steering, throttle) = sim.steer_reply(&message);
            assert_eq!(steering, f64::from(reference_steering(jpeg)));
            assert_eq!(throttle, *want_throttle);
            seen.push(steering);
        }
        assert!(seen.windows(2).any(|w| w[0] != w[1]), "the same steering for different frames: {seen:?}");

        // Manual mode (W or S held): empty telemetry, answered `manual`; the controller waits.
        sim.expect_manual(r#"42["telemetry",null]"#);
        server.logged(Level::Info, &["manual mode"]);
        sim.expect_manual(r#"42["telemetry",{}]"#);
        // An event that asks for an acknowledgement gets one after its reply.
        sim.expect_manual(r#"427["telemetry",null]"#);
        assert_eq!(sim.recv(), "437[]");
        let (_, throttle) = sim.steer_reply(&telemetry("9.5000", &jpegs[0]));
        assert_eq!(throttle, drive_py_throttles(&["0.0000", "5.1234", "8.9999", "9.5000"])[3]);
        server.logged(Level::Info, &["autonomous again"]);

        // Quitting, the simulator sends Socket.IO's disconnect, Engine.IO's close and a
        // WebSocket close without a status code.
        sim.send("41");
        sim.send("1");
        let close = sim.frame(0x88, &[]);
        sim.write(&close);
        assert_eq!(sim.recv_close(), Some(1000), "eventlet answers 1000");
        server.logged(Level::Info, &["closed the session (Engine.IO close, then WebSocket close)", "4 frames steered"]);
    }

    #[test]
    fn a_websocket_close_ends_the_session_and_the_server_serves_the_next() {
        let server = Server::start(Options::default(), None);
        let mut sim = Sim::connect(server.addr);
        sim.opening();
        let close = sim.frame(0x88, &[]);
        sim.write(&close);
        assert_eq!(sim.recv_close(), Some(1000), "answered as eventlet answers");
        server.logged(Level::Info, &["the simulator disconnected (WebSocket close, no status code)"]);
        // A connection dropped without any close is reported as a drop.
        let sim = Sim::connect(server.addr);
        drop(sim);
        server.logged(Level::Warn, &["dropped the connection"]);
        server.still_serves();
    }

    #[test]
    fn the_recording_is_a_udacity_recording_that_the_trainer_reads() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("drive");
        let recorder = Recorder::create(&dir, false, "test").unwrap();
        let server = Server::start(Options::default(), Some(recorder));
        let mut sim = Sim::connect(server.addr);
        sim.opening();
        let jpegs = camera_jpegs(2);
        let mut sent = Vec::new();
        for (jpeg, speed) in jpegs.iter().zip(["3.2100", "4.5600"]) {
            sent.push(sim.steer_reply(&telemetry(speed, jpeg)));
        }
        sim.expect_manual(r#"42["telemetry",null]"#);
        let rows = host::data::udacity::read_log(&dir, 0).unwrap();
        assert_eq!(rows.len(), 2, "one row per steered frame, none for manual mode");
        for ((row, jpeg), (steering, throttle)) in rows.iter().zip(&jpegs).zip(&sent) {
            assert_eq!(&std::fs::read(&row.center).unwrap(), jpeg, "the simulator's JPEG, untouched");
            assert!(row.center.file_name().unwrap().to_string_lossy().starts_with("center_"));
            assert_eq!((row.left.as_ref(), row.right.as_ref()), (None, None));
            assert_eq!(row.steering, *steering as f32);
            assert!((row.throttle - *throttle as f32).abs() < 1e-6, "{} {throttle}", row.throttle);
        }
        assert_eq!((rows[0].speed, rows[1].speed), (3.21, 4.56));
        assert!(rows[0].center < rows[1].center);
    }

    #[test]
    fn bad_http_requests_are_answered_logged_and_the_server_keeps_serving() {
        let server = Server::start(Options::default(), None);
        let addr = server.addr;
        let good = simulator_request(addr);
        let cases: [(String, &str, &str); 7] = [
            (good.replacen("/socket.io/", "/", 1), "404 Not Found", "not the Socket.IO path"),
            (good.replacen("transport=websocket", "transport=polling", 1), "400 Bad Request", "only transport=websocket"),
            (good.replacen("Version: 13", "Version: 8", 1), "426 Upgrade Required", "is not 13"),
            (good.replacen("Host:", "Origin: http://example.com\r\nHost:", 1), "400 Bad Request", "origin http://example.com"),
            (good.replacen("Upgrade: websocket\r\n", "", 1), "400 Bad Request", "not a WebSocket upgrade"),
            ("GARBAGE\r\n\r\n".to_string(), "400 Bad Request", "not an HTTP request"),
            (format!("GET /socket.io/ HTTP/1.1\r\nX-Padding: {}\r\n\r\n", "a".repeat(9000)), "431 Request Header", "larger than 8192 bytes"),
        ];
        for (request, status, why) in &cases {
            let answer = match Sim::connect_with(addr, request) {
                Ok(_) => panic!("accepted: {request}"),
                Err(answer) => answer,
            };
            assert!(answer.starts_with(&format!("HTTP/1.1 {status}")) && answer.contains(why), "{answer}");
            server.logged(Level::Warn, &[why]);
        }
        // A client that keeps sending after an oversized head still gets its answer. (The
        // server also reads on for a moment before closing, so that over a real network the
        // close does not reset the connection while the answer is on its way; on loopback the
        // answer arrives first either way, so this does not show that part.)
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut w = s.try_clone().unwrap();
        let flood = std::thread::spawn(move || {
            let _ = w.write_all(format!("GET /socket.io/ HTTP/1.1\r\nX: {}", "a".repeat(512 * 1024)).as_bytes());
        });
        let mut answer = Vec::new();
        let read = s.read_to_end(&mut answer);
        flood.join().unwrap();
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 431 "), "{read:?} {}", String::from_utf8_lossy(&answer));
        // A request cut short, then the connection closed.
        assert_eq!(exchange(addr, &good.as_bytes()[..50], true), "");
        server.logged(Level::Warn, &["after 50 bytes, inside its request (truncated)"]);
        server.still_serves();
    }

    #[test]
    fn websocket_framing_errors_close_the_connection_with_their_code_and_the_server_keeps_serving() {
        let options = Options { limits: Limits { max_message: 64 * 1024, ..Limits::default() }, ..Options::default() };
        let server = Server::start(options, None);
        let cases: [(&str, u16, &str); 5] = [
            ("unmasked", 1002, "unmasked"),
            ("huge", 1009, "larger than 65536"),
            ("fragments", 1009, "larger than 65536"),
            ("utf8", 1007, "not valid UTF-8"),
            ("opcode", 1002, "reserved opcode"),
        ];
        for (what, code, logged) in cases {
            let mut sim = Sim::connect(server.addr);
            sim.opening();
            let bytes = match what {
                "unmasked" => vec![0x81, 0x01, b'2'],
                "huge" => {
                    let mut b = vec![0x81, 0x80 | 127];
                    b.extend_from_slice(&(1u64 << 40).to_be_bytes());
                    b
                }
                "fragments" => {
                    // A 70 KB telemetry in 1016-byte fragments, as the simulator would send it.
                    let text = format!(r#"42["telemetry",{{"speed":"1","image":"{}"}}]"#, "A".repeat(70_000));
                    sim.send(&text);
                    Vec::new()
                }
                "utf8" => sim.frame(0x81, &[b'4', b'2', 0xC3, 0x28]),
                _ => sim.frame(0x83, b"2"),
            };
            sim.write(&bytes);
            assert_eq!(sim.recv_close(), Some(code), "{what}");
            server.logged(Level::Error, &[logged, &format!("closed the connection with code {code}")]);
        }
        // A frame cut short by the end of the connection.
        let mut sim = Sim::connect(server.addr);
        sim.opening();
        let f = sim.frame(0x81, b"42[\"telemetry\",null]");
        sim.write(&f[..8]);
        sim.stream.shutdown(Shutdown::Write).unwrap();
        server.logged(Level::Warn, &["dropped the connection", "truncated"]);
        server.still_serves();
    }

    #[test]
    fn unusable_telemetry_gets_a_logged_error_and_manual_and_the_session_goes_on() {
        let server = Server::start(Options::default(), None);
        let mut sim = Sim::connect(server.addr);
        sim.opening();
        let jpeg = &camera_jpegs(1)[0];
        let small = image::RgbImage::from_pixel(64, 32, image::Rgb([90, 90, 90]));
        let wrong_size = jpeg_of(small.as_raw(), 64, 32);
        let mut huge_header = jpeg.clone();
        let sof = huge_header.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        huge_header[sof + 5..sof + 9].copy_from_slice(&[0xFD, 0xE8, 0xFD, 0xE8]);
        let whole = telemetry("1.0000", jpeg);
        let cases: Vec<(String, &str)> = vec![
            (whole.replacen(r#""image":""#, r#""image":"!!"#, 1), "not valid base64"),
            (telemetry("1.0000", &jpeg[..jpeg.len() - 300]), "truncated"),
            (telemetry("1.0000", &wrong_size), "64x32"),
            (telemetry("1.0000", &huge_header), "65000x65000"),
            (telemetry("1.0000", b"GIF89a"), "not a JPEG"),
            (format!(r#"42["telemetry",{{"speed":"1","image":"{}"}}]"#, "A".repeat(600 * 1024)), "more than the 524288"),
            (whole.replacen(r#""speed":"1.0000","#, "", 1), "no `speed`"),
            (whole.replacen("1.0000", "12,5000", 1), "decimal separator"),
            (whole.replacen(r#""image""#, r#""picture""#, 1), "no `image`"),
            (r#"42["telemetry","hello"]"#.to_string(), "a string, not an object"),
            (whole[..whole.len() / 2].to_string(), "not JSON"),
        ];
        for (message, why) in &cases {
            sim.expect_manual(message);
            server.logged(Level::Error, &["unusable telemetry", why]);
        }
        // What no reply is due for: logged, and the next ping still answered.
        let ignored: [(&str, Level, &str); 6] = [
            (r#"42["hello",{}]"#, Level::Warn, "unexpected event `hello`"),
            ("9", Level::Warn, "unknown Engine.IO packet type `9`"),
            ("4x", Level::Warn, "unknown Socket.IO packet type"),
            ("42{not json", Level::Error, "in `{not json`: ignored"),
            ("44\"bad\"", Level::Error, "Socket.IO error"),
            ("43[]", Level::Warn, "acknowledgement"),
        ];
        for (message, level, why) in ignored {
            sim.send(message);
            sim.send("2");
            assert_eq!(sim.recv(), "3", "after {message}");
            server.logged(level, &[why]);
        }
        let bin = sim.frame(0x82, &[4, 2, 0]);
        sim.write(&bin);
        sim.send("2");
        assert_eq!(sim.recv(), "3");
        server.logged(Level::Warn, &["binary WebSocket message of 3 bytes"]);
        // None of that reached the throttle controller.
        let (steering, throttle) = sim.steer_reply(&telemetry("2.5000", jpeg));
        assert_eq!((steering, throttle), (f64::from(reference_steering(jpeg)), drive_py_throttles(&["2.5000"])[0]));
        // After leaving the namespace its events are ignored.
        sim.send("41");
        sim.send(r#"42["telemetry",null]"#);
        sim.send("2");
        assert_eq!(sim.recv(), "3");
        server.logged(Level::Warn, &["not connected to: ignored"]);
        // Connecting again runs drive.py's connect handler again.
        sim.send("40");
        assert_eq!(sim.recv(), r#"42["steer",{"steering_angle":"0","throttle":"0"}]"#);
        assert_eq!(sim.recv(), "40");
    }

    #[test]
    fn a_simulator_that_stops_pinging_is_closed_after_the_interval_and_grace() {
        let timing = Timing { ping_interval: Duration::from_millis(600), ping_timeout: Duration::from_secs(2), ping_grace: Duration::from_millis(300) };
        let server = Server::start(Options { timing, ..Options::default() }, None);
        let mut sim = Sim::connect(server.addr);
        let (_, open) = sim.opening_packets();
        assert!(open.ends_with(r#","upgrades":[],"pingTimeout":2000,"pingInterval":600}"#), "{open}");
        let started = Instant::now();
        assert_eq!(sim.recv(), "1", "Engine.IO's close");
        assert_eq!(sim.recv_close(), Some(1000));
        assert!(started.elapsed() >= Duration::from_millis(800), "closed after {:?}", started.elapsed());
        server.logged(Level::Warn, &["no ping from the simulator for 0.9 s"]);
        // Pinging keeps a session open past that time; telemetry alone does not (Engine.IO 3
        // counts pings only): replies go out until the deadline, then the close packet.
        let mut sim = Sim::connect(server.addr);
        sim.opening_packets();
        sim.send("2");
        assert_eq!(sim.recv(), "3");
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(400));
            sim.send("2");
            assert_eq!(sim.recv(), "3");
        }
        let mut answered = 0;
        loop {
            std::thread::sleep(Duration::from_millis(200));
            sim.send(r#"42["telemetry",null]"#);
            match sim.recv().as_str() {
                r#"42["manual",{}]"# => answered += 1,
                "1" => break,
                other => panic!("{other}"),
            }
            assert!(answered < 10, "still answering after 2 s without a ping");
        }
        assert!(answered >= 2, "closed after {answered} answers");
        assert_eq!(sim.recv_close(), Some(1000));
    }

    #[test]
    fn more_connections_than_allowed_are_answered_503() {
        let options = Options { limits: Limits { max_connections: 1, ..Limits::default() }, ..Options::default() };
        let server = Server::start(options, None);
        let mut first = Sim::connect(server.addr);
        first.opening();
        let answer = Sim::connect_with(server.addr, &simulator_request(server.addr)).err().unwrap();
        assert!(answer.starts_with("HTTP/1.1 503 Service Unavailable") && answer.contains("1 connections are open already"), "{answer}");
        server.logged(Level::Warn, &["answered 503"]);
        first.send("1");
        drop(first);
        server.logged(Level::Info, &["Engine.IO close"]);
        server.still_serves();
    }

    fn cli(args: &[&str]) -> anyhow::Result<()> {
        run(Cli::try_parse_from(args)?)
    }

    #[test]
    fn the_command_refuses_bad_arguments_before_listening() {
        assert!(Cli::try_parse_from(["pilot", "serve"]).is_err(), "a model is required");
        let err = cli(&["pilot", "serve", "--model", "r", "--firmware", "qemu"]).unwrap_err().to_string();
        assert!(err.contains("give --blob"), "{err}");
        let err = cli(&["pilot", "serve", "--blob", BLOB, "--force"]).unwrap_err().to_string();
        assert!(err.contains("--record"), "{err}");
        let err = cli(&["pilot", "serve", "--blob", "no/such.pnn8"]).unwrap_err().to_string();
        assert!(err.contains("no/such.pnn8"), "{err}");
        let tmp = tempfile::tempdir().unwrap();
        let sign = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/sign/sign.pnn8");
        let err = format!("{:#}", cli(&["pilot", "serve", "--blob", sign]).unwrap_err());
        assert!(err.contains("classifier"), "{err}");
        std::fs::write(tmp.path().join("mine.txt"), "keep").unwrap();
        let dir = tmp.path().to_str().unwrap();
        let err = cli(&["pilot", "serve", "--blob", BLOB, "--record", dir]).unwrap_err().to_string();
        assert!(err.contains("not empty") && err.contains("--force"), "{err}");
        assert_eq!(std::fs::read_to_string(tmp.path().join("mine.txt")).unwrap(), "keep");
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port().to_string();
        let err = cli(&["pilot", "serve", "--blob", BLOB, "--port", &port]).unwrap_err().to_string();
        assert!(err.contains(&format!("cannot listen on 127.0.0.1:{port}")) && err.contains("--port"), "{err}");
        assert!(Path::new(BLOB).exists());
    }

    #[test]
    #[ignore = "builds the firmware and runs it in QEMU: cargo test --release -p host --test serve -- --ignored"]
    fn the_firmware_in_qemu_steers_as_the_reference() {
        let missing = host::qemu::missing_tools();
        assert!(missing.is_empty(), "missing: {missing:?}");
        let work = tempfile::tempdir().unwrap();
        let firmware = host::qemu::FirmwareDriver::new(Path::new(BLOB), work.path()).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let lines = Lines::default();
        let observer: &'static Collect = Box::leak(Box::new(Collect(lines.clone())));
        std::thread::spawn(move || serve(listener, Box::new(firmware), None, Options::default(), observer));
        let mut sim = Sim::connect(addr);
        sim.opening();
        for jpeg in camera_jpegs(2) {
            let (steering, _) = sim.steer_reply(&telemetry("0.0000", &jpeg));
            assert_eq!(steering, f64::from(reference_steering(&jpeg)));
        }
    }
}
