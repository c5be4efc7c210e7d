//! What can be generated: the families, and the registry of the kinds of mutation in each.
//! Each negative kind names the one rule it breaks; the rules come from the schemas
//! (`required`, `type`, `enum`, `maxLength`, `minLength`, `pattern`) and the manifest
//! (credential headers), never from literals here.
//!
//! # The registry
//!
//! A kind is one row of the `kinds!` call below, which says everything about it in one place:
//!
//! ```ignore
//! /// What the kind sends (the variant's doc).
//! HeaderWrong {
//!     /// Header name.
//!     name: String,
//! } => {
//!     answer: Answer::Rejected,                    // what a conforming server answers; it gives the family
//!     name: format!("{}_wrong", snake(name)),      // the name in `generated::FAMILY::NAME::NNNN`
//!     target: Some(header(name)),                  // the part and property of its one violation, or None
//!     strategy: |base| headers::wrong(base, name), // the proptest strategy, from the valid base
//! },
//! ```
//!
//! The pieces may read the variant's fields by name. From the rows the macro generates [`Kind`]
//! and each of its methods as an exhaustive match, with no catch-all arm: a row without one of
//! its pieces does not compile, nor does a piece of the wrong type. The family is not written
//! apart from the [`Answer`]: each answer belongs to one family ([`Answer::family`]), so a kind
//! cannot be negative and expected to be accepted. Adding a kind is therefore:
//!
//! 1. its strategy, a function in `strategies/{body,headers,path}.rs` (by the part of the request
//!    it changes), with a doc line on why its values were chosen;
//! 2. its row below, where it reads best (the rows' order is not the generation order);
//! 3. where the contract gives rise to it, in [`kinds`] (`body_kinds`, `header_kinds` or
//!    `path_kinds`): the position there is its place in the rotation, so it changes which kind
//!    case `i` is. A row that [`kinds`] never yields fails the test
//!    `every_kind_of_the_registry_is_derived_from_the_contract`.
//!
//! A negative kind that breaks a schema also gets its arm in the test
//! `generators_break_exactly_their_rule` (`plan.rs`), whose match over kinds is exhaustive so
//! that the compiler asks for it. Nothing else names kinds: the expected statuses follow from the
//! [`Answer`] (`plan::expected`), case names from `name`, skipped checks from the family.

use std::sync::Arc;

use serde_json::Value;

use super::draft::Base;
use super::strategies::{Strat, body, headers, path};
use crate::contract::Operation;
use crate::plan::RequestPart;

/// A family of generated cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// Requests the contract calls valid.
    Positive,
    /// Requests that break exactly one rule.
    Negative,
    /// Inputs the contract does not classify.
    Robustness,
    /// Boundary and near-miss values of each constraint, derived by rule (`generate/coverage.rs`).
    Coverage,
}

impl Family {
    /// Its name in case names.
    pub fn name(self) -> &'static str {
        match self {
            Family::Positive => "positive",
            Family::Negative => "negative",
            Family::Robustness => "robustness",
            Family::Coverage => "coverage",
        }
    }
}

/// Which families `--mode` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Random positive cases only, no coverage phase.
    Positive,
    /// Random negative cases only, no coverage phase.
    Negative,
    /// Random robustness probes only, no coverage phase.
    Robustness,
    /// The coverage phase only: boundary values of every constraint, no random cases.
    Coverage,
    /// The random cases only (positive, negative and robustness), no coverage phase.
    Random,
    /// The coverage phase, then random cases of the three families.
    All,
}

impl Mode {
    /// Whether the mode includes `family`.
    pub fn includes(self, family: Family) -> bool {
        matches!(
            (self, family),
            (Mode::All, _)
                | (Mode::Random, Family::Positive | Family::Negative | Family::Robustness)
                | (Mode::Positive, Family::Positive)
                | (Mode::Negative, Family::Negative)
                | (Mode::Robustness, Family::Robustness)
                | (Mode::Coverage, Family::Coverage)
        )
    }
}

/// What a conforming server answers to a kind: its family, and the rule by which its expected
/// statuses follow from the manifest (`plan::expected`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Positive: acceptance; without the engine's state read around it, also the page's refusal
    /// of a Retry, since a real engine may not be retryable again.
    Accepted,
    /// Positive, with a value of its own (another enterprise project, a value the schema does
    /// not forbid but does not name either) that may be refused for that value, as a client
    /// error other than the credential failure: the page does not say, so a refusal stays
    /// conformant even with state read, as in the hand-written `retry::enterprise_project_other`.
    AcceptedOrRefusedForItsValue,
    /// Negative: a client error other than the credential failure.
    Rejected,
    /// Negative, on credentials: the gateway's credential statuses (`--strict-auth`: its alone).
    CredentialsRejected,
    /// Robustness: anything but a server error.
    Unclassified,
    /// A value whose size alone may be refused (a header or URL of 8 KiB or more, as the coverage
    /// phase sends): anything but a server error, HTTP's own size refusals (413, 414, 431)
    /// included though the API documents only 413.
    SizeMayBeRefused,
    /// Valid, naming a resource other than the run's (a path parameter of another value, as the
    /// coverage phase sends): accepted, or refused as a client error (unknown, not found, not
    /// allowed), never a server error.
    NamesAnotherResource,
}

impl Answer {
    /// The family of the kinds answered so.
    pub(crate) fn family(self) -> Family {
        match self {
            Answer::Accepted | Answer::AcceptedOrRefusedForItsValue | Answer::NamesAnotherResource => Family::Positive,
            Answer::Rejected | Answer::CredentialsRejected => Family::Negative,
            Answer::Unclassified | Answer::SizeMayBeRefused => Family::Robustness,
        }
    }
}

/// A header or property name as it appears in case names: `X-Auth-Token` → `x_auth_token`.
pub(super) fn snake(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

/// The target of a kind that breaks the body's `property`.
fn body_property(property: &str) -> (RequestPart, Option<String>) {
    (RequestPart::Body, Some(property.to_owned()))
}

/// The target of a kind that breaks the body as a whole.
fn whole_body() -> (RequestPart, Option<String>) {
    (RequestPart::Body, None)
}

/// The target of a kind that breaks the header `name`.
fn header(name: &str) -> (RequestPart, Option<String>) {
    (RequestPart::Headers, Some(name.to_owned()))
}

/// The target of a kind that breaks the path parameter `name`.
fn path_parameter(name: &str) -> (RequestPart, Option<String>) {
    (RequestPart::PathParameters, Some(name.to_owned()))
}

/// Generates, from one row per kind (see the module's documentation), [`Kind`] and every method
/// that says something of a kind, each an exhaustive match over the rows.
macro_rules! kinds {
    ($(
        $(#[$doc:meta])*
        $variant:ident $({ $($(#[$field_doc:meta])* $field:ident: $type:ty),+ $(,)? })? => {
            answer: $answer:expr,
            name: $name:expr,
            target: $target:expr,
            strategy: |$base:ident| $strategy:expr $(,)?
        },
    )+) => {
        /// One kind of generated request: a row of the registry in `generate/kinds.rs`, which says how
        /// to add one.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Kind {
            $(
                $(#[$doc])*
                $variant $({ $($(#[$field_doc])* $field: $type),+ })?,
            )+
        }

        // A piece of a row need not read every field of its variant.
        #[allow(unused_variables)]
        impl Kind {
            /// Every kind's variant, in the rows' order.
            #[cfg(test)]
            const VARIANTS: [&'static str; [$(stringify!($variant)),+].len()] = [$(stringify!($variant)),+];

            /// Its variant's name.
            #[cfg(test)]
            fn variant(&self) -> &'static str {
                match self {
                    $(Kind::$variant { .. } => stringify!($variant),)+
                }
            }

            /// What a conforming server answers to it.
            pub(crate) fn answer(&self) -> Answer {
                match self {
                    $(Kind::$variant $({ $($field),+ })? => $answer,)+
                }
            }

            /// Its name in case names, e.g. `action_wrong_type`.
            pub fn name(&self) -> String {
                match self {
                    $(Kind::$variant $({ $($field),+ })? => $name,)+
                }
            }

            /// For a negative kind: the part and top-level property of the one violation it
            /// causes (`None` for the unknown engine, which breaks no schema).
            pub fn target(&self) -> Option<(RequestPart, Option<String>)> {
                match self {
                    $(Kind::$variant $({ $($field),+ })? => $target,)+
                }
            }

            /// Its strategy, drawing requests from `base`.
            pub(crate) fn strategy(&self, base: &Arc<Base>) -> Strat {
                match self {
                    $(Kind::$variant $({ $($field),+ })? => {
                        let $base = base;
                        $strategy
                    })+
                }
            }
        }
    };
}

// The registry: one row per kind, grouped by the part of the request it changes. See the
// module's documentation.
kinds! {
    /// The valid body, formatted differently.
    BodyFormatting => {
        answer: Answer::Accepted,
        name: "body_formatting".into(),
        target: None,
        strategy: |base| body::formatting(base),
    },
    /// A body property's value outside its `enum`.
    PropertyWrongValue {
        /// Property name.
        property: String,
    } => {
        answer: Answer::Rejected,
        name: format!("{}_wrong_value", snake(property)),
        target: Some(body_property(property)),
        strategy: |base| body::wrong_value(base, property),
    },
    /// A body property of a type its schema does not allow.
    PropertyWrongType {
        /// Property name.
        property: String,
        /// The JSON types allowed.
        allowed: Vec<String>,
    } => {
        answer: Answer::Rejected,
        name: format!("{}_wrong_type", snake(property)),
        target: Some(body_property(property)),
        strategy: |base| body::wrong_type(base, property, allowed),
    },
    /// A required body property missing.
    PropertyMissing {
        /// Property name.
        property: String,
    } => {
        answer: Answer::Rejected,
        name: format!("{}_missing", snake(property)),
        target: Some(body_property(property)),
        strategy: |base| body::missing(base, property),
    },
    /// A body of a JSON type other than the schema's.
    BodyWrongType => {
        answer: Answer::Rejected,
        name: "body_wrong_type".into(),
        target: Some(whole_body()),
        strategy: |base| body::wrong_body_type(base),
    },
    /// A body that is not JSON.
    BodyNotJson => {
        answer: Answer::Rejected,
        name: "body_not_json".into(),
        target: Some(whole_body()),
        strategy: |base| body::not_json(base),
    },
    /// The valid body cut short.
    BodyTruncated => {
        answer: Answer::Rejected,
        name: "body_truncated".into(),
        target: Some(whole_body()),
        strategy: |base| body::truncated(base),
    },
    /// No body.
    BodyEmpty => {
        answer: Answer::Rejected,
        name: "body_empty".into(),
        target: Some(whole_body()),
        strategy: |base| body::empty(base),
    },
    /// A body that is not UTF-8.
    BodyNotUtf8 => {
        answer: Answer::Rejected,
        name: "body_not_utf8".into(),
        target: Some(whole_body()),
        strategy: |base| body::not_utf8(base),
    },
    /// Nested arrays, deep.
    BodyDeeplyNested => {
        answer: Answer::Rejected,
        name: "body_deeply_nested".into(),
        target: Some(whole_body()),
        strategy: |base| body::deeply_nested(base),
    },
    /// A large body with a wrong value.
    BodyLarge {
        /// The property given a long wrong value.
        property: String,
    } => {
        answer: Answer::Rejected,
        name: "body_large".into(),
        target: Some(body_property(property)),
        strategy: |base| body::large(base, property),
    },
    /// Duplicate keys in the body.
    BodyDuplicateKeys => {
        answer: Answer::Unclassified,
        name: "body_duplicate_keys".into(),
        target: None,
        strategy: |base| body::duplicate_keys(base),
    },
    /// Content-Type spellings the header schema accepts.
    ContentTypeVariant => {
        answer: Answer::Accepted,
        name: "content_type_variant".into(),
        target: None,
        strategy: |base| headers::content_type_variant(base),
    },
    /// Accept values.
    AcceptVariant => {
        answer: Answer::Accepted,
        name: "accept_variant".into(),
        target: None,
        strategy: |base| headers::accept_variant(base),
    },
    /// Optional headers of the schema, present with plausible values.
    OptionalHeader {
        /// Header name.
        name: String,
    } => {
        answer: Answer::AcceptedOrRefusedForItsValue,
        name: format!("{}_present", snake(name)),
        target: None,
        strategy: |base| headers::optional(base, name),
    },
    /// A required header missing.
    HeaderMissing {
        /// Header name.
        name: String,
        /// It carries credentials.
        credential: bool,
    } => {
        answer: if *credential { Answer::CredentialsRejected } else { Answer::Rejected },
        name: format!("{}_missing", snake(name)),
        target: Some(header(name)),
        strategy: |base| headers::missing(base, name),
    },
    /// A required header empty, where the schema forbids that.
    HeaderEmpty {
        /// Header name.
        name: String,
        /// It carries credentials.
        credential: bool,
    } => {
        answer: if *credential { Answer::CredentialsRejected } else { Answer::Rejected },
        name: format!("{}_empty", snake(name)),
        target: Some(header(name)),
        strategy: |base| headers::empty(base, name),
    },
    /// A header value its `pattern` rejects.
    HeaderWrong {
        /// Header name.
        name: String,
    } => {
        answer: Answer::Rejected,
        name: format!("{}_wrong", snake(name)),
        target: Some(header(name)),
        strategy: |base| headers::wrong(base, name),
    },
    /// Unusual but legal header values.
    HeaderUnusual => {
        answer: Answer::Unclassified,
        name: "header_unusual_values".into(),
        target: None,
        strategy: |base| headers::unusual(base),
    },
    /// A path parameter over its `maxLength`.
    PathTooLong {
        /// Parameter name.
        name: String,
        /// The schema's maxLength.
        max: usize,
    } => {
        answer: Answer::Rejected,
        name: format!("{}_too_long", snake(name)),
        target: Some(path_parameter(name)),
        strategy: |base| path::too_long(base, name, *max),
    },
    /// A path parameter under its `minLength` (empty).
    PathEmpty {
        /// Parameter name.
        name: String,
    } => {
        answer: Answer::Rejected,
        name: format!("{}_empty", snake(name)),
        target: Some(path_parameter(name)),
        strategy: |base| path::empty(base, name),
    },
    /// An engine that does not exist.
    UnknownEngine => {
        answer: Answer::Rejected,
        name: "unknown_engine".into(),
        target: None,
        strategy: |base| path::unknown_engine(base),
    },
    /// Path parameters with reserved or percent-encoded characters.
    PathReservedChars {
        /// Parameter name.
        name: String,
    } => {
        answer: Answer::Unclassified,
        name: format!("{}_reserved_chars", snake(name)),
        target: None,
        strategy: |base| path::reserved_chars(base, name),
    },
}

impl Kind {
    /// The family it belongs to.
    pub fn family(&self) -> Family {
        self.answer().family()
    }
}

/// The JSON types a schema's `type` allows (none when it says nothing).
pub(super) fn types(schema: &Value) -> Vec<String> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

fn body_kinds(op: &Operation) -> Vec<Kind> {
    let Some(compiled) = op.request_body() else {
        return Vec::new();
    };
    let schema = &compiled.raw;
    let mut out = vec![Kind::BodyFormatting];
    for property in compiled.required_names() {
        let property = property.to_owned();
        let sub = compiled.property_schema(&property).unwrap_or(Value::Null);
        if sub.get("enum").is_some() {
            out.push(Kind::PropertyWrongValue { property: property.clone() });
            out.push(Kind::BodyLarge { property: property.clone() });
        }
        let allowed = types(&sub);
        if !allowed.is_empty() {
            out.push(Kind::PropertyWrongType { property: property.clone(), allowed });
        }
        out.push(Kind::PropertyMissing { property });
    }
    if !types(schema).is_empty() {
        out.extend([Kind::BodyWrongType, Kind::BodyDeeplyNested]);
    }
    out.extend([Kind::BodyNotJson, Kind::BodyTruncated, Kind::BodyEmpty, Kind::BodyNotUtf8, Kind::BodyDuplicateKeys]);
    out
}

fn header_kinds(op: &Operation) -> Vec<Kind> {
    let schema = op.request_headers();
    let required = schema.required_names();
    let mut out = vec![Kind::ContentTypeVariant, Kind::AcceptVariant, Kind::HeaderUnusual];
    for name in schema.property_names() {
        let credential = op.is_credential_header(name);
        if !required.contains(&name) {
            out.push(Kind::OptionalHeader { name: name.to_owned() });
            continue;
        }
        out.push(Kind::HeaderMissing { name: name.to_owned(), credential });
        let sub = schema.property_schema(name).unwrap_or(Value::Null);
        // compiled as the contract's schemas are; one that does not compile alone rejects nothing
        let empty_rejected = crate::contract::CompiledSchema::compile(name, sub.clone())
            .is_ok_and(|compiled| !compiled.is_valid(&Value::String(String::new())));
        if empty_rejected {
            out.push(Kind::HeaderEmpty { name: name.to_owned(), credential });
        }
        if sub.get("pattern").is_some() {
            out.push(Kind::HeaderWrong { name: name.to_owned() });
        }
    }
    out
}

/// The longest `maxLength` a value one over it is generated for.
const LONGEST_OVER_LIMIT: u64 = 1 << 16;

fn path_kinds(op: &Operation) -> Vec<Kind> {
    let schema = op.path_parameters();
    let mut out = vec![Kind::UnknownEngine];
    for name in op.manifest.path_parameter_names() {
        let sub = schema.property_schema(name).unwrap_or(Value::Null);
        // A limit past any URL a server reads (64 KiB) has no "one over it" worth sending.
        if let Some(max) = sub.get("maxLength").and_then(Value::as_u64).filter(|max| *max < LONGEST_OVER_LIMIT) {
            out.push(Kind::PathTooLong { name: name.to_owned(), max: usize::try_from(max).unwrap_or(usize::MAX) });
        }
        if sub.get("minLength").and_then(Value::as_u64).is_some_and(|m| m > 0) {
            out.push(Kind::PathEmpty { name: name.to_owned() });
        }
        out.push(Kind::PathReservedChars { name: name.to_owned() });
    }
    out
}

/// Every kind the operation gives rise to, in a stable order, for the families `mode` selects.
pub fn kinds(op: &Operation, mode: Mode) -> Vec<Kind> {
    let mut all = body_kinds(op);
    all.extend(header_kinds(op));
    all.extend(path_kinds(op));
    all.retain(|k| mode.includes(k.family()));
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Contract;
    use crate::files::FileSource;

    #[test]
    fn kinds_follow_the_schemas() {
        let contract = Contract::load(&FileSource::Embedded).unwrap();
        let names: Vec<String> = kinds(contract.default_operation(), Mode::Negative).iter().map(Kind::name).collect();
        for expected in [
            "action_wrong_value",
            "action_wrong_type",
            "action_missing",
            "x_auth_token_missing",
            "x_auth_token_empty",
            "content_type_wrong",
            "accept_missing",
            "project_id_too_long",
            "engine_id_empty",
            "unknown_engine",
        ] {
            assert!(names.iter().any(|n| n == expected), "{expected} not in {names:?}");
        }
        // Accept may be any string, so an empty Accept breaks nothing and is not generated.
        assert!(!names.iter().any(|n| n == "accept_empty"));
    }

    /// A row of `kinds!` that `kinds` never yields would be a kind no run generates.
    #[test]
    fn every_kind_of_the_registry_is_derived_from_the_contract() {
        let contract = Contract::load(&FileSource::Embedded).unwrap();
        let derived: Vec<&str> = kinds(contract.default_operation(), Mode::All).iter().map(Kind::variant).collect();
        for variant in Kind::VARIANTS {
            assert!(derived.contains(&variant), "{variant} has a row in `kinds!` but `kinds` never yields it");
        }
    }
}
