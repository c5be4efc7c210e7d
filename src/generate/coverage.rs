//! The coverage phase: boundary and near-miss values derived from every constraint of every
//! operation's request schemas, sent before the random cases, the same on every run. A random
//! fuzzer finds a defect on one value (an action padded with a tab, an enterprise project of 65
//! characters) only when it happens to draw it; these values are drawn by rule instead, so a
//! planted defect of that kind is found whatever the seed.
//!
//! # The rules
//!
//! Each rule is one row of [`RULES`]: its name (the constraint's suffix in case names), the
//! schema keyword it tests, when it applies and the values it derives. Nothing restates the
//! schemas: the values come from the schema's own `enum`, `pattern`, `minLength`, `maxLength`,
//! `type` and `required`, and from the template's literal values. Adding a rule is a function
//! and a row.
//!
//! Whether a value is valid is decided by the property's own schema, compiled, not by the rule:
//! a near-miss the schema accepts (a Content-Type padded with spaces, which its pattern allows)
//! is a valid boundary, and a conforming server must accept it. What a conforming server answers
//! each value ([`Answer`]) follows from that, from where the value goes (a path parameter names
//! another resource, an optional header may be refused for its value), and from its size.
//!
//! Values are deduplicated per property (one request per distinct value; the first rule keeps
//! it), and a value equal to the template's literal is not sent (the hand-written cases send
//! it). The values do not depend on the run's variables, so the names are the same in `--list`
//! and in the run: `generated::coverage::OPERATION::PROPERTY_RULE::NNNN`.

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::num::usize::BinarySearch;
use proptest::strategy::ValueTree;
use serde_json::{Value, json};

use super::draft::{Base, Mutated, set_header, with_body, with_property};
use super::json::to_json;
use super::kinds::{Answer, snake, types};
use super::strings::preview;
use crate::contract::{CompiledSchema, Contract, OpId, Operation};
use crate::plan::RequestPart;

/// The long lengths sent for a string with no upper limit: either side of 64 (a common column
/// width), and powers of two up to 64 KiB, where header and URL buffers end.
const LADDER: [usize; 6] = [64, 65, 256, 1_024, 8_192, 65_536];

/// From this length on, a value in a header or the URL may be refused for its size alone (an
/// 8 KiB header buffer is common, and answered 400 or 431 by proxies), so a conforming server's
/// answer is only required not to be a server error.
const SIZE_MAY_BE_REFUSED: usize = 8_192;

/// The longest `maxLength` a value one over it is sent for (past any URL a server reads).
const LONGEST_OVER_LIMIT: u64 = 1 << 16;

/// What a probe does to the template's request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    /// The property (body member, header or path parameter) set to this value.
    Set(Value),
    /// A string of this many characters (`a`), which shrinking may shorten down to `shortest`
    /// (the value stays valid all the way, so the expectation stays right).
    Long {
        /// Its length.
        length: usize,
        /// The shortest it may shrink to.
        shortest: usize,
    },
    /// The property removed.
    Remove,
    /// The whole body replaced by this value.
    Body(Value),
}

/// One coverage case before it has a request: which value goes where, and why.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    /// The operation.
    pub(crate) op: OpId,
    /// Its constraint, `OPERATION::PROPERTY_RULE`, e.g. `retry::action_enum` (the mutation of its
    /// origin, and its suite's last part).
    pub(crate) constraint: String,
    /// Its number among the constraint's probes.
    pub(crate) number: usize,
    /// The part of the request changed.
    pub(crate) part: RequestPart,
    /// The property changed; `None` for the whole body.
    pub(crate) property: Option<String>,
    /// The schema keyword the value breaks; `None` for a valid boundary value.
    pub(crate) breaks: Option<&'static str>,
    /// What a conforming server answers.
    pub(crate) answer: Answer,
    /// The change.
    pub(crate) change: Change,
    /// The change in words (without the value of a long string, which the length says).
    pub(crate) description: String,
}

impl Probe {
    /// Its case name.
    pub(crate) fn name(&self) -> String {
        format!("generated::coverage::{}::{:04}", self.constraint, self.number)
    }
}

/// A value a rule derives: the value (`None`: the property missing) and why it was chosen.
#[derive(Debug, Clone)]
struct Candidate {
    value: Option<Value>,
    why: String,
    /// A long string of `a`s, which may be shrunk.
    long: Option<usize>,
    /// A value the schema names (an `enum` spelling, a length exactly at a limit): when valid,
    /// it must be accepted. A valid value derived by mutation or from the ladder is one the
    /// schema merely does not forbid, which a strict server may refuse as a client error.
    named: bool,
}

impl Candidate {
    fn new(value: Value, why: impl Into<String>) -> Candidate {
        Candidate { value: Some(value), why: why.into(), long: None, named: false }
    }

    /// A value the schema names.
    fn named(mut self) -> Candidate {
        self.named = true;
        self
    }

    fn text(text: String, why: impl Into<String>) -> Candidate {
        Candidate::new(Value::String(text), why)
    }

    fn of_length(length: usize, why: impl Into<String>) -> Candidate {
        Candidate::new(Value::String("a".repeat(length)), why)
    }
}

/// A property of a request part, as the rules see it.
struct Property<'a> {
    part: RequestPart,
    name: &'a str,
    schema: &'a Value,
    /// The template's value when it is a literal (no `${...}`).
    literal: Option<&'a Value>,
    required: bool,
    credential: bool,
}

impl Property<'_> {
    fn is_string(&self) -> bool {
        // Headers and path parameters are strings whatever their schema says.
        self.part != RequestPart::Body || types(self.schema).iter().any(|t| t == "string")
    }

    fn number(&self, keyword: &str) -> Option<u64> {
        self.schema.get(keyword).and_then(Value::as_u64)
    }

    /// A valid example to derive near-misses from: the template's literal, else the schema's
    /// `examples` or `default`.
    fn example(&self) -> Option<&str> {
        self.literal
            .or_else(|| self.schema.get("examples").and_then(|e| e.get(0)))
            .or_else(|| self.schema.get("default"))
            .and_then(Value::as_str)
    }
}

/// One rule of the coverage phase.
struct Rule {
    /// Its suffix in constraint names, e.g. `enum` in `action_enum`.
    name: &'static str,
    /// The schema keyword its invalid values break.
    keyword: &'static str,
    /// The values it derives for a property (none when it does not apply).
    values: fn(&Property) -> Vec<Candidate>,
}

/// The rules, in the order their values are sent and deduplicated. See the module's
/// documentation.
const RULES: [Rule; 7] = [
    Rule { name: "required", keyword: "required", values: required },
    Rule { name: "type", keyword: "type", values: other_types },
    Rule { name: "enum", keyword: "enum", values: enum_values },
    Rule { name: "pattern", keyword: "pattern", values: pattern_values },
    Rule { name: "min_length", keyword: "minLength", values: min_length },
    Rule { name: "max_length", keyword: "maxLength", values: max_length },
    Rule { name: "length", keyword: "maxLength", values: ladder },
];

/// A required member or header missing. A path parameter cannot be left out of its path: its
/// empty value is `min_length`'s.
fn required(property: &Property) -> Vec<Candidate> {
    if !property.required || property.part == RequestPart::PathParameters {
        return Vec::new();
    }
    vec![Candidate { value: None, why: "missing".to_owned(), long: None, named: false }]
}

/// A body member, or the body, of every JSON type its schema does not allow. Headers and path
/// parameters are strings on the wire, so they have no other type to send.
fn other_types(property: &Property) -> Vec<Candidate> {
    let allowed = types(property.schema);
    if property.part != RequestPart::Body || allowed.is_empty() {
        return Vec::new();
    }
    let samples = [
        ("null", Value::Null),
        ("boolean", json!(true)),
        ("integer", json!(7)),
        ("number", json!(1.5)),
        ("string", json!("Retry")),
        ("array", json!([])),
        ("object", json!({})),
    ];
    let allows = |t: &str| allowed.iter().any(|a| a == t || (a == "number" && t == "integer"));
    samples.into_iter().filter(|(t, _)| !allows(t)).map(|(t, v)| Candidate::new(v, format!("of type {t}"))).collect()
}

/// Each `enum` value, and the values closest to each string one.
fn enum_values(property: &Property) -> Vec<Candidate> {
    let Some(values) = property.schema.get("enum").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for value in values {
        out.push(Candidate::new(value.clone(), "an accepted spelling").named());
        if let Some(text) = value.as_str() {
            out.extend(near_misses(text, property.part));
        }
    }
    out
}

/// The example value (the template's literal) and the values closest to it, for a `pattern`.
fn pattern_values(property: &Property) -> Vec<Candidate> {
    let (Some(_), Some(example)) = (property.schema.get("pattern"), property.example()) else {
        return Vec::new();
    };
    let mut out = near_misses(example, property.part);
    // One character dropped at the start, the middle and the end.
    let chars: Vec<char> = example.chars().collect();
    for at in [0, chars.len() / 2, chars.len().saturating_sub(1)] {
        if at < chars.len() {
            let dropped: String = chars.iter().enumerate().filter(|(i, _)| *i != at).map(|(_, c)| c).collect();
            out.push(Candidate::text(dropped, format!("character {} dropped", at + 1)));
        }
    }
    out
}

/// `minLength`: at the limit, one under it, and empty.
fn min_length(property: &Property) -> Vec<Candidate> {
    let Some(min) = property.number("minLength").filter(|_| property.is_string()) else {
        return Vec::new();
    };
    let min = usize::try_from(min).unwrap_or(usize::MAX).min(LADDER[LADDER.len() - 1]);
    let mut out = vec![Candidate::of_length(min, format!("{min} characters, the minLength")).named()];
    if min > 0 {
        out.push(Candidate::of_length(min - 1, format!("{} characters, one under the minLength", min - 1)));
        out.push(Candidate::of_length(0, "empty"));
    }
    out
}

/// `maxLength`: at the limit and one over it.
fn max_length(property: &Property) -> Vec<Candidate> {
    let Some(max) = property.number("maxLength").filter(|max| property.is_string() && *max < LONGEST_OVER_LIMIT) else {
        return Vec::new();
    };
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    vec![
        Candidate::of_length(max, format!("{max} characters, the maxLength")).named(),
        Candidate::of_length(max + 1, format!("{} characters, one over the maxLength", max + 1)),
    ]
}

/// A string with no upper limit: empty (when allowed) and a ladder of long lengths. Not for a
/// credential (any other value is a wrong credential, which says nothing of its length), nor for
/// a value the schema constrains otherwise (`enum`, `pattern`).
fn ladder(property: &Property) -> Vec<Candidate> {
    let constrained =
        ["enum", "pattern", "maxLength", "const", "format"].iter().any(|k| property.schema.get(k).is_some());
    if !property.is_string() || constrained || property.credential {
        return Vec::new();
    }
    let shortest = usize::try_from(property.number("minLength").unwrap_or(0)).unwrap_or(0);
    let mut out = Vec::new();
    if shortest == 0 {
        out.push(Candidate::of_length(0, "empty"));
    }
    // A URL over 8 KiB is refused by most servers with 414, a status the API documents nowhere:
    // a path parameter climbs the ladder only that far.
    let fits = |length: &usize| property.part != RequestPart::PathParameters || *length < SIZE_MAY_BE_REFUSED;
    for length in LADDER.into_iter().filter(|l| *l >= shortest).filter(fits) {
        out.push(Candidate { long: Some(shortest), ..Candidate::of_length(length, format!("{length} characters")) });
    }
    out
}

/// The values closest to `text`: other cases, whitespace of each kind around and inside it,
/// look-alike letters, empty, a prefix and an extension. Header values are never padded with a
/// space or tab (HTTP strips them from the ends of a field) nor hold a line break (which cannot
/// be sent in one).
fn near_misses(text: &str, part: RequestPart) -> Vec<Candidate> {
    let mut out = vec![
        Candidate::text(text.to_lowercase(), "lower case"),
        Candidate::text(text.to_uppercase(), "upper case"),
        Candidate::text(swap_case(text), "case swapped"),
    ];
    let header = part == RequestPart::Headers;
    for (space, name) in [(" ", "space"), ("\t", "tab"), ("\n", "newline"), ("\u{a0}", "no-break space")] {
        let at_ends_stripped = header && (space == " " || space == "\t");
        if header && space == "\n" {
            continue;
        }
        if !at_ends_stripped {
            out.push(Candidate::text(format!("{space}{text}"), format!("a leading {name}")));
            out.push(Candidate::text(format!("{text}{space}"), format!("a trailing {name}")));
            out.push(Candidate::text(format!("{space}{text}{space}"), format!("padded with a {name}")));
        }
        let middle = text.char_indices().nth(text.chars().count() / 2).map_or(text.len(), |(i, _)| i);
        if middle > 0 && middle < text.len() {
            out.push(Candidate::text(
                format!("{}{space}{}", &text[..middle], &text[middle..]),
                format!("a {name} inside"),
            ));
        }
    }
    if let Some(alike) = look_alike(text) {
        out.push(Candidate::text(alike, "a look-alike letter (Cyrillic)"));
    }
    out.push(Candidate::text(String::new(), "empty"));
    let mut prefix = text.to_owned();
    if prefix.pop().is_some() && !prefix.is_empty() {
        out.push(Candidate::text(prefix, "its last character dropped"));
    }
    if let Some(last) = text.chars().last() {
        out.push(Candidate::text(format!("{text}{last}"), "its last character doubled"));
    }
    out
}

fn swap_case(text: &str) -> String {
    text.chars()
        .map(
            |c| {
                if c.is_uppercase() {
                    c.to_lowercase().next().unwrap_or(c)
                } else {
                    c.to_uppercase().next().unwrap_or(c)
                }
            },
        )
        .collect()
}

/// `text` with its first Latin letter that has a Cyrillic twin replaced by it.
fn look_alike(text: &str) -> Option<String> {
    const TWINS: [(char, char); 12] = [
        ('a', 'а'),
        ('c', 'с'),
        ('e', 'е'),
        ('o', 'о'),
        ('p', 'р'),
        ('x', 'х'),
        ('y', 'у'),
        ('A', 'А'),
        ('E', 'Е'),
        ('O', 'О'),
        ('P', 'Р'),
        ('T', 'Т'),
    ];
    let (at, twin) =
        text.char_indices().find_map(|(i, c)| TWINS.iter().find(|(l, _)| *l == c).map(|(_, t)| (i, *t)))?;
    let mut out = text.to_owned();
    let len = out[at..].chars().next().map_or(0, char::len_utf8);
    out.replace_range(at..at + len, &twin.to_string());
    Some(out)
}

/// A template value is a literal when it uses no variable.
fn literal(value: &Value) -> Option<&Value> {
    let uses_variable = |v: &Value| v.as_str().is_some_and(|s| s.contains("${"));
    (!uses_variable(value)).then_some(value)
}

/// A part of a request: its schema, and the template's values for it.
type Part<'a> = (RequestPart, &'a CompiledSchema, Option<&'a serde_json::Map<String, Value>>);

/// The probes of one operation, numbered from 0 per constraint.
fn operation_probes(op: &Operation) -> Vec<Probe> {
    let template = &op.manifest.request.template;
    let mut out = Vec::new();
    let mut parts: Vec<Part> = Vec::new();
    let body_template = template.body.as_ref().and_then(Value::as_object);
    if let Some(body) = op.request_body() {
        parts.push((RequestPart::Body, body, body_template));
    }
    parts.push((RequestPart::Headers, op.request_headers(), Some(&template.headers)));
    parts.push((RequestPart::PathParameters, op.path_parameters(), Some(&template.path_parameters)));
    for (part, schema, template) in parts {
        let required = schema.required_names();
        if part == RequestPart::Body {
            out.extend(body_probes(op, schema));
        }
        for name in schema.property_names() {
            let Some(sub) = schema.property_schema(name) else { continue };
            let template_value =
                template.and_then(|t| t.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v));
            let property = Property {
                part,
                name,
                schema: &sub,
                literal: template_value.and_then(literal),
                required: required.contains(&name),
                credential: part == RequestPart::Headers && op.is_credential_header(name),
            };
            out.extend(property_probes(op, &property, template_value.is_some()));
        }
    }
    out
}

/// The whole body of every other JSON type.
fn body_probes(op: &Operation, schema: &CompiledSchema) -> Vec<Probe> {
    let property = Property {
        part: RequestPart::Body,
        name: "body",
        schema: &schema.raw,
        literal: None,
        required: false,
        credential: false,
    };
    let constraint = format!("{}::body_type", op.manifest.name);
    other_types(&property)
        .into_iter()
        .filter_map(|c| c.value.map(|v| (v, c.why)))
        .filter(|(v, _)| !schema.is_valid(v))
        .enumerate()
        .map(|(number, (value, why))| Probe {
            op: op.id,
            constraint: constraint.clone(),
            number,
            part: RequestPart::Body,
            property: None,
            breaks: Some("type"),
            answer: Answer::Rejected,
            description: format!("body: {} ({why})", preview_value(&value)),
            change: Change::Body(value),
        })
        .collect()
}

/// The probes of one property: every rule's values, deduplicated, each judged by the property's
/// schema.
fn property_probes(op: &Operation, property: &Property, in_template: bool) -> Vec<Probe> {
    // Compiled as the contract's schemas are; a sub-schema that does not compile alone is
    // judged by nothing here, so it gets no probes.
    let Ok(compiled) = CompiledSchema::compile(property.name, property.schema.clone()) else {
        return Vec::new();
    };
    let mut seen: BTreeSet<String> = BTreeSet::new();
    if let Some(literal) = property.literal {
        seen.insert(literal.to_string());
    }
    let mut out = Vec::new();
    for rule in &RULES {
        let constraint = format!("{}::{}_{}", op.manifest.name, snake(property.name), rule.name);
        let mut number = 0;
        for candidate in (rule.values)(property) {
            let key = candidate.value.as_ref().map_or_else(|| "missing".to_owned(), Value::to_string);
            if !seen.insert(key) || !sendable(property.part, candidate.value.as_ref()) {
                continue;
            }
            let valid = match &candidate.value {
                None => !property.required,
                Some(value) => compiled.is_valid(value),
            };
            // Any credential but the run's is a wrong one, whatever its schema says: only the
            // values its schema rejects say something.
            if valid && property.credential {
                continue;
            }
            let length = candidate.value.as_ref().and_then(Value::as_str).map_or(0, |s| s.chars().count());
            let answer = answer(property, (valid, candidate.named), in_template, length);
            let breaks = (!valid).then_some(rule.keyword);
            let change = match (&candidate.value, candidate.long) {
                (None, _) => Change::Remove,
                (Some(_), Some(shortest)) if valid => Change::Long { length, shortest },
                (Some(value), _) => Change::Set(value.clone()),
            };
            let description = match &candidate.value {
                None => format!("{}: removed ({})", property.name, verdict(breaks)),
                Some(Value::String(s)) if s.len() > 24 && s.bytes().all(|b| b == b'a') => {
                    format!("{}: {} ({})", property.name, candidate.why, verdict(breaks))
                }
                Some(value) => {
                    format!("{}: {}, {} ({})", property.name, preview_value(value), candidate.why, verdict(breaks))
                }
            };
            out.push(Probe {
                op: op.id,
                constraint: constraint.clone(),
                number,
                part: property.part,
                property: Some(property.name.to_owned()),
                breaks,
                answer,
                change,
                description,
            });
            number += 1;
        }
    }
    out
}

/// What a conforming server answers a value of `property`: `valid` by its schema, and `named`
/// by it (see [`Candidate::named`]).
fn answer(property: &Property, (valid, named): (bool, bool), in_template: bool, length: usize) -> Answer {
    let sized = property.part != RequestPart::Body && length >= SIZE_MAY_BE_REFUSED;
    match (valid, property.credential) {
        (false, true) => Answer::CredentialsRejected,
        _ if sized => Answer::SizeMayBeRefused,
        (false, false) => Answer::Rejected,
        // Another project or engine than the run's.
        (true, _) if property.part == RequestPart::PathParameters => Answer::NamesAnotherResource,
        // A value the schema names, where the template sends one: it must be accepted.
        (true, _) if named && in_template => Answer::Accepted,
        // An optional header the template does not send (its value may be refused: another
        // enterprise project), or a value the schema merely does not forbid (an empty Accept, a
        // charset of `UTF-88`, which the pattern's open tail allows).
        (true, _) => Answer::AcceptedOrRefusedForItsValue,
    }
}

/// Whether the value can be sent where it goes: a header value holds no control character
/// other than tab (hyper refuses to send one).
fn sendable(part: RequestPart, value: Option<&Value>) -> bool {
    match (part, value) {
        (RequestPart::Headers, Some(Value::String(s))) => !s.chars().any(|c| c.is_control() && c != '\t'),
        (RequestPart::Headers, Some(_)) => false,
        _ => true,
    }
}

/// Whether a value is valid, or the keyword it breaks, in words.
pub(crate) fn verdict(breaks: Option<&str>) -> String {
    breaks.map_or_else(|| "valid".to_owned(), |keyword| format!("breaks {keyword}"))
}

fn preview_value(value: &Value) -> String {
    match value {
        Value::String(s) => preview(s),
        other => other.to_string(),
    }
}

/// The probes of every operation of the contract, default operation first. Of each operation,
/// the valid values go last: against an operation that acts, each accepted one starts a job,
/// and the invalid values before them are tests only while the engine is retryable.
pub(crate) fn probes(contract: &Contract) -> Vec<Probe> {
    contract
        .operations
        .iter()
        .flat_map(|op| {
            let mut probes = operation_probes(op);
            probes.sort_by_key(|p| p.breaks.is_none());
            probes
        })
        .collect()
}

/// The number of constraints `probes` test.
pub(crate) fn constraints<'a>(probes: impl IntoIterator<Item = &'a Probe>) -> usize {
    probes.into_iter().map(|p| p.constraint.as_str()).collect::<BTreeSet<_>>().len()
}

/// The request of `probe`, from the base of its operation; a [`Change::Long`] string is
/// `length` characters long (its own length unless shrinking shortened it).
pub(super) fn apply(base: &Base, probe: &Probe, length: usize) -> Mutated {
    let property = probe.property.as_deref().unwrap_or_default();
    let value = |value: &Value| match (&probe.change, value) {
        (Change::Long { .. }, _) => Value::String("a".repeat(length)),
        (_, value) => value.clone(),
    };
    let description = match probe.change {
        Change::Long { .. } => format!("{property}: {length} characters ({})", verdict(probe.breaks)),
        _ => probe.description.clone(),
    };
    let set = match &probe.change {
        Change::Set(v) => Some(value(v)),
        Change::Long { .. } => Some(value(&Value::Null)),
        Change::Remove => None,
        Change::Body(body) => {
            let mut mutated = with_body(base, to_json(body, None), description);
            mutated.draft.json = Some(std::sync::Arc::new(body.clone()));
            return mutated;
        }
    };
    match (probe.part, set) {
        (RequestPart::Body, set) => with_property(base, property, set, description),
        (RequestPart::Headers, Some(Value::String(text))) => {
            let mut mutated = set_header(base, property, text);
            mutated.description = description;
            mutated
        }
        (RequestPart::Headers, _) => {
            let mut draft = base.draft.clone();
            draft.remove_header(property);
            Mutated { draft, description }
        }
        (_, set) => {
            let mut draft = base.draft.clone();
            match set {
                Some(v) => {
                    draft.path.insert(property.to_owned(), v);
                }
                None => {
                    draft.path.remove(property);
                }
            }
            Mutated { draft, description }
        }
    }
}

/// The value tree of a probe: its one request, except that a long string shrinks by a binary
/// search on its length (down to the shortest the schema allows, so the value stays valid and
/// the expectation right).
#[derive(Debug)]
pub(super) struct ProbeTree {
    base: Arc<Base>,
    probe: Probe,
    length: Option<BinarySearch>,
}

impl ProbeTree {
    pub(super) fn new(base: Arc<Base>, probe: Probe) -> ProbeTree {
        let length = match probe.change {
            Change::Long { length, shortest } => Some(BinarySearch::new_above(shortest, length)),
            _ => None,
        };
        ProbeTree { base, probe, length }
    }
}

impl ValueTree for ProbeTree {
    type Value = Mutated;

    fn current(&self) -> Mutated {
        apply(&self.base, &self.probe, self.length.as_ref().map_or(0, ValueTree::current))
    }

    fn simplify(&mut self) -> bool {
        self.length.as_mut().is_some_and(ValueTree::simplify)
    }

    fn complicate(&mut self) -> bool {
        self.length.as_mut().is_some_and(ValueTree::complicate)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::files::{FileSource, Kind};

    fn embedded() -> Contract {
        Contract::load(&FileSource::Embedded).unwrap()
    }

    /// The values come from the schemas: edit the enum and the limits, and the probes follow.
    #[test]
    fn probes_follow_the_schemas() {
        let dir = tempfile::tempdir().unwrap();
        for file in FileSource::Embedded.read(Kind::Schemas).unwrap() {
            let text = match file.name.as_str() {
                "request-body.schema.json" => file.text.replace(r#"["Retry"]"#, r#"["Start", "Stop"]"#),
                "path-parameters.schema.json" => file.text.replace(r#""maxLength": 64"#, r#""maxLength": 10"#),
                _ => file.text.clone(),
            };
            std::fs::write(dir.path().join(&file.name), text).unwrap();
        }
        let contract = Contract::load(&FileSource::Dir(dir.path().into())).unwrap();
        let probes = probes(&contract);
        let values = |constraint: &str| -> Vec<Value> {
            probes
                .iter()
                .filter(|p| p.constraint == constraint)
                .filter_map(|p| match &p.change {
                    Change::Set(v) => Some(v.clone()),
                    _ => None,
                })
                .collect()
        };
        let action = values("retry::action_enum");
        for expected in ["Start", "Stop", "\tStart", "Stop\u{a0}", "start", "STOP", "Sto", "Startt"] {
            assert!(action.contains(&json!(expected)), "{expected:?} not in {action:?}");
        }
        assert!(!action.iter().any(|v| v.as_str().is_some_and(|s| s.contains("Retry"))), "{action:?}");
        let mut lengths: Vec<usize> =
            values("retry::project_id_max_length").iter().filter_map(|v| v.as_str().map(str::len)).collect();
        lengths.sort_unstable();
        assert_eq!(lengths, [10, 11]);
    }

    #[test]
    fn every_rule_gives_rise_to_probes_of_the_embedded_contract() {
        let probes = probes(&embedded());
        for rule in &RULES {
            let suffix = format!("_{}", rule.name);
            assert!(probes.iter().any(|p| p.constraint.ends_with(&suffix)), "no probe of the rule {}", rule.name);
        }
        assert!(probes.iter().any(|p| p.constraint == "retry::body_type"));
        // Every operation of the contract is covered.
        for op in embedded().operation_names() {
            assert!(probes.iter().any(|p| p.constraint.starts_with(&format!("{op}::"))), "{op} has no probes");
        }
    }

    /// One request per distinct value of a property, and never the template's own literal.
    #[test]
    fn probes_are_deduplicated() {
        let contract = embedded();
        let mut seen: BTreeMap<(usize, String, String), String> = BTreeMap::new();
        for probe in probes(&contract) {
            let key = format!("{:?}", probe.change);
            let property = format!("{:?}/{:?}", probe.part, probe.property);
            if let Some(before) = seen.insert((probe.op.0, property, key), probe.name()) {
                panic!("{} repeats the value of {before}", probe.name());
            }
            let template = &contract.operation(probe.op).manifest.request.template;
            if let (RequestPart::Headers, Some(name), Change::Set(value)) = (probe.part, &probe.property, &probe.change)
            {
                assert_ne!(template.headers.get(name), Some(value), "{} sends the template's value", probe.name());
            }
        }
    }

    #[test]
    fn names_are_numbered_per_constraint_and_unique() {
        let probes = probes(&embedded());
        let names: BTreeSet<String> = probes.iter().map(Probe::name).collect();
        assert_eq!(names.len(), probes.len());
        assert!(names.contains("generated::coverage::retry::action_enum::0000"), "{names:?}");
        let mut per: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for p in &probes {
            per.entry(&p.constraint).or_default().push(p.number);
        }
        for (constraint, mut numbers) in per {
            numbers.sort_unstable();
            assert_eq!(numbers, (0..numbers.len()).collect::<Vec<_>>(), "{constraint}");
        }
    }

    #[test]
    fn near_misses_and_look_alikes() {
        assert_eq!(look_alike("Retry").as_deref(), Some("Rеtry"));
        assert_eq!(look_alike("123"), None);
        let header: Vec<String> = near_misses("ab", RequestPart::Headers)
            .into_iter()
            .filter_map(|c| c.value.and_then(|v| v.as_str().map(str::to_owned)))
            .collect();
        // HTTP strips spaces and tabs at the ends of a header; a line break cannot be sent.
        assert!(!header.iter().any(|v| v.starts_with([' ', '\t']) || v.ends_with([' ', '\t']) || v.contains('\n')));
        assert!(header.contains(&"a\u{a0}b".to_owned()) && header.contains(&"\u{a0}ab".to_owned()), "{header:?}");
        let body: Vec<String> = near_misses("ab", RequestPart::Body)
            .into_iter()
            .filter_map(|c| c.value.and_then(|v| v.as_str().map(str::to_owned)))
            .collect();
        for expected in ["\tab", "ab\t", " ab ", "\nab", "a\tb", "AB", "", "a", "abb"] {
            assert!(body.contains(&expected.to_owned()), "{expected:?} not in {body:?}");
        }
    }
}
