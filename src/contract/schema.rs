//! A compiled JSON Schema and the violations it reports, each with the pointer into the
//! instance, the schema keyword and the offending value.

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

/// Offending values are cut to this many characters in messages.
const VALUE_PREVIEW_CHARS: usize = 80;

/// One schema file of the contract, compiled once.
pub struct CompiledSchema {
    /// File name, e.g. `success-body.schema.json`.
    pub name: String,
    /// The schema as written.
    pub raw: Value,
    validator: jsonschema::Validator,
}

impl std::fmt::Debug for CompiledSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledSchema").field("name", &self.name).finish_non_exhaustive()
    }
}

/// One way an instance breaks a schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer into the instance (`""` for the root).
    pub pointer: String,
    /// The schema keyword that failed, e.g. `enum` or `required`.
    pub keyword: String,
    /// The validator's message.
    pub message: String,
    /// For `required`: the missing property.
    pub missing: Option<String>,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pointer = if self.pointer.is_empty() { "(root)" } else { &self.pointer };
        write!(f, "{pointer}: {} ({})", self.message, self.keyword)
    }
}

impl Violation {
    /// The top-level property this violation is about, if any: the first pointer segment, or
    /// the missing property of a `required` failure at the root.
    pub fn property(&self) -> Option<String> {
        match self.pointer.strip_prefix('/') {
            Some(rest) => Some(rest.split('/').next().unwrap_or_default().replace("~1", "/").replace("~0", "~")),
            None => self.missing.clone(),
        }
    }
}

/// The most JSON values one document given to a validator may hold (a case, a manifest): the
/// validator keeps every violation it finds before it yields one, so what it is given is bounded
/// first.
pub(crate) const MAX_VALIDATED_VALUES: usize = 100_000;

/// The number of JSON values in `value`; counting stops past `limit`.
pub(crate) fn count_values(value: &Value, limit: usize) -> usize {
    let mut count = 0;
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        count += 1;
        if count > limit {
            break;
        }
        match v {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.values()),
            _ => {}
        }
    }
    count
}

/// Resolves a `$ref` to a `file:` URI as the rest of the contract is read (a regular file below
/// the size limit), and nothing else: no schema can make the tool read a device or the network.
struct BoundedFiles;

impl jsonschema::Retrieve for BoundedFiles {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        if uri.scheme().as_str() != "file" {
            return Err(format!("`{uri}`: only `file:` references are resolved").into());
        }
        let path = percent_encoding::percent_decode_str(uri.path().as_str()).decode_utf8()?;
        let bytes = crate::files::read_bounded(std::path::Path::new(path.as_ref()), crate::files::CONTRACT_FILE_LIMIT)
            .map_err(|e| format!("`{path}`: {e}"))?;
        Ok(serde_json::from_slice(&bytes).map_err(|e| format!("`{path}` is not JSON: {e}"))?)
    }
}

impl CompiledSchema {
    /// Compiles `raw`; the error is the pointer into the schema and the message.
    pub(crate) fn compile(name: &str, raw: Value) -> Result<Self, (String, String)> {
        let validator = jsonschema::options()
            .with_retriever(BoundedFiles)
            .build(&raw)
            .map_err(|e| (e.instance_path().to_string(), e.to_string()))?;
        Ok(CompiledSchema { name: name.to_owned(), raw, validator })
    }

    /// Whether `instance` is valid.
    pub fn is_valid(&self, instance: &Value) -> bool {
        self.validator.is_valid(instance)
    }

    /// Every violation of `instance`, in the validator's order.
    pub fn violations(&self, instance: &Value) -> Vec<Violation> {
        self.violations_limited(instance, usize::MAX).0
    }

    /// The first `limit` violations of `instance` and how many there are in all: an input with
    /// millions of faults costs time to count, not memory to keep.
    pub fn violations_limited(&self, instance: &Value, limit: usize) -> (Vec<Violation>, usize) {
        // Most instances are valid: `is_valid` stops early and allocates no error.
        if self.validator.is_valid(instance) {
            return (Vec::new(), 0);
        }
        let mut errors = self.validator.iter_errors(instance);
        let kept: Vec<Violation> = errors
            .by_ref()
            .take(limit)
            .map(|error| {
                let missing = match error.kind() {
                    ValidationErrorKind::Required { property } => property.as_str().map(str::to_owned),
                    _ => None,
                };
                let keyword = error.kind().keyword().to_owned();
                let message = self
                    .negation_description(&keyword, &error)
                    .unwrap_or_else(|| truncate_chars(&message(&error), VALUE_PREVIEW_CHARS * 2));
                Violation { pointer: error.instance_path().to_string(), keyword, message, missing }
            })
            .collect();
        let total = kept.len() + errors.count();
        (kept, total)
    }

    /// A `not` says only what is forbidden, which reads badly as a message; a `not` schema
    /// with a `description` gives the message instead.
    fn negation_description(&self, keyword: &str, error: &jsonschema::ValidationError<'_>) -> Option<String> {
        if keyword != "not" {
            return None;
        }
        let location = error.absolute_keyword_location()?;
        let fragment = location.as_str().split_once('#')?.1;
        let pointer = percent_encoding::percent_decode_str(fragment).decode_utf8().ok()?;
        self.raw.pointer(&pointer)?.get("description")?.as_str().map(str::to_owned)
    }

    /// The names of the schema's top-level `properties`, as written.
    pub fn property_names(&self) -> impl Iterator<Item = &str> {
        self.raw
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flat_map(|props| props.keys().map(String::as_str))
    }

    /// The names of the schema's top-level `required` members, as written.
    pub fn required_names(&self) -> Vec<&str> {
        self.raw.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect()
    }

    /// The sub-schema of one top-level property.
    pub fn property_schema(&self, name: &str) -> Option<Value> {
        let mut schema = self.raw.get("properties")?.get(name)?;
        // A local `$ref` is followed (a few steps: a cycle ends, unresolved), and the root's
        // definitions go with the sub-schema, so it compiles and reads as it does in place.
        for _ in 0..8 {
            let Some(target) = schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) else {
                break;
            };
            let decoded = percent_encoding::percent_decode_str(target).decode_utf8().ok()?;
            schema = self.raw.pointer(&decoded)?;
        }
        let mut schema = schema.clone();
        if let Value::Object(object) = &mut schema {
            for defs in ["$defs", "definitions"] {
                if let (Some(found), false) = (self.raw.get(defs), object.contains_key(defs)) {
                    object.insert(defs.to_owned(), found.clone());
                }
            }
        }
        Some(schema)
    }
}

/// The error's message. A large instance (a 512 KB string, say) is not written out whole only
/// to be cut: it is shown by a preview, so the cost of a message does not grow with the input.
fn message(error: &jsonschema::ValidationError<'_>) -> String {
    let instance = error.instance();
    if within(instance, VALUE_PREVIEW_CHARS * 2) {
        return error.to_string();
    }
    let preview = match instance.as_ref() {
        Value::String(text) => {
            let shown: String = text.chars().take(VALUE_PREVIEW_CHARS).collect();
            format!("{}… ({} bytes)", serde_json::to_string(&shown).unwrap_or_default(), text.len())
        }
        Value::Array(items) => format!("an array of {} items", items.len()),
        Value::Object(members) => format!("an object of {} members", members.len()),
        other => truncate_chars(&other.to_string(), VALUE_PREVIEW_CHARS),
    };
    error.masked_with(preview).to_string()
}

/// Whether `value` written as JSON is surely at most about `budget` bytes (counted cheaply).
fn within(value: &Value, budget: usize) -> bool {
    fn size(value: &Value, left: &mut usize) -> bool {
        let own = match value {
            Value::String(text) => text.len() + 2,
            Value::Array(_) | Value::Object(_) => 2,
            _ => 8,
        };
        if own > *left {
            return false;
        }
        *left -= own;
        match value {
            Value::Array(items) => items.iter().all(|v| size(v, left)),
            Value::Object(members) => members.iter().all(|(k, v)| k.len() + 3 <= *left && size(v, left)),
            _ => true,
        }
    }
    size(value, &mut { budget })
}

/// Cuts `text` to at most `max` characters, marking the cut.
pub fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}… ({} more bytes)", &text[..cut], text.len() - cut),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_large_instance_is_previewed_not_written_whole() {
        let schema = serde_json::json!({"type": "object", "properties": {"action": {"enum": ["Retry"]}}});
        let compiled = super::CompiledSchema::compile("t", schema).unwrap();
        let long = "AB".repeat(300_000);
        let violations = compiled.violations(&serde_json::json!({ "action": long }));
        assert_eq!(violations.len(), 1);
        let message = &violations[0].message;
        assert!(message.contains("(600000 bytes) is not one of"), "{message}");
        assert!(message.len() < 400, "{message}");
        let short = compiled.violations(&serde_json::json!({"action": "Rtry"}));
        assert_eq!(short[0].message, r#""Rtry" is not one of "Retry""#);
    }
}
