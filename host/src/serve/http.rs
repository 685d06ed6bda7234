//! The HTTP part of a connection: the client's WebSocket upgrade request, read with a bound on
//! its size, checked as python-engineio 3.13 and eventlet check it, and answered with
//! `101 Switching Protocols` (RFC 6455 section 4.2.2) or an error that says what was wrong.

use std::io::{BufRead, Read};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

/// The path prefix python-socketio's middleware hands to Engine.IO (`socketio_path`).
pub const SOCKET_IO_PATH: &str = "/socket.io/";
/// RFC 6455's key suffix for `Sec-WebSocket-Accept`.
const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A request line and its headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target as sent (path and query).
    pub target: String,
    pub version: String,
    /// Header names and values in order, values trimmed.
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The first value of a query parameter (no percent-decoding: the values that matter here
    /// are plain words).
    pub fn query(&self, key: &str) -> Option<&str> {
        let (_, query) = self.target.split_once('?')?;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == key).then_some(v)
        })
    }

    /// Whether the comma-separated header `name` has the token `token` (case-insensitive).
    fn has_token(&self, name: &str, token: &str) -> bool {
        self.header(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The connection ended after `received` bytes, before the blank line that ends the head.
    Closed { received: usize },
    /// The head is longer than the limit.
    TooLarge { limit: usize },
    /// Not an HTTP/1.x request head.
    Malformed(String),
    /// Reading failed (reset, or no bytes within the handshake timeout).
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Closed { received: 0 } => write!(f, "the client closed the connection without sending a request"),
            ReadError::Closed { received } => {
                write!(f, "the client closed the connection after {received} bytes, inside its request (truncated)")
            }
            ReadError::TooLarge { limit } => {
                write!(f, "the request head is larger than {limit} bytes")
            }
            ReadError::Malformed(why) => write!(f, "not an HTTP request: {why}"),
            ReadError::Io(e) if is_timeout(e) => {
                write!(f, "no complete request within the handshake timeout")
            }
            ReadError::Io(e) => write!(f, "reading the request failed: {e}"),
        }
    }
}

/// Whether an I/O error is a read or write timeout (`WouldBlock` on Unix, `TimedOut` on Windows).
pub fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}

/// Reads a request head (up to and including its blank line) of at most `limit` bytes. Bytes
/// after the head stay in `reader`.
pub fn read_request(reader: &mut impl BufRead, limit: usize) -> Result<Request, ReadError> {
    let mut limited = reader.take(limit as u64);
    let mut lines = Vec::new();
    let mut received = 0;
    loop {
        let mut line = Vec::new();
        let n = limited.read_until(b'\n', &mut line).map_err(ReadError::Io)?;
        received += n;
        if n == 0 || line.last() != Some(&b'\n') {
            return Err(if received >= limit { ReadError::TooLarge { limit } } else { ReadError::Closed { received } });
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            if lines.is_empty() {
                continue; // RFC 9112 section 2.2: ignore empty lines before the request line
            }
            break;
        }
        let text = String::from_utf8(line).map_err(|_| ReadError::Malformed("a line is not UTF-8".into()))?;
        lines.push(text);
    }
    parse_head(&lines)
}

fn parse_head(lines: &[String]) -> Result<Request, ReadError> {
    let bad = |why: String| Err(ReadError::Malformed(why));
    let first = &lines[0];
    let parts: Vec<&str> = first.split(' ').collect();
    let [method, target, version] = parts[..] else {
        return bad(format!("request line `{}` is not `METHOD TARGET HTTP/1.1`", shorten(first)));
    };
    if !version.starts_with("HTTP/1.") || method.is_empty() || !target.starts_with('/') {
        return bad(format!("request line `{}` is not `METHOD /path HTTP/1.x`", shorten(first)));
    }
    let mut headers = Vec::new();
    for line in &lines[1..] {
        let Some((name, value)) = line.split_once(':') else {
            return bad(format!("header line `{}` has no `:`", shorten(line)));
        };
        if name.is_empty() || name.contains([' ', '\t']) {
            return bad(format!("header name `{}` is empty or has spaces", shorten(name)));
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    Ok(Request { method: method.into(), target: target.into(), version: version.into(), headers })
}

/// At most 80 characters of `s`, for messages about what a client sent.
pub fn shorten(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// A refused request: the HTTP status to answer with and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub reason: String,
}

impl Rejection {
    fn new(status: u16, reason: impl Into<String>) -> Rejection {
        Rejection { status, reason: reason.into() }
    }

    /// The response: status line, a plain-text body with the reason, and `Connection: close`.
    pub fn response(&self) -> String {
        let extra = if self.status == 426 { "Sec-WebSocket-Version: 13\r\n" } else { "" };
        let body = format!("{}\n", self.reason);
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
            self.status,
            status_text(self.status),
            body.len()
        )
    }
}

fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// A request that may become a WebSocket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upgrade {
    /// `Sec-WebSocket-Key`.
    pub key: String,
    /// The `EIO` query parameter, if any (Engine.IO 3 ignores it; the simulator sends 4).
    pub eio: Option<String>,
    /// `User-Agent`, if any (the simulator's is `websocket-sharp/1.0`).
    pub user_agent: Option<String>,
}

/// Checks an Engine.IO WebSocket request in the order python-socketio's middleware,
/// python-engineio 3.13 and eventlet do: the path, the origin (a browser page from another
/// site may not drive the car), the transport, the upgrade headers, the WebSocket version and
/// key. Only the WebSocket transport is served: the simulator never polls.
pub fn check_upgrade(req: &Request) -> Result<Upgrade, Rejection> {
    if !req.path().starts_with(SOCKET_IO_PATH) {
        return Err(Rejection::new(404, format!("{} is not the Socket.IO path {SOCKET_IO_PATH}", shorten(req.path()))));
    }
    if req.method != "GET" {
        return Err(Rejection::new(405, format!("method {} is not GET", shorten(&req.method))));
    }
    if req.version != "HTTP/1.1" {
        return Err(Rejection::new(400, format!("{} cannot upgrade to a WebSocket (HTTP/1.1 can)", shorten(&req.version))));
    }
    if let Some(origin) = req.header("Origin") {
        let own = req.header("Host").map(|h| format!("http://{h}"));
        if own.as_deref() != Some(origin) {
            return Err(Rejection::new(400, format!("origin {} is not this server's", shorten(origin))));
        }
    }
    if req.query("sid").is_some() {
        return Err(Rejection::new(400, "unknown session: this server keeps no polling sessions"));
    }
    match req.query("transport") {
        Some("websocket") => {}
        other => {
            return Err(Rejection::new(
                400,
                format!(
                    "transport {} is not served: only transport=websocket (what the simulator uses)",
                    other.map_or("polling (the default)".to_string(), shorten)
                ),
            ))
        }
    }
    if !req.has_token("Upgrade", "websocket") || !req.has_token("Connection", "upgrade") {
        return Err(Rejection::new(400, "not a WebSocket upgrade (needs `Upgrade: websocket` and `Connection: Upgrade`)"));
    }
    if req.header("Sec-WebSocket-Version") != Some("13") {
        return Err(Rejection::new(426, format!("Sec-WebSocket-Version {} is not 13", req.header("Sec-WebSocket-Version").map_or("missing".into(), shorten))));
    }
    let key = req.header("Sec-WebSocket-Key").unwrap_or("");
    if BASE64.decode(key).map(|k| k.len()) != Ok(16) {
        return Err(Rejection::new(400, format!("Sec-WebSocket-Key `{}` is not 16 bytes in base64", shorten(key))));
    }
    Ok(Upgrade { key: key.to_string(), eio: req.query("EIO").map(str::to_string), user_agent: req.header("User-Agent").map(str::to_string) })
}

/// `Sec-WebSocket-Accept` for a client's key: base64 of the SHA-1 of the key and the GUID.
pub fn accept_key(key: &str) -> String {
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(WEBSOCKET_GUID.as_bytes());
    BASE64.encode(sha.digest().bytes())
}

/// The 101 response, with eventlet's headers in eventlet's order (no extensions, no
/// subprotocol: the simulator asks for neither).
pub fn switching_protocols(key: &str) -> String {
    format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n", accept_key(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request websocket-sharp (the simulator's WebSocket client) writes, headers in its
    /// order.
    const SIMULATOR: &str = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nUser-Agent: websocket-sharp/1.0\r\n\
        Upgrade: websocket\r\nConnection: Upgrade\r\nHost: 127.0.0.1:4567\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    fn read(text: &str) -> Result<Request, ReadError> {
        read_request(&mut std::io::BufReader::new(text.as_bytes()), 8192)
    }

    #[test]
    fn accept_key_is_rfc_6455s_example() {
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn the_simulators_request_is_accepted() {
        let req = read(SIMULATOR).unwrap();
        assert_eq!((req.method.as_str(), req.path(), req.query("EIO")), ("GET", "/socket.io/", Some("4")));
        let up = check_upgrade(&req).unwrap();
        assert_eq!(up.key, "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!((up.eio.as_deref(), up.user_agent.as_deref()), (Some("4"), Some("websocket-sharp/1.0")));
        assert!(switching_protocols(&up.key).ends_with("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"));
    }

    #[test]
    fn bytes_after_the_head_stay_unread() {
        let mut bytes = SIMULATOR.as_bytes().to_vec();
        bytes.push(0x81);
        let mut reader = std::io::BufReader::new(bytes.as_slice());
        read_request(&mut reader, 8192).unwrap();
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, [0x81]);
    }

    #[test]
    fn truncated_oversized_and_malformed_heads_are_errors() {
        let cut = &SIMULATOR[..40];
        assert!(matches!(read(cut), Err(ReadError::Closed { received: 40 })));
        assert!(matches!(read(""), Err(ReadError::Closed { received: 0 })));
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(9000));
        assert!(matches!(read(&huge), Err(ReadError::TooLarge { limit: 8192 })));
        for bad in ["GARBAGE\r\n\r\n", "GET /x HTTP/1.1\r\nno colon here\r\n\r\n", "GET x HTTP/1.1\r\n\r\n", "GET / SPDY/3\r\n\r\n"] {
            assert!(matches!(read(bad), Err(ReadError::Malformed(_))), "{bad:?}");
        }
    }

    fn rejected(text: &str) -> u16 {
        check_upgrade(&read(text).unwrap()).unwrap_err().status
    }

    #[test]
    fn wrong_requests_are_rejected_with_the_right_status() {
        let with = |from: &str, to: &str| SIMULATOR.replacen(from, to, 1);
        assert_eq!(rejected(&with("/socket.io/", "/")), 404);
        assert_eq!(rejected(&with("GET", "POST")), 405);
        assert_eq!(rejected(&with("transport=websocket", "transport=polling")), 400);
        assert_eq!(rejected(&with("&transport=websocket", "")), 400);
        assert_eq!(rejected(&with("EIO=4", "EIO=4&sid=abc")), 400);
        assert_eq!(rejected(&with("Upgrade: websocket\r\n", "")), 400);
        assert_eq!(rejected(&with("Connection: Upgrade", "Connection: keep-alive")), 400);
        assert_eq!(rejected(&with("Version: 13", "Version: 8")), 426);
        assert_eq!(rejected(&with("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=")), 400);
        assert_eq!(rejected(&with("Host:", "Origin: http://evil.example\r\nHost:")), 400);
        // A browser page served by this host may connect, and the tokens are case-insensitive.
        let own = with("Host:", "Origin: http://127.0.0.1:4567\r\nHost:").replace("Connection: Upgrade", "Connection: keep-alive, UPGRADE");
        assert!(check_upgrade(&read(&own).unwrap()).is_ok());
    }

    #[test]
    fn rejections_say_why_in_the_body() {
        let r = Rejection::new(426, "Sec-WebSocket-Version 8 is not 13");
        let text = r.response();
        assert!(text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"), "{text}");
        assert!(text.contains("Sec-WebSocket-Version: 13\r\n") && text.ends_with("\r\n\r\nSec-WebSocket-Version 8 is not 13\n"));
        let body = text.split("\r\n\r\n").nth(1).unwrap();
        assert!(text.contains(&format!("Content-Length: {}\r\n", body.len())));
    }
}
