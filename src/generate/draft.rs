//! The request a strategy builds: [`Draft`] (a request before it has a URL), [`Mutated`] (a draft
//! and its change in words), [`Base`] (the valid template every strategy starts from), and the
//! ways of changing one thing of the base that several strategies share.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::json::to_json;
use super::strings::preview;
use crate::contract::{CompiledSchema, Contract, OpId, Operation};

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

    pub(super) fn remove_header(&mut self, name: &str) {
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
    pub(crate) op: OpId,
    pub(crate) unknown_engine_id: String,
    /// Each header property's schema, compiled once: generators filter values through them.
    pub(crate) header_schemas: Vec<(String, CompiledSchema)>,
}

impl Base {
    /// The operation generated for.
    pub(crate) fn operation(&self) -> &Operation {
        self.contract.operation(self.op)
    }

    /// Compiles the header property schemas of `op`.
    pub(crate) fn header_schemas(op: &Operation) -> Vec<(String, CompiledSchema)> {
        let headers = op.request_headers();
        headers
            .property_names()
            .filter_map(|name| {
                let schema = headers.property_schema(name)?;
                CompiledSchema::compile(name, schema).ok().map(|c| (name.to_owned(), c))
            })
            .collect()
    }
}

/// The base with the body `body` (no longer known as JSON).
pub(super) fn with_body(base: &Base, body: impl Into<Bytes>, description: String) -> Mutated {
    let mut draft = base.draft.clone();
    draft.body = body.into();
    draft.json = None;
    Mutated { draft, description }
}

/// The base with the body's `property` set to `value`, or removed.
pub(super) fn with_property(base: &Base, property: &str, value: Option<Value>, description: String) -> Mutated {
    set_property(base, property, value, description, None)
}

/// [`with_property`] for a long string of characters JSON writes as they are (no quote,
/// backslash or control character): written without serde_json's escape scan, which was the
/// largest cost of the large bodies after building them.
pub(super) fn with_plain_property(base: &Base, property: &str, text: String, description: String) -> Mutated {
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

/// The base with the header `name` set to `value` (added if absent).
pub(super) fn set_header(base: &Base, name: &str, value: String) -> Mutated {
    let mut draft = base.draft.clone();
    let description = format!("{name}: set to {}", preview(&value));
    draft.set_header(name, value);
    Mutated { draft, description }
}
