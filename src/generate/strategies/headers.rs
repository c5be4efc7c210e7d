//! Strategies that change a header: accepted spellings of the media types, an optional header
//! present, a required one missing, empty or rejected by its `pattern`, and unusual legal values.

use std::sync::Arc;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;

use super::super::draft::{Base, Mutated, set_header};
use super::super::strings::regex;
use super::{Strat, header_schema_accepts};

/// `application/json` in mixed case, with or without a charset parameter, as the schema accepts.
pub(in crate::generate) fn content_type_variant(base: &Arc<Base>) -> Strat {
    let b = base.clone();
    let parameters = select(vec!["", ";charset=UTF-8", "; charset=utf-8", ";charset=\"UTF-8\"", " ; CHARSET=utf-8"]);
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

/// Accept values a JSON API must serve.
pub(in crate::generate) fn accept_variant(base: &Arc<Base>) -> Strat {
    let b = base.clone();
    select(vec!["application/json", "*/*", "application/*", "application/json, text/plain;q=0.5"])
        .prop_map(move |v| set_header(&b, "Accept", v.to_owned()))
        .sboxed()
}

/// An optional header present: the default project, a UUID or a short id.
pub(in crate::generate) fn optional(base: &Arc<Base>, name: &str) -> Strat {
    let b = base.clone();
    let name = name.to_owned();
    prop_oneof![
        Just("0".to_owned()),
        regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
        regex("[a-z0-9]{1,36}")
    ]
    .prop_map(move |v| set_header(&b, &name, v))
    .sboxed()
}

/// The header removed.
pub(in crate::generate) fn missing(base: &Arc<Base>, name: &str) -> Strat {
    let mut draft = base.draft.clone();
    draft.remove_header(name);
    Just(Mutated { draft, description: format!("{name}: removed") }).sboxed()
}

/// The header present and empty.
pub(in crate::generate) fn empty(base: &Arc<Base>, name: &str) -> Strat {
    Just(set_header(base, name, String::new())).sboxed()
}

/// Media types a client might send by mistake, and random ones, that the header's schema rejects.
pub(in crate::generate) fn wrong(base: &Arc<Base>, name: &str) -> Strat {
    let b = base.clone();
    let name = name.to_owned();
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

/// Legal but unusual: long values, every visible ASCII character, an unknown header.
pub(in crate::generate) fn unusual(base: &Arc<Base>) -> Strat {
    let b = base.clone();
    prop_oneof![
        regex("[!-~]{1,64}").prop_map(|v| ("X-Enterprise-Project-ID".to_owned(), v)),
        (1usize..8_192).prop_map(|n| ("X-Enterprise-Project-ID".to_owned(), "0".repeat(n))),
        regex("[ -~]{0,200}").prop_map(|v| ("X-Unknown-Header".to_owned(), v)),
    ]
    .prop_map(move |(name, value)| set_header(&b, &name, value))
    .sboxed()
}
