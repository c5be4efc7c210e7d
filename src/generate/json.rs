//! Writing JSON bodies byte by byte where serde_json's own writer will not do: fast for one
//! long plain string ([`to_json`]), or with whitespace and escapes drawn between tokens
//! ([`write_spaced`]).

use std::fmt::Write as _;

use serde_json::Value;

/// `body` as compact JSON, exactly as serde_json writes it, into a buffer sized up front (a
/// 512 KiB string would otherwise be copied as the buffer grows). The string value of the
/// top-level property `plain`, if any, is known to need no escaping and is copied as it is.
pub(super) fn to_json(body: &Value, plain: Option<&str>) -> Vec<u8> {
    let long = |name: &str| match body.get(name) {
        Some(Value::String(text)) => text.len(),
        _ => 0,
    };
    let mut out = Vec::with_capacity(256 + plain.map_or(0, long));
    match (body.as_object(), plain) {
        (Some(object), Some(plain)) => {
            out.push(b'{');
            for (i, (key, value)) in object.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = serde_json::to_writer(&mut out, key);
                out.push(b':');
                match value {
                    Value::String(text) if key == plain => {
                        out.push(b'"');
                        out.extend_from_slice(text.as_bytes());
                        out.push(b'"');
                    }
                    other => {
                        let _ = serde_json::to_writer(&mut out, other);
                    }
                }
            }
            out.push(b'}');
        }
        _ => {
            let _ = serde_json::to_writer(&mut out, body);
        }
    }
    out
}

fn space(spaces: &[&str], next: &mut usize, out: &mut String) {
    out.push_str(spaces.get(*next % spaces.len().max(1)).copied().unwrap_or(""));
    *next += 1;
}

/// `value` written to `out` with `spaces[next]`, `spaces[next + 1]`, … (cycling) between its
/// tokens and, if `escape`, every character of its strings as a `\u` escape.
pub(super) fn write_spaced(value: &Value, spaces: &[&str], next: &mut usize, escape: bool, out: &mut String) {
    let string = |s: &str, out: &mut String| {
        if escape {
            out.push('"');
            for c in s.chars() {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            out.push('"');
        } else {
            out.push_str(&Value::String(s.to_owned()).to_string());
        }
    };
    space(spaces, next, out);
    match value {
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                space(spaces, next, out);
                string(key, out);
                space(spaces, next, out);
                out.push(':');
                write_spaced(item, spaces, next, escape, out);
            }
            space(spaces, next, out);
            out.push('}');
        }
        Value::String(s) => string(s, out),
        other => out.push_str(&other.to_string()),
    }
    space(spaces, next, out);
}

#[cfg(test)]
mod tests {
    #[test]
    fn to_json_writes_what_serde_json_writes() {
        let long = "Ab 9".repeat(5000);
        let bodies = [
            serde_json::json!({ "action": long }),
            serde_json::json!({ "a\"é": [1, {"x": null}], "action": long, "z": "t\n" }),
            serde_json::json!({ "other": 1 }),
            serde_json::json!([1, 2]),
        ];
        for body in &bodies {
            for plain in [None, Some("action")] {
                assert_eq!(super::to_json(body, plain), serde_json::to_vec(body).unwrap(), "{plain:?}");
            }
        }
    }
}
