//! Strategies that change a path parameter: over its `maxLength`, under its `minLength`, an
//! engine that does not exist, reserved and percent-encoded characters.

use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

use super::super::draft::{Base, Mutated};
use super::super::strings::{preview, regex};
use super::Strat;

/// The base with the path parameter `name` set to `value`, described by `words`.
fn set(base: &Base, name: &str, value: String, words: String) -> Mutated {
    let mut draft = base.draft.clone();
    draft.path.insert(name.to_owned(), Value::String(value));
    Mutated { draft, description: words }
}

/// 1 to 64 characters over `max`: the boundary and a little past it.
pub(in crate::generate) fn too_long(base: &Arc<Base>, name: &str, max: usize) -> Strat {
    let b = base.clone();
    let name = name.to_owned();
    (max + 1..=max + 64)
        .prop_map(move |len| {
            let value: String = "p".repeat(len);
            set(&b, &name, value, format!("{name}: {len} characters (the schema allows {max})"))
        })
        .sboxed()
}

/// The parameter empty.
pub(in crate::generate) fn empty(base: &Arc<Base>, name: &str) -> Strat {
    Just(set(base, name, String::new(), format!("{name}: empty"))).sboxed()
}

/// The configured unknown engine, or a random v4 UUID.
pub(in crate::generate) fn unknown_engine(base: &Arc<Base>) -> Strat {
    let b = base.clone();
    let configured = base.unknown_engine_id.clone();
    prop_oneof![Just(configured), regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")]
        .prop_map(move |id| set(&b, "engine_id", id.clone(), format!("engine_id: {id}, an engine that does not exist")))
        .sboxed()
}

/// The valid value followed by 1 to 3 reserved, percent-encoded or non-ASCII pieces.
pub(in crate::generate) fn reserved_chars(base: &Arc<Base>, name: &str) -> Strat {
    let b = base.clone();
    let name = name.to_owned();
    let pieces = vec!["/", "?", "#", "%", "%2F", "%00", "%zz", "..", " ", "é", "[", "]", "@", "+", ";", "="];
    vec(select(pieces), 1..4)
        .prop_map(move |pieces| {
            let current = b.draft.path.get(&name).and_then(Value::as_str).unwrap_or_default().to_owned();
            let value = format!("{current}{}", pieces.concat());
            set(&b, &name, value.clone(), format!("{name}: {}", preview(&value)))
        })
        .sboxed()
}
