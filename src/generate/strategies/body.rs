//! Strategies that change the body: a property's value, type or presence, the body's formatting,
//! type, encoding, length or shape.

use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

use super::super::draft::{Base, with_body, with_plain_property, with_property};
use super::super::json::write_spaced;
use super::super::strings::{long_string, preview, regex};
use super::{Strat, enum_values};

/// Case variants, whitespace variants, arbitrary unicode and long strings, never an enum value.
pub(in crate::generate) fn wrong_value(base: &Arc<Base>, property: &str) -> Strat {
    let values = enum_values(base, property);
    let first = values.first().cloned().unwrap_or_default();
    let cased = {
        let first = first.clone();
        vec(any::<bool>(), first.chars().count()).prop_map(move |upper| {
            first
                .chars()
                .zip(upper)
                .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
                .collect::<String>()
        })
    };
    // One whitespace character, 1 to 3 times, before, after or on both sides: every kind of
    // padding a server might trim is drawn often, and shrinks to a single character.
    let padded = {
        let first = first.clone();
        let spaces = vec![" ", "\t", "\n", "\r", "\u{a0}", "\u{200b}", "\u{3000}"];
        (select(spaces), 1usize..=3, select(vec!["before", "after", "both"])).prop_map(move |(space, n, side)| {
            let pad = space.repeat(n);
            match side {
                "before" => format!("{pad}{first}"),
                "after" => format!("{first}{pad}"),
                _ => format!("{pad}{first}{pad}"),
            }
        })
    };
    let strategy = prop_oneof![2 => cased, 3 => padded, 2 => regex(".{0,40}"), 1 => long_string(65, 20_000)];
    let (base, property) = (base.clone(), property.to_owned());
    strategy
        .prop_filter("not an enum value", move |s| !values.contains(s))
        .prop_map(move |s| {
            let description = format!("{property}: replaced by {}", preview(&s));
            with_property(&base, &property, Some(Value::String(s)), description)
        })
        .sboxed()
}

fn json_of_type(kind: &'static str, enum_value: String) -> SBoxedStrategy<(Value, String)> {
    match kind {
        "number" => prop_oneof![
            any::<i64>().prop_map(|n| (Value::from(n), format!("the number {n}"))),
            (-1.0e9f64..1.0e9).prop_map(|f| (Value::from(f), format!("the number {f}"))),
        ]
        .sboxed(),
        "boolean" => any::<bool>().prop_map(|b| (Value::Bool(b), format!("the boolean {b}"))).sboxed(),
        "null" => Just((Value::Null, "null".to_owned())).sboxed(),
        "array" => (0usize..4)
            .prop_map(move |n| {
                (Value::Array(vec![Value::String(enum_value.clone()); n]), format!("an array of {n} items"))
            })
            .sboxed(),
        _ => Just((serde_json::json!({ "name": enum_value }), "an object".to_owned())).sboxed(),
    }
}

/// A value of each JSON type the property's schema does not allow.
pub(in crate::generate) fn wrong_type(base: &Arc<Base>, property: &str, allowed: &[String]) -> Strat {
    let first = enum_values(base, property).into_iter().next().unwrap_or_default();
    let candidates: Vec<&'static str> = ["number", "boolean", "null", "array", "object"]
        .into_iter()
        .filter(|t| !allowed.iter().any(|a| a == t || (a == "number" && *t == "integer")))
        .collect();
    let (base, property) = (base.clone(), property.to_owned());
    select(candidates)
        .prop_flat_map(move |t| json_of_type(t, first.clone()))
        .prop_map(move |(value, words)| {
            with_property(&base, &property, Some(value), format!("{property}: replaced by {words}"))
        })
        .sboxed()
}

/// The property removed, alone or with a near-miss key in its place.
pub(in crate::generate) fn missing(base: &Arc<Base>, property: &str) -> Strat {
    let decoys =
        vec![None, Some(property.to_ascii_uppercase()), Some(format!("{property} ")), Some(format!("_{property}"))];
    let first = enum_values(base, property).into_iter().next().unwrap_or_default();
    let (base, property) = (base.clone(), property.to_owned());
    select(decoys)
        .prop_map(move |decoy| {
            let mut body = base.body.clone();
            let description = match (&decoy, body.as_object_mut()) {
                (Some(key), Some(object)) => {
                    object.remove(&property);
                    object.insert(key.clone(), Value::String(first.clone()));
                    format!("{property}: removed, {key:?} given instead")
                }
                (None, Some(object)) => {
                    object.remove(&property);
                    format!("{property}: removed")
                }
                _ => format!("{property}: removed"),
            };
            with_body(&base, serde_json::to_vec(&body).unwrap_or_default(), description)
        })
        .sboxed()
}

/// The body re-serialised with whitespace drawn between tokens and, optionally, its strings'
/// characters written as `\u` escapes: the same JSON value, other bytes.
pub(in crate::generate) fn formatting(base: &Arc<Base>) -> Strat {
    let base = base.clone();
    (vec(select(vec!["", " ", "\n", "\t", "\r\n", "  "]), 16), any::<bool>())
        .prop_map(move |(spaces, escape)| {
            let mut out = String::new();
            write_spaced(&base.body, &spaces, &mut 0, escape, &mut out);
            let words = if escape { "whitespace and \\u escapes" } else { "whitespace" };
            with_body(&base, out.into_bytes(), format!("body: the valid body with {words} between tokens"))
        })
        .sboxed()
}

/// The valid body, serialised: what the byte-level strategies cut or corrupt.
fn valid(base: &Base) -> Vec<u8> {
    serde_json::to_vec(&base.body).unwrap_or_default()
}

/// A body of another JSON type.
pub(in crate::generate) fn wrong_body_type(base: &Arc<Base>) -> Strat {
    let b = base.clone();
    select(vec!["array", "string", "number", "null", "boolean"])
        .prop_map(move |t| {
            let body = match t {
                "array" => Value::Array(vec![b.body.clone()]),
                "string" => Value::String(b.body.to_string()),
                "number" => Value::from(7),
                "null" => Value::Null,
                _ => Value::Bool(true),
            };
            with_body(&b, serde_json::to_vec(&body).unwrap_or_default(), format!("body: a JSON {t}"))
        })
        .sboxed()
}

/// Text that is not JSON (form data, XML, …).
pub(in crate::generate) fn not_json(base: &Arc<Base>) -> Strat {
    let b = base.clone();
    prop_oneof![regex("[A-Za-z=&<>/ ]{1,40}"), Just("<action>Retry</action>".to_owned())]
        .prop_filter("not JSON", |t| serde_json::from_str::<Value>(t).is_err())
        .prop_map(move |t| with_body(&b, t.clone().into_bytes(), format!("body: the text {}", preview(&t))))
        .sboxed()
}

/// The valid body cut after any byte but the last.
pub(in crate::generate) fn truncated(base: &Arc<Base>) -> Strat {
    let (b, valid) = (base.clone(), valid(base));
    (1..valid.len().max(2))
        .prop_map(move |cut| {
            with_body(&b, valid[..cut].to_vec(), format!("body: the valid body cut after {cut} bytes"))
        })
        .sboxed()
}

/// No body.
pub(in crate::generate) fn empty(base: &Arc<Base>) -> Strat {
    Just(with_body(base, Vec::new(), "body: empty".to_owned())).sboxed()
}

/// The valid body with a byte that cannot start a UTF-8 character inserted.
pub(in crate::generate) fn not_utf8(base: &Arc<Base>) -> Strat {
    let valid = valid(base);
    let b = base.clone();
    (0..valid.len(), 0x80u8..=0xff)
        .prop_map(move |(at, byte)| {
            let mut body = valid.clone();
            body.insert(at, byte);
            with_body(&b, body, format!("body: the byte 0x{byte:02x} inserted at offset {at}"))
        })
        .prop_filter("not UTF-8", |m| std::str::from_utf8(&m.draft.body).is_err())
        .sboxed()
}

/// Arrays nested up to 5 000 deep: deep enough for a recursive parser's stack.
pub(in crate::generate) fn deeply_nested(base: &Arc<Base>) -> Strat {
    let b = base.clone();
    (2usize..5_000)
        .prop_map(move |depth| {
            let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            with_body(&b, body.into_bytes(), format!("body: arrays nested {depth} deep"))
        })
        .sboxed()
}

/// The property a string of 16 to 512 KiB: larger than a default buffer, smaller than a
/// gateway's body limit.
pub(in crate::generate) fn large(base: &Arc<Base>, property: &str) -> Strat {
    let b = base.clone();
    let property = property.to_owned();
    long_string(16 * 1024, 512 * 1024)
        .prop_map(move |s| {
            let words = format!("body: large, {property} a string of {} bytes", s.len());
            with_plain_property(&b, &property, s, words)
        })
        .sboxed()
}

/// The first property twice, with values drawn from the valid one, another and null.
pub(in crate::generate) fn duplicate_keys(base: &Arc<Base>) -> Strat {
    let b = base.clone();
    let (key, good) = match base.body.as_object().and_then(|o| o.iter().next()) {
        Some((k, v)) => (k.clone(), v.to_string()),
        None => ("action".to_owned(), "\"Retry\"".to_owned()),
    };
    let values = vec![good.clone(), "\"Restart\"".to_owned(), "null".to_owned()];
    (select(values.clone()), select(values))
        .prop_map(move |(first, second)| {
            let body = format!("{{\"{key}\":{first},\"{key}\":{second}}}");
            with_body(&b, body.into_bytes(), format!("body: `{key}` twice, {first} then {second}"))
        })
        .sboxed()
}
