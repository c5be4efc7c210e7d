//! The proptest strategies: for each [`Kind`], requests built from the valid template with one
//! thing changed, and that change said in words. Values the schemas allow or forbid are checked
//! against the schemas themselves (`prop_filter`), so a generator cannot drift from the
//! contract. Lengths are drawn as integers and strings built from them, so that shrinking a long
//! value is a binary search on its length, not one character at a time.

use std::fmt::Write as _;
use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value};

use bytes::Bytes;

use super::Kind;
use crate::contract::Contract;

/// A request before it gets a URL: method, path parameters, headers and body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// HTTP method.
    pub method: String,
    /// Path parameter values, unencoded.
    pub path: Map<String, Value>,
    /// Headers in sending order.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Bytes,
    /// The JSON value the body is the serialisation of, when the generator built it from one:
    /// classifying the request then needs no second parse (a large body is costly to parse).
    pub json: Option<Arc<Value>>,
}

impl Draft {
    fn set_header(&mut self, name: &str, value: String) {
        match self.headers.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some(slot) => slot.1 = value,
            None => self.headers.push((name.to_owned(), value)),
        }
    }

    fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }
}

/// A generated request and its mutation in words.
#[derive(Debug, Clone)]
pub struct Mutated {
    /// The request.
    pub draft: Draft,
    /// What was changed, e.g. "action: replaced by the number 7".
    pub description: String,
}

/// What every strategy starts from.
#[derive(Debug)]
pub(crate) struct Base {
    pub(crate) draft: Draft,
    pub(crate) body: Value,
    pub(crate) contract: Arc<Contract>,
    /// The operation generated for.
    pub(crate) op: crate::contract::OpId,
    pub(crate) unknown_engine_id: String,
    /// Each header property's schema, compiled once: generators filter values through them.
    pub(crate) header_schemas: Vec<(String, crate::contract::CompiledSchema)>,
}

impl Base {
    /// The operation generated for.
    pub(crate) fn operation(&self) -> &crate::contract::Operation {
        self.contract.operation(self.op)
    }

    /// Compiles the header property schemas of `op`.
    pub(crate) fn header_schemas(op: &crate::contract::Operation) -> Vec<(String, crate::contract::CompiledSchema)> {
        let headers = op.request_headers();
        headers
            .property_names()
            .filter_map(|name| {
                let schema = headers.property_schema(name)?;
                crate::contract::CompiledSchema::compile(name, schema).ok().map(|c| (name.to_owned(), c))
            })
            .collect()
    }
}

type Strat = SBoxedStrategy<Mutated>;

/// A short, printable preview of a value for descriptions.
fn preview(text: &str) -> String {
    let chars = text.chars().count();
    let shown: String = text.chars().take(24).collect();
    let quoted = serde_json::to_string(&shown).unwrap_or_default();
    if chars > 24 { format!("{quoted}… ({chars} chars)") } else { quoted }
}

fn regex(pattern: &str) -> SBoxedStrategy<String> {
    proptest::string::string_regex(pattern).expect("generator regex compiles").sboxed()
}

/// A length from `min` to `max`, log-uniform: every order of magnitude is as likely as any
/// other (16-32 KiB as often as 256-512 KiB), so buffer boundaries at every scale get hit, and
/// the mean stays well below `max`. Shrinks towards `min`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
fn length(min: usize, max: usize) -> impl Strategy<Value = usize> {
    const STEPS: u32 = 1 << 20;
    let (low, high) = ((min.max(1) as f64).ln(), (max.max(1) as f64).ln());
    (0..=STEPS).prop_map(move |step| {
        let len = (low + (high - low) * f64::from(step) / f64::from(STEPS)).exp().round();
        (len as usize).clamp(min, max)
    })
}

/// A string of `len` characters cycling through `unit`: shrinks by length. Built by repeating
/// the unit (ASCII, so bytes are characters) rather than character by character, which was 46 %
/// of the harness's instructions in a callgrind profile.
fn long_string(min: usize, max: usize) -> SBoxedStrategy<String> {
    (length(min, max), regex("[A-Za-z0-9 ]{1,4}"))
        .prop_map(|(len, unit)| {
            let mut text = unit.repeat(len / unit.len().max(1) + 1);
            text.truncate(len);
            text
        })
        .sboxed()
}

fn with_body(base: &Base, body: impl Into<Bytes>, description: String) -> Mutated {
    let mut draft = base.draft.clone();
    draft.body = body.into();
    draft.json = None;
    Mutated { draft, description }
}

fn with_property(base: &Base, property: &str, value: Option<Value>, description: String) -> Mutated {
    set_property(base, property, value, description, None)
}

/// [`with_property`] for a long string of characters JSON writes as they are (no quote,
/// backslash or control character): written without serde_json's escape scan, which was the
/// largest cost of the large bodies after building them.
fn with_plain_property(base: &Base, property: &str, text: String, description: String) -> Mutated {
    debug_assert!(text.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'));
    set_property(base, property, Some(Value::String(text)), description, Some(property))
}

/// The base body with `property` set to `value` (or removed), serialised; `plain` as in [`to_json`].
fn set_property(
    base: &Base,
    property: &str,
    value: Option<Value>,
    description: String,
    plain: Option<&str>,
) -> Mutated {
    let mut body = base.body.clone();
    if let Some(object) = body.as_object_mut() {
        match value {
            Some(v) => {
                object.insert(property.to_owned(), v);
            }
            None => {
                object.remove(property);
            }
        }
    }
    let bytes = to_json(&body, plain);
    let mut mutated = with_body(base, bytes, description);
    mutated.draft.json = Some(Arc::new(body));
    mutated
}

/// `body` as compact JSON, exactly as serde_json writes it, into a buffer sized up front (a
/// 512 KiB string would otherwise be copied as the buffer grows). The string value of the
/// top-level property `plain`, if any, is known to need no escaping and is copied as it is.
fn to_json(body: &Value, plain: Option<&str>) -> Vec<u8> {
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

fn enum_values(base: &Base, property: &str) -> Vec<String> {
    base.operation()
        .request_body()
        .and_then(|schema| schema.property_schema(property))
        .and_then(|sub| sub.get("enum").and_then(Value::as_array).cloned())
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn header_schema_accepts(base: &Base, name: &str, value: &str) -> bool {
    base.header_schemas
        .iter()
        .find(|(n, _)| n == name)
        .is_none_or(|(_, schema)| schema.is_valid(&Value::String(value.to_owned())))
}

/// Case variants, whitespace variants, arbitrary unicode and long strings, never an enum value.
fn wrong_value(base: &Arc<Base>, property: &str) -> Strat {
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

fn wrong_type(base: &Arc<Base>, property: &str, allowed: &[String]) -> Strat {
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

fn missing(base: &Arc<Base>, property: &str) -> Strat {
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
fn formatting(base: &Arc<Base>) -> Strat {
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

fn space(spaces: &[&str], next: &mut usize, out: &mut String) {
    out.push_str(spaces.get(*next % spaces.len().max(1)).copied().unwrap_or(""));
    *next += 1;
}

fn write_spaced(value: &Value, spaces: &[&str], next: &mut usize, escape: bool, out: &mut String) {
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

fn body_kind(base: &Arc<Base>, kind: &Kind) -> Strat {
    let b = base.clone();
    let valid = serde_json::to_vec(&base.body).unwrap_or_default();
    match kind {
        Kind::BodyWrongType => select(vec!["array", "string", "number", "null", "boolean"])
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
            .sboxed(),
        Kind::BodyNotJson => prop_oneof![regex("[A-Za-z=&<>/ ]{1,40}"), Just("<action>Retry</action>".to_owned())]
            .prop_filter("not JSON", |t| serde_json::from_str::<Value>(t).is_err())
            .prop_map(move |t| with_body(&b, t.clone().into_bytes(), format!("body: the text {}", preview(&t))))
            .sboxed(),
        Kind::BodyTruncated => (1..valid.len().max(2))
            .prop_map(move |cut| {
                with_body(&b, valid[..cut].to_vec(), format!("body: the valid body cut after {cut} bytes"))
            })
            .sboxed(),
        Kind::BodyEmpty => Just(with_body(base, Vec::new(), "body: empty".to_owned())).sboxed(),
        Kind::BodyNotUtf8 => (0..valid.len(), 0x80u8..=0xff)
            .prop_map(move |(at, byte)| {
                let mut body = valid.clone();
                body.insert(at, byte);
                with_body(&b, body, format!("body: the byte 0x{byte:02x} inserted at offset {at}"))
            })
            .prop_filter("not UTF-8", |m| std::str::from_utf8(&m.draft.body).is_err())
            .sboxed(),
        Kind::BodyDeeplyNested => (2usize..5_000)
            .prop_map(move |depth| {
                let body = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
                with_body(&b, body.into_bytes(), format!("body: arrays nested {depth} deep"))
            })
            .sboxed(),
        Kind::BodyLarge { property } => {
            let property = property.clone();
            long_string(16 * 1024, 512 * 1024)
                .prop_map(move |s| {
                    let words = format!("body: large, {property} a string of {} bytes", s.len());
                    with_plain_property(&b, &property, s, words)
                })
                .sboxed()
        }
        _ => duplicate_keys(base),
    }
}

fn duplicate_keys(base: &Arc<Base>) -> Strat {
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

fn header_kind(base: &Arc<Base>, kind: &Kind) -> Strat {
    let b = base.clone();
    match kind {
        Kind::ContentTypeVariant => {
            let parameters =
                select(vec!["", ";charset=UTF-8", "; charset=utf-8", ";charset=\"UTF-8\"", " ; CHARSET=utf-8"]);
            (vec(any::<bool>(), 16), parameters)
                .prop_map(|(upper, parameter)| {
                    let media: String = "application/json"
                        .chars()
                        .zip(upper)
                        .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c })
                        .collect();
                    format!("{media}{parameter}")
                })
                .prop_filter("the schema accepts it", move |v| header_schema_accepts(&b, "Content-Type", v))
                .prop_map({
                    let b = base.clone();
                    move |v| set_header(&b, "Content-Type", v)
                })
                .sboxed()
        }
        Kind::AcceptVariant => {
            select(vec!["application/json", "*/*", "application/*", "application/json, text/plain;q=0.5"])
                .prop_map(move |v| set_header(&b, "Accept", v.to_owned()))
                .sboxed()
        }
        Kind::OptionalHeader { name } => {
            let name = name.clone();
            prop_oneof![
                Just("0".to_owned()),
                regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
                regex("[a-z0-9]{1,36}")
            ]
            .prop_map(move |v| set_header(&b, &name, v))
            .sboxed()
        }
        Kind::HeaderMissing { name, .. } => {
            let mut draft = base.draft.clone();
            draft.remove_header(name);
            Just(Mutated { draft, description: format!("{name}: removed") }).sboxed()
        }
        Kind::HeaderEmpty { name, .. } => Just(set_header(base, name, String::new())).sboxed(),
        Kind::HeaderWrong { name } => {
            let name = name.clone();
            let known = select(vec![
                "text/plain",
                "application/xml",
                "text/html",
                "application/x-www-form-urlencoded",
                "multipart/form-data",
                "application/json5",
                "application/vnd.api+json",
                "json",
            ]);
            let check = base.clone();
            prop_oneof![known.prop_map(str::to_owned), regex("[a-z]{1,10}/[a-z+.-]{1,12}")]
                .prop_filter("the schema rejects it", {
                    let name = name.clone();
                    move |v| !header_schema_accepts(&check, &name, v)
                })
                .prop_map(move |v| set_header(&b, &name, v))
                .sboxed()
        }
        _ => unusual_headers(base),
    }
}

fn set_header(base: &Base, name: &str, value: String) -> Mutated {
    let mut draft = base.draft.clone();
    let description = format!("{name}: set to {}", preview(&value));
    draft.set_header(name, value);
    Mutated { draft, description }
}

/// Legal but unusual: long values, every visible ASCII character, an unknown header.
fn unusual_headers(base: &Arc<Base>) -> Strat {
    let b = base.clone();
    prop_oneof![
        regex("[!-~]{1,64}").prop_map(|v| ("X-Enterprise-Project-ID".to_owned(), v)),
        (1usize..8_192).prop_map(|n| ("X-Enterprise-Project-ID".to_owned(), "0".repeat(n))),
        regex("[ -~]{0,200}").prop_map(|v| ("X-Unknown-Header".to_owned(), v)),
    ]
    .prop_map(move |(name, value)| set_header(&b, &name, value))
    .sboxed()
}

fn path_kind(base: &Arc<Base>, kind: &Kind) -> Strat {
    let b = base.clone();
    let set = |b: &Base, name: &str, value: String, words: String| {
        let mut draft = b.draft.clone();
        draft.path.insert(name.to_owned(), Value::String(value));
        Mutated { draft, description: words }
    };
    match kind {
        Kind::PathTooLong { name, max } => {
            let name = name.clone();
            let max = *max;
            (max + 1..=max + 64)
                .prop_map(move |len| {
                    let value: String = "p".repeat(len);
                    set(&b, &name, value, format!("{name}: {len} characters (the schema allows {max})"))
                })
                .sboxed()
        }
        Kind::PathEmpty { name } => Just(set(base, name, String::new(), format!("{name}: empty"))).sboxed(),
        Kind::UnknownEngine => {
            let configured = base.unknown_engine_id.clone();
            prop_oneof![Just(configured), regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")]
                .prop_map(move |id| {
                    set(&b, "engine_id", id.clone(), format!("engine_id: {id}, an engine that does not exist"))
                })
                .sboxed()
        }
        Kind::PathReservedChars { name } => {
            let name = name.clone();
            let pieces = vec!["/", "?", "#", "%", "%2F", "%00", "%zz", "..", " ", "é", "[", "]", "@", "+", ";", "="];
            vec(select(pieces), 1..4)
                .prop_map(move |pieces| {
                    let current = b.draft.path.get(&name).and_then(Value::as_str).unwrap_or_default().to_owned();
                    let value = format!("{current}{}", pieces.concat());
                    set(&b, &name, value.clone(), format!("{name}: {}", preview(&value)))
                })
                .sboxed()
        }
        _ => unreachable!("path_kind is called for path kinds only"),
    }
}

/// The strategy of one kind.
pub(crate) fn strategy(kind: &Kind, base: &Arc<Base>) -> Strat {
    match kind {
        Kind::BodyFormatting => formatting(base),
        Kind::PropertyWrongValue { property } => wrong_value(base, property),
        Kind::PropertyWrongType { property, allowed } => wrong_type(base, property, allowed),
        Kind::PropertyMissing { property } => missing(base, property),
        Kind::BodyWrongType
        | Kind::BodyNotJson
        | Kind::BodyTruncated
        | Kind::BodyEmpty
        | Kind::BodyNotUtf8
        | Kind::BodyDeeplyNested
        | Kind::BodyLarge { .. }
        | Kind::BodyDuplicateKeys => body_kind(base, kind),
        Kind::ContentTypeVariant
        | Kind::AcceptVariant
        | Kind::OptionalHeader { .. }
        | Kind::HeaderMissing { .. }
        | Kind::HeaderEmpty { .. }
        | Kind::HeaderWrong { .. }
        | Kind::HeaderUnusual => header_kind(base, kind),
        Kind::PathTooLong { .. } | Kind::PathEmpty { .. } | Kind::UnknownEngine | Kind::PathReservedChars { .. } => {
            path_kind(base, kind)
        }
    }
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
