//! WebSocket frames (RFC 6455 section 5), server side: reading the client's masked frames into
//! whole messages, with bounds on a message's size and on its number of fragments, and writing
//! unmasked frames.
//!
//! The simulator's client (websocket-sharp) sends a message longer than 1016 bytes as a text
//! frame of 1016 bytes and continuation frames, so fragments are the normal case here. No
//! extension is negotiated, so the RSV bits must be 0.

use std::io::{Read, Write};

pub const OP_CONTINUATION: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// Close codes (RFC 6455 section 7.4.1).
pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
pub const CLOSE_INVALID_DATA: u16 = 1007;
pub const CLOSE_TOO_BIG: u16 = 1009;

/// One message from the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    /// A close frame: its status code, if it had one, and its reason.
    Close(Option<u16>, String),
}

/// Why no message could be read.
#[derive(Debug)]
pub enum Error {
    /// The connection ended between messages, without a close frame.
    Eof,
    /// The connection ended inside a frame or a fragmented message.
    Truncated,
    /// Reading failed (reset, timeout).
    Io(std::io::Error),
    /// The client broke the framing rules; the connection cannot go on.
    Protocol(String),
    /// A frame or message larger than the limits.
    TooBig(String),
    /// A text message that is not UTF-8.
    NotUtf8,
}

impl Error {
    /// The close code to send before dropping the connection, where one is due.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            Error::Protocol(_) => Some(CLOSE_PROTOCOL_ERROR),
            Error::TooBig(_) => Some(CLOSE_TOO_BIG),
            Error::NotUtf8 => Some(CLOSE_INVALID_DATA),
            Error::Eof | Error::Truncated | Error::Io(_) => None,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Eof => write!(f, "the connection ended without a WebSocket close"),
            Error::Truncated => write!(f, "the connection ended inside a WebSocket frame (truncated message)"),
            Error::Io(e) if super::http::is_timeout(e) => {
                write!(f, "nothing received within the read timeout")
            }
            Error::Io(e) => write!(f, "the connection failed: {e}"),
            Error::Protocol(why) => write!(f, "WebSocket protocol error: {why}"),
            Error::TooBig(why) => write!(f, "message too big: {why}"),
            Error::NotUtf8 => write!(f, "a text message is not valid UTF-8"),
        }
    }
}

/// Bounds on what a client may send.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Bytes in one message (all its fragments).
    pub max_message: usize,
    /// Frames in one fragmented message.
    pub max_fragments: usize,
}

/// Reads whole messages; a fragmented message in progress is kept between calls, so control
/// frames between its fragments come out first (RFC 6455 section 5.4).
pub struct Reader {
    limits: Limits,
    /// Opcode, bytes so far and frame count of a fragmented message.
    partial: Option<(u8, Vec<u8>, usize)>,
}

impl Reader {
    pub fn new(limits: Limits) -> Reader {
        Reader { limits, partial: None }
    }

    pub fn read(&mut self, r: &mut impl Read) -> Result<Message, Error> {
        loop {
            let mut first = [0u8; 1];
            match r.read(&mut first) {
                Ok(0) if self.partial.is_none() => return Err(Error::Eof),
                Ok(0) => return Err(Error::Truncated),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Io(e)),
            }
            let mut second = [0u8; 1];
            read_exact(r, &mut second)?;
            let (fin, rsv, opcode) = (first[0] & 0x80 != 0, first[0] & 0x70, first[0] & 0x0F);
            let (masked, len7) = (second[0] & 0x80 != 0, second[0] & 0x7F);
            if rsv != 0 {
                return Err(Error::Protocol(format!("RSV bits {:#x} set, but no extension was agreed", rsv >> 4)));
            }
            if !masked {
                return Err(Error::Protocol("an unmasked frame: a client must mask every frame".into()));
            }
            let control = opcode & 0x8 != 0;
            if !matches!(opcode, OP_CONTINUATION | OP_TEXT | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG) {
                return Err(Error::Protocol(format!("reserved opcode {opcode:#x}")));
            }
            if control && (!fin || len7 > 125) {
                return Err(Error::Protocol(format!("control frame {opcode:#x} fragmented or longer than 125 bytes")));
            }
            let len = match len7 {
                126 => {
                    let mut b = [0u8; 2];
                    read_exact(r, &mut b)?;
                    u64::from(u16::from_be_bytes(b))
                }
                127 => {
                    let mut b = [0u8; 8];
                    read_exact(r, &mut b)?;
                    let n = u64::from_be_bytes(b);
                    if n >> 63 != 0 {
                        return Err(Error::Protocol("a 64-bit length with its top bit set".into()));
                    }
                    n
                }
                n => u64::from(n),
            };
            let so_far = self.partial.as_ref().map_or(0, |(_, bytes, _)| bytes.len());
            if !control && len > (self.limits.max_message - so_far.min(self.limits.max_message)) as u64 {
                return Err(Error::TooBig(format!("a frame of {len} bytes after {so_far} makes a message larger than {} bytes", self.limits.max_message)));
            }
            let mut mask = [0u8; 4];
            read_exact(r, &mut mask)?;
            let mut payload = vec![0u8; len as usize];
            read_exact(r, &mut payload)?;
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
            if control {
                return control_message(opcode, payload);
            }
            match (opcode, self.partial.take()) {
                (OP_CONTINUATION, None) => return Err(Error::Protocol("a continuation frame with no message to continue".into())),
                (OP_CONTINUATION, Some((op, mut bytes, frames))) => {
                    if frames + 1 > self.limits.max_fragments {
                        return Err(Error::TooBig(format!("more than {} fragments in one message", self.limits.max_fragments)));
                    }
                    bytes.extend_from_slice(&payload);
                    self.partial = Some((op, bytes, frames + 1));
                }
                (_, Some(_)) => return Err(Error::Protocol("a new message began before the fragmented one ended".into())),
                (op, None) => self.partial = Some((op, payload, 1)),
            }
            if fin {
                let (op, bytes, _) = self.partial.take().expect("a data frame was just stored");
                return if op == OP_TEXT { String::from_utf8(bytes).map(Message::Text).map_err(|_| Error::NotUtf8) } else { Ok(Message::Binary(bytes)) };
            }
        }
    }
}

fn control_message(opcode: u8, payload: Vec<u8>) -> Result<Message, Error> {
    Ok(match opcode {
        OP_PING => Message::Ping(payload),
        OP_PONG => Message::Pong(payload),
        _ => match payload.len() {
            0 => Message::Close(None, String::new()),
            1 => return Err(Error::Protocol("a close frame with a 1-byte body".into())),
            _ => {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                Message::Close(Some(code), String::from_utf8_lossy(&payload[2..]).into_owned())
            }
        },
    })
}

fn read_exact(r: &mut impl Read, buf: &mut [u8]) -> Result<(), Error> {
    r.read_exact(buf).map_err(|e| if e.kind() == std::io::ErrorKind::UnexpectedEof { Error::Truncated } else { Error::Io(e) })
}

/// One frame as bytes: `first_byte` (FIN, RSV, opcode), the shortest length encoding, then
/// the payload; masked with `mask` as a client must, or unmasked as a server must.
pub fn encode_frame(first_byte: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let masked = if mask.is_some() { 0x80 } else { 0 };
    let mut out = vec![first_byte];
    match payload.len() {
        n @ 0..=125 => out.push(masked | n as u8),
        n @ 126..=0xFFFF => {
            out.push(masked | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(masked | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(mask) => {
            out.extend_from_slice(&mask);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// Writes one unfragmented, unmasked frame (a server never masks).
pub fn write_frame(w: &mut impl Write, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
    w.write_all(&encode_frame(0x80 | opcode, payload, None))?;
    w.flush()
}

pub fn write_text(w: &mut impl Write, text: &str) -> std::io::Result<()> {
    write_frame(w, OP_TEXT, text.as_bytes())
}

/// A close frame with `code` (none: an empty body) and a reason of at most 123 bytes.
pub fn write_close(w: &mut impl Write, code: Option<u16>, reason: &str) -> std::io::Result<()> {
    let mut body = Vec::new();
    if let Some(code) = code {
        body.extend_from_slice(&code.to_be_bytes());
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        body.extend_from_slice(&reason.as_bytes()[..end]);
    }
    write_frame(w, OP_CLOSE, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_message: 4096, max_fragments: 8 };

    /// A masked client frame.
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        encode_frame((fin as u8) << 7 | opcode, payload, Some([0x37, 0xFA, 0x21, 0x3D]))
    }

    fn read_all(bytes: &[u8]) -> Vec<Result<Message, String>> {
        let mut reader = Reader::new(LIMITS);
        let mut input = bytes;
        let mut out = Vec::new();
        loop {
            match reader.read(&mut input) {
                Ok(m) => out.push(Ok(m)),
                Err(Error::Eof) => return out,
                Err(e) => {
                    out.push(Err(e.to_string()));
                    return out;
                }
            }
        }
    }

    #[test]
    fn rfc_6455s_masked_hello_is_read() {
        // Section 5.7: a single-frame masked text message "Hello".
        let bytes = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
        assert_eq!(read_all(&bytes), [Ok(Message::Text("Hello".into()))]);
    }

    #[test]
    fn fragments_join_and_control_frames_come_out_between_them() {
        let text = "x".repeat(2500);
        let mut bytes = frame(false, OP_TEXT, &text.as_bytes()[..1016]);
        bytes.extend(frame(true, OP_PING, b"hi"));
        bytes.extend(frame(false, OP_CONTINUATION, &text.as_bytes()[1016..2032]));
        bytes.extend(frame(true, OP_CONTINUATION, &text.as_bytes()[2032..]));
        bytes.extend(frame(true, OP_BINARY, &[1, 2, 3]));
        bytes.extend(frame(true, OP_CLOSE, &[0x03, 0xE8, b'b', b'y', b'e']));
        assert_eq!(
            read_all(&bytes),
            [Ok(Message::Ping(b"hi".to_vec())), Ok(Message::Text(text)), Ok(Message::Binary(vec![1, 2, 3])), Ok(Message::Close(Some(1000), "bye".into()))]
        );
    }

    #[test]
    fn framing_errors_are_named() {
        let err = |bytes: Vec<u8>| match read_all(&bytes).pop() {
            Some(Err(e)) => e,
            other => panic!("no error: {other:?}"),
        };
        let mut unmasked = frame(true, OP_TEXT, b"2");
        unmasked[1] &= 0x7F;
        assert!(err(unmasked).contains("unmasked"));
        assert!(err(frame(true, OP_TEXT | 0x40, b"2")).contains("RSV"));
        assert!(err(frame(true, 0x3, b"2")).contains("reserved opcode"));
        assert!(err(frame(false, OP_PING, b"")).contains("control frame"));
        assert!(err(frame(true, OP_CONTINUATION, b"2")).contains("no message to continue"));
        let mut two = frame(false, OP_TEXT, b"a");
        two.extend(frame(true, OP_TEXT, b"b"));
        assert!(err(two).contains("before the fragmented one ended"));
        assert!(err(frame(true, OP_TEXT, &[0xFF, 0xFE])).contains("UTF-8"));
        assert!(err(frame(true, OP_CLOSE, &[3])).contains("1-byte"));
    }

    #[test]
    fn oversized_frames_fail_before_their_payload_is_read() {
        // A header announcing 2^40 bytes, and nothing after it.
        let mut huge = vec![0x81, 0x80 | 127];
        huge.extend_from_slice(&(1u64 << 40).to_be_bytes());
        let mut reader = Reader::new(LIMITS);
        let e = reader.read(&mut huge.as_slice()).unwrap_err();
        assert!(matches!(e, Error::TooBig(_)) && e.close_code() == Some(CLOSE_TOO_BIG), "{e}");
        // Fragments that add up to more than the limit, and too many fragments.
        let mut bytes = frame(false, OP_TEXT, &[b'a'; 3000]);
        bytes.extend(frame(true, OP_CONTINUATION, &[b'a'; 3000]));
        assert!(read_all(&bytes)[0].as_ref().unwrap_err().contains("larger than 4096"));
        let mut many = frame(false, OP_TEXT, b"a");
        for _ in 0..8 {
            many.extend(frame(false, OP_CONTINUATION, b"a"));
        }
        assert!(read_all(&many)[0].as_ref().unwrap_err().contains("more than 8 fragments"));
    }

    #[test]
    fn an_end_inside_a_frame_or_message_is_truncation() {
        let whole = frame(true, OP_TEXT, b"42[\"telemetry\",null]");
        for cut in [1, 2, 5, whole.len() - 1] {
            assert!(matches!(Reader::new(LIMITS).read(&mut &whole[..cut]), Err(Error::Truncated)), "cut at {cut}");
        }
        let first = frame(false, OP_TEXT, b"a");
        assert!(matches!(Reader::new(LIMITS).read(&mut first.as_slice()), Err(Error::Truncated)));
        assert!(matches!(Reader::new(LIMITS).read(&mut &[][..]), Err(Error::Eof)));
    }

    #[test]
    fn written_frames_are_unmasked_with_the_shortest_length() {
        let mut out = Vec::new();
        write_text(&mut out, "3").unwrap();
        assert_eq!(out, [0x81, 1, b'3']);
        for (n, head) in [(125usize, 2usize), (126, 4), (65535, 4), (65536, 10)] {
            let mut out = Vec::new();
            write_frame(&mut out, OP_BINARY, &vec![7; n]).unwrap();
            assert_eq!((out.len(), out[1] & 0x80), (head + n, 0), "{n} bytes");
        }
        let mut close = Vec::new();
        write_close(&mut close, Some(CLOSE_TOO_BIG), &"é".repeat(100)).unwrap();
        assert_eq!((close[0], close[1] as usize, &close[2..4]), (0x88, 2 + 122, &[0x03, 0xF1][..]));
    }
}
