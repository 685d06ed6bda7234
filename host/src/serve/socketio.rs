//! Socket.IO protocol 4 packets (python-socketio 4.x), carried in Engine.IO messages: a type
//! digit, an attachment count and `-` for binary packets, a namespace other than `/` followed by
//! `,`, an acknowledgement id, then JSON data. An event's data is an array whose first element
//! is the event's name.

use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Connect,
    Disconnect,
    Event,
    Ack,
    Error,
    BinaryEvent,
    BinaryAck,
}

/// A packet as read; `data` is the raw JSON text (empty when there is none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub kind: Kind,
    pub attachments: u64,
    pub namespace: &'a str,
    pub id: Option<u64>,
    pub data: &'a str,
}

/// Reads a packet the way python-socketio 4.6's `Packet.decode` does.
pub fn parse(text: &str) -> Result<Packet<'_>, String> {
    let kind = match text.as_bytes().first() {
        Some(b'0') => Kind::Connect,
        Some(b'1') => Kind::Disconnect,
        Some(b'2') => Kind::Event,
        Some(b'3') => Kind::Ack,
        Some(b'4') => Kind::Error,
        Some(b'5') => Kind::BinaryEvent,
        Some(b'6') => Kind::BinaryAck,
        Some(_) => return Err(format!("unknown Socket.IO packet type in `{}`", super::http::shorten(text))),
        None => return Err("an empty Socket.IO packet".into()),
    };
    let mut rest = &text[1..];
    let mut attachments = 0;
    if let Some(dash) = rest.find('-') {
        if dash > 0 && rest[..dash].bytes().all(|b| b.is_ascii_digit()) {
            attachments = rest[..dash].parse().map_err(|_| "an attachment count too large".to_string())?;
            rest = &rest[dash + 1..];
        }
    }
    let mut namespace = "/";
    if rest.starts_with('/') {
        let (ns, after) = rest.split_once(',').unwrap_or((rest, ""));
        namespace = ns.split_once('?').map_or(ns, |(n, _)| n);
        rest = after;
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = match digits {
        0 => None,
        _ => Some(rest[..digits].parse().map_err(|_| format!("acknowledgement id {} is too large", &rest[..digits]))?),
    };
    Ok(Packet { kind, attachments, namespace, id, data: &rest[digits..] })
}

/// An event's name and arguments from its JSON data, which must be an array starting with a
/// string.
pub fn event_args(data: &str) -> Result<(String, Vec<Value>), String> {
    let value: Value = serde_json::from_str(data).map_err(|e| format!("the event's data is not JSON ({e})"))?;
    let Value::Array(mut items) = value else {
        return Err("the event's data is not a JSON array".into());
    };
    if items.is_empty() {
        return Err("the event's array is empty (no event name)".into());
    }
    let Value::String(name) = items.remove(0) else {
        return Err("the event's name is not a string".into());
    };
    Ok((name, items))
}

/// Connect to a namespace: `0`, or `0/name`.
pub fn connect(namespace: &str) -> String {
    if namespace == "/" {
        "0".into()
    } else {
        format!("0{namespace}")
    }
}

/// An event on the default namespace: `2` and its JSON array.
pub fn event(json_array: &str) -> String {
    format!("2{json_array}")
}

/// The acknowledgement python-socketio sends for an event with an id whose handler returns
/// nothing: `3<id>[]` (with `/name,` before the id on another namespace).
pub fn ack(namespace: &str, id: u64) -> String {
    if namespace == "/" {
        format!("3{id}[]")
    } else {
        format!("3{namespace},{id}[]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_read_like_python_socketio() {
        let p = parse("2[\"telemetry\",null]").unwrap();
        assert_eq!((p.kind, p.namespace, p.id, p.data), (Kind::Event, "/", None, "[\"telemetry\",null]"));
        let p = parse("0").unwrap();
        assert_eq!((p.kind, p.namespace, p.data), (Kind::Connect, "/", ""));
        let p = parse("0/admin?token=1,").unwrap();
        assert_eq!((p.kind, p.namespace), (Kind::Connect, "/admin"));
        let p = parse("2/chat,17[\"x\"]").unwrap();
        assert_eq!((p.namespace, p.id, p.data), ("/chat", Some(17), "[\"x\"]"));
        let p = parse("51-[\"pic\",{\"_placeholder\":true,\"num\":0}]").unwrap();
        assert_eq!((p.kind, p.attachments), (Kind::BinaryEvent, 1));
        assert_eq!(parse("1").unwrap().kind, Kind::Disconnect);
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(parse("x").unwrap_err().contains("unknown Socket.IO packet type"));
        assert!(parse("299999999999999999999999[]").unwrap_err().contains("too large"));
    }

    #[test]
    fn event_arguments_need_an_array_with_a_name() {
        let (name, args) = event_args(r#"["telemetry",{"speed":"1.0"}]"#).unwrap();
        assert_eq!((name.as_str(), args.len()), ("telemetry", 1));
        assert_eq!(event_args(r#"["telemetry"]"#).unwrap().1.len(), 0);
        assert!(event_args(r#"["telemetry",{"#).unwrap_err().contains("not JSON"));
        assert!(event_args(r#"{"a":1}"#).unwrap_err().contains("not a JSON array"));
        assert!(event_args("[]").unwrap_err().contains("empty"));
        assert!(event_args("[3]").unwrap_err().contains("not a string"));
    }

    #[test]
    fn written_packets() {
        assert_eq!(connect("/"), "0");
        assert_eq!(connect("/chat"), "0/chat");
        assert_eq!(event(r#"["manual",{}]"#), r#"2["manual",{}]"#);
        assert_eq!(ack("/", 5), "35[]");
        assert_eq!(ack("/chat", 5), "3/chat,5[]");
    }
}
