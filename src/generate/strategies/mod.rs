//! The proptest strategies, one function per [`Kind`](super::Kind): requests built from the
//! valid template with one thing changed, and that change said in words. Values the schemas
//! allow or forbid are checked against the schemas themselves (`prop_filter`), so a generator
//! cannot drift from the contract. Grouped by the part of the request they change.

pub(super) mod body;
pub(super) mod headers;
pub(super) mod path;

use proptest::strategy::SBoxedStrategy;
use serde_json::Value;

use super::draft::{Base, Mutated};

/// What every strategy is.
pub(crate) type Strat = SBoxedStrategy<Mutated>;

/// The values of the body property's `enum`.
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

/// Whether the schema of the header `name` (if it has one) accepts `value`.
fn header_schema_accepts(base: &Base, name: &str, value: &str) -> bool {
    base.header_schemas
        .iter()
        .find(|(n, _)| n == name)
        .is_none_or(|(_, schema)| schema.is_valid(&Value::String(value.to_owned())))
}

/// The strategy of one kind.
pub(crate) fn strategy(kind: &super::Kind, base: &std::sync::Arc<Base>) -> Strat {
    use super::Kind;
    match kind {
        Kind::BodyFormatting => body::formatting(base),
        Kind::PropertyWrongValue { property } => body::wrong_value(base, property),
        Kind::PropertyWrongType { property, allowed } => body::wrong_type(base, property, allowed),
        Kind::PropertyMissing { property } => body::missing(base, property),
        Kind::BodyWrongType => body::wrong_body_type(base),
        Kind::BodyNotJson => body::not_json(base),
        Kind::BodyTruncated => body::truncated(base),
        Kind::BodyEmpty => body::empty(base),
        Kind::BodyNotUtf8 => body::not_utf8(base),
        Kind::BodyDeeplyNested => body::deeply_nested(base),
        Kind::BodyLarge { property } => body::large(base, property),
        Kind::BodyDuplicateKeys => body::duplicate_keys(base),
        Kind::ContentTypeVariant => headers::content_type_variant(base),
        Kind::AcceptVariant => headers::accept_variant(base),
        Kind::OptionalHeader { name } => headers::optional(base, name),
        Kind::HeaderMissing { name, .. } => headers::missing(base, name),
        Kind::HeaderEmpty { name, .. } => headers::empty(base, name),
        Kind::HeaderWrong { name } => headers::wrong(base, name),
        Kind::HeaderUnusual => headers::unusual(base),
        Kind::PathTooLong { name, max } => path::too_long(base, name, *max),
        Kind::PathEmpty { name } => path::empty(base, name),
        Kind::UnknownEngine => path::unknown_engine(base),
        Kind::PathReservedChars { name } => path::reserved_chars(base, name),
    }
}
