//! Engine.IO protocol 3 packets over a WebSocket, as python-engineio 3.13 reads and writes them:
//! one packet per text message, a digit for the type and the data after it.
//!
//! In protocol 3 the client pings (`2`, with optional data) and the server answers pong (`3`,
//! the same data); a server that hears no ping for `pingInterval` plus a grace of 5 s closes
//! the session. (Protocol 4 turned this around: the server pings. The simulator's client only
//! pings, so it needs a protocol 3 server, whatever its `EIO=4` says.)

/// A packet from the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    Open(&'a str),
    Close,
    Ping(&'a str),
    Pong(&'a str),
    Message(&'a str),
    Upgrade,
    Noop,
}

/// Reads a text packet. Binary packets (`b4...` in base64) do not occur on this transport's
/// text frames from the simulator and are refused.
pub fn parse(text: &str) -> Result<Packet<'_>, String> {
    let mut chars = text.chars();
    let kind = chars.next().ok_or("an empty Engine.IO packet")?;
    let data = chars.as_str();
    Ok(match kind {
        '0' => Packet::Open(data),
        '1' => Packet::Close,
        '2' => Packet::Ping(data),
        '3' => Packet::Pong(data),
        '4' => Packet::Message(data),
        '5' => Packet::Upgrade,
        '6' => Packet::Noop,
        'b' => return Err("a base64 binary Engine.IO packet (not used by the simulator)".into()),
        other => return Err(format!("unknown Engine.IO packet type `{other}`")),
    })
}

/// The open packet python-engineio 3.13 writes for a WebSocket connection: no upgrades, times
/// in milliseconds, keys in its order and without spaces (`json.dumps(separators=(',', ':'))`).
pub fn open(sid: &str, ping_timeout_ms: u64, ping_interval_ms: u64) -> String {
    format!(r#"0{{"sid":"{sid}","upgrades":[],"pingTimeout":{ping_timeout_ms},"pingInterval":{ping_interval_ms}}}"#)
}

pub fn pong(data: &str) -> String {
    format!("3{data}")
}

pub fn message(data: &str) -> String {
    format!("4{data}")
}

pub const CLOSE: &str = "1";
pub const NOOP: &str = "6";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_a_type_digit_and_data() {
        assert_eq!(parse("2").unwrap(), Packet::Ping(""));
        assert_eq!(parse("2probe").unwrap(), Packet::Ping("probe"));
        assert_eq!(parse("42[\"telemetry\",null]").unwrap(), Packet::Message("2[\"telemetry\",null]"));
        assert_eq!(parse("1").unwrap(), Packet::Close);
        assert_eq!(parse("5").unwrap(), Packet::Upgrade);
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(parse("9").unwrap_err().contains("unknown Engine.IO packet type `9`"));
        assert!(parse("b4AAAA").unwrap_err().contains("binary"));
        assert_eq!(pong("probe"), "3probe");
        assert_eq!(message("40"), "440");
    }

    #[test]
    fn the_open_packet_is_python_engineios() {
        let sid = "0123456789abcdef0123456789abcdef";
        assert_eq!(open(sid, 60_000, 25_000), r#"0{"sid":"0123456789abcdef0123456789abcdef","upgrades":[],"pingTimeout":60000,"pingInterval":25000}"#);
    }
}
