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
