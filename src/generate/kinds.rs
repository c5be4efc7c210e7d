//! What can be generated: the families and the kinds of mutation in each, derived from the
//! contract. Each negative kind names the one rule it breaks; the rules come from the schemas
//! (`required`, `type`, `enum`, `maxLength`, `minLength`, `pattern`) and the manifest
//! (credential headers), never from literals here.

use serde_json::Value;

use crate::contract::Operation;
use crate::plan::RequestPart;

/// A family of generated cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Requests the contract calls valid.
    Positive,
    /// Requests that break exactly one rule.
    Negative,
    /// Inputs the contract does not classify.
    Robustness,
}

impl Family {
    /// Its name in case names.
    pub fn name(self) -> &'static str {
        match self {
            Family::Positive => "positive",
            Family::Negative => "negative",
            Family::Robustness => "robustness",
        }
    }
}

/// Which families `--mode` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Positive only.
    Positive,
    /// Negative only.
    Negative,
    /// Robustness only.
    Robustness,
    /// All three.
    All,
}

impl Mode {
    /// Whether the mode includes `family`.
    pub fn includes(self, family: Family) -> bool {
        matches!(
            (self, family),
            (Mode::All, _)
                | (Mode::Positive, Family::Positive)
                | (Mode::Negative, Family::Negative)
                | (Mode::Robustness, Family::Robustness)
        )
    }
}

/// One kind of generated request.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Content-Type spellings the header schema accepts.
    ContentTypeVariant,
    /// Accept values.
    AcceptVariant,
    /// Optional headers of the schema, present with plausible values.
    OptionalHeader {
        /// Header name.
        name: String,
    },
    /// The valid body, formatted differently.
    BodyFormatting,
    /// A body property's value outside its `enum`.
    PropertyWrongValue {
        /// Property name.
        property: String,
    },
    /// A body property of a type its schema does not allow.
    PropertyWrongType {
        /// Property name.
        property: String,
        /// The JSON types allowed.
        allowed: Vec<String>,
    },
    /// A required body property missing.
    PropertyMissing {
        /// Property name.
        property: String,
    },
    /// A body of a JSON type other than the schema's.
    BodyWrongType,
    /// A body that is not JSON.
    BodyNotJson,
    /// The valid body cut short.
    BodyTruncated,
    /// No body.
    BodyEmpty,
    /// A body that is not UTF-8.
    BodyNotUtf8,
    /// Nested arrays, deep.
    BodyDeeplyNested,
    /// A large body with a wrong value.
    BodyLarge {
        /// The property given a long wrong value.
        property: String,
    },
    /// A required header missing.
    HeaderMissing {
        /// Header name.
        name: String,
        /// It carries credentials.
        credential: bool,
    },
    /// A required header empty, where the schema forbids that.
    HeaderEmpty {
        /// Header name.
        name: String,
        /// It carries credentials.
        credential: bool,
    },
    /// A header value its `pattern` rejects.
    HeaderWrong {
        /// Header name.
        name: String,
    },
    /// A path parameter over its `maxLength`.
    PathTooLong {
        /// Parameter name.
        name: String,
        /// The schema's maxLength.
        max: usize,
    },
    /// A path parameter under its `minLength` (empty).
    PathEmpty {
        /// Parameter name.
        name: String,
    },
    /// An engine that does not exist.
    UnknownEngine,
    /// Path parameters with reserved or percent-encoded characters.
    PathReservedChars {
        /// Parameter name.
        name: String,
    },
    /// Unusual but legal header values.
    HeaderUnusual,
    /// Duplicate keys in the body.
    BodyDuplicateKeys,
}

fn snake(name: &str) -> String {
    name.to_ascii_lowercase().replace('-', "_")
}

impl Kind {
    /// The family it belongs to.
    pub fn family(&self) -> Family {
        match self {
            Kind::ContentTypeVariant | Kind::AcceptVariant | Kind::OptionalHeader { .. } | Kind::BodyFormatting => {
                Family::Positive
            }
            Kind::PathReservedChars { .. } | Kind::HeaderUnusual | Kind::BodyDuplicateKeys => Family::Robustness,
            _ => Family::Negative,
        }
    }

    /// Its name in case names, e.g. `action_wrong_type`.
    pub fn name(&self) -> String {
        match self {
            Kind::ContentTypeVariant => "content_type_variant".into(),
            Kind::AcceptVariant => "accept_variant".into(),
            Kind::OptionalHeader { name } => format!("{}_present", snake(name)),
            Kind::BodyFormatting => "body_formatting".into(),
            Kind::PropertyWrongValue { property } => format!("{}_wrong_value", snake(property)),
            Kind::PropertyWrongType { property, .. } => format!("{}_wrong_type", snake(property)),
            Kind::PropertyMissing { property } => format!("{}_missing", snake(property)),
            Kind::BodyWrongType => "body_wrong_type".into(),
            Kind::BodyNotJson => "body_not_json".into(),
            Kind::BodyTruncated => "body_truncated".into(),
            Kind::BodyEmpty => "body_empty".into(),
            Kind::BodyNotUtf8 => "body_not_utf8".into(),
            Kind::BodyDeeplyNested => "body_deeply_nested".into(),
            Kind::BodyLarge { .. } => "body_large".into(),
            Kind::HeaderMissing { name, .. } => format!("{}_missing", snake(name)),
            Kind::HeaderEmpty { name, .. } | Kind::PathEmpty { name } => format!("{}_empty", snake(name)),
            Kind::HeaderWrong { name } => format!("{}_wrong", snake(name)),
            Kind::PathTooLong { name, .. } => format!("{}_too_long", snake(name)),
            Kind::UnknownEngine => "unknown_engine".into(),
            Kind::PathReservedChars { name } => format!("{}_reserved_chars", snake(name)),
            Kind::HeaderUnusual => "header_unusual_values".into(),
            Kind::BodyDuplicateKeys => "body_duplicate_keys".into(),
        }
    }

    /// Credentials are the rule it breaks.
    pub fn breaks_credentials(&self) -> bool {
        matches!(self, Kind::HeaderMissing { credential: true, .. } | Kind::HeaderEmpty { credential: true, .. })
    }

    /// For a negative kind: the part and top-level property of the one violation it causes
    /// (`None` for the unknown engine, which breaks no schema).
    pub fn target(&self) -> Option<(RequestPart, Option<String>)> {
        let body = |p: &str| Some((RequestPart::Body, Some(p.to_owned())));
        match self {
            Kind::PropertyWrongValue { property }
            | Kind::PropertyWrongType { property, .. }
            | Kind::PropertyMissing { property }
            | Kind::BodyLarge { property } => body(property),
            Kind::BodyWrongType
            | Kind::BodyNotJson
            | Kind::BodyTruncated
            | Kind::BodyEmpty
            | Kind::BodyNotUtf8
            | Kind::BodyDeeplyNested => Some((RequestPart::Body, None)),
            Kind::HeaderMissing { name, .. } | Kind::HeaderEmpty { name, .. } | Kind::HeaderWrong { name } => {
                Some((RequestPart::Headers, Some(name.clone())))
            }
            Kind::PathTooLong { name, .. } | Kind::PathEmpty { name } => {
                Some((RequestPart::PathParameters, Some(name.clone())))
            }
            _ => None,
        }
    }
}

fn required(schema: &Value) -> Vec<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

fn types(schema: &Value) -> Vec<String> {
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
    for property in required(schema) {
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
    let required = required(&schema.raw);
    let mut out = vec![Kind::ContentTypeVariant, Kind::AcceptVariant, Kind::HeaderUnusual];
    for name in schema.property_names() {
        let credential = op.is_credential_header(name);
        if !required.iter().any(|r| r == name) {
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
}
