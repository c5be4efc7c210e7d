//! The `${...}` syntax of case strings: `${name}` for one of [`KNOWN`], `${var.NAME}` for a
//! user variable (`run --var NAME=VALUE`), `${repeat(TEXT,N)}` for TEXT written N times (so a 10 KB value needs no 10 KB literal), and `$${` for a literal
//! `${`. Case files are checked
//! with [`check`] when loaded; values are filled in with [`expand`] when the plan is built.

use std::collections::BTreeMap;

use serde_json::Value;

/// The variables a case may use.
pub const KNOWN: [&str; 8] = [
    "project_id",
    "engine_id",
    "token",
    "enterprise_project_id",
    "unknown_engine_id",
    "job_id",
    "not_retryable_engine_id",
    "foreign_engine_id",
];

/// The largest string one `${repeat(...)}` may produce: big enough for any header or body a
/// gateway accepts (12 MB), small enough that a typo cannot exhaust memory.
const MAX_REPEAT_BYTES: usize = 16 * 1024 * 1024;

/// The prefix of user variables: `${var.tenant}` is `--var tenant=VALUE`. A namespace of their
/// own, so a typo in a built-in name (`${engine_idd}`) is still an error when the file loads.
pub const USER_PREFIX: &str = "var.";

/// Whether `name` may name a user variable (`--var NAME=VALUE`): a letter or `_`, then letters,
/// digits, `_` or `-`.
pub fn is_user_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Whether `name` (as written inside `${...}`) is a variable a case may use.
fn is_variable(name: &str) -> bool {
    KNOWN.contains(&name) || name.strip_prefix(USER_PREFIX).is_some_and(is_user_name)
}

/// Values of the variables of one run; a variable may be unset.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    values: BTreeMap<String, String>,
}

impl Variables {
    /// Sets `name`, which must be one of [`KNOWN`] or `var.NAME`.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        assert!(is_variable(name), "unknown variable {name}");
        self.values.insert(name.to_owned(), value.into());
    }

    /// The user variables set (`var.NAME`), by name without the prefix.
    pub fn user(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().filter_map(|(k, v)| Some((k.strip_prefix(USER_PREFIX)?, v.as_str())))
    }

    /// Unsets `name`.
    pub fn unset(&mut self, name: &str) {
        self.values.remove(name);
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Literal(&'a str),
    Variable(&'a str),
    Repeat { text: &'a str, count: usize },
}

fn parse(s: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        if rest[..start].ends_with('$') {
            // `$${` is a literal `${`.
            pieces.push(Piece::Literal(&rest[..start]));
            pieces.push(Piece::Literal("{"));
            rest = &rest[start + 2..];
            continue;
        }
        if start > 0 {
            pieces.push(Piece::Literal(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or_else(|| format!("unclosed `${{` in {s:?}"))?;
        pieces.push(parse_reference(&after[..end])?);
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal(rest));
    }
    Ok(pieces)
}

fn parse_reference(inner: &str) -> Result<Piece<'_>, String> {
    if let Some(args) = inner.strip_prefix("repeat(").and_then(|a| a.strip_suffix(')')) {
        let (text, count) = args.rsplit_once(',').ok_or_else(|| format!("`${{{inner}}}`: repeat takes (TEXT,N)"))?;
        let count: usize = count.trim().parse().map_err(|_| format!("`${{{inner}}}`: N must be a whole number"))?;
        if text.len().saturating_mul(count) > MAX_REPEAT_BYTES {
            return Err(format!("`${{{inner}}}` would exceed {MAX_REPEAT_BYTES} bytes"));
        }
        return Ok(Piece::Repeat { text, count });
    }
    if is_variable(inner) {
        Ok(Piece::Variable(inner))
    } else {
        Err(format!(
            "unknown variable `${{{inner}}}` (known: {}; or a user variable `${{var.NAME}}`, set with --var NAME=VALUE)",
            KNOWN.join(", ")
        ))
    }
}

/// The most bytes the strings of one case may expand to through `${repeat(...)}`, all together:
/// one gateway-sized body (12 MB) fits, a hundred 16 MB repeats in one case do not.
pub const MAX_EXPANDED_BYTES: usize = MAX_REPEAT_BYTES;

/// What the strings inside `value` expand to, at most, in bytes (a variable counts as nothing;
/// a malformed string as its own length): the load-time bound on what a case builds.
pub(crate) fn expanded_size(value: &Value) -> usize {
    match value {
        Value::String(s) => parse(s).map_or(s.len(), |pieces| {
            pieces.iter().fold(0usize, |sum, piece| {
                sum.saturating_add(match piece {
                    Piece::Literal(text) => text.len(),
                    Piece::Variable(_) => 0,
                    Piece::Repeat { text, count } => text.len().saturating_mul(*count),
                })
            })
        }),
        Value::Array(items) => items.iter().fold(0, |sum, item| sum.saturating_add(expanded_size(item))),
        Value::Object(map) => {
            map.iter().fold(0, |sum, (key, item)| sum.saturating_add(key.len()).saturating_add(expanded_size(item)))
        }
        _ => 0,
    }
}

/// Checks every string inside `value`; returns (pointer, message) for each malformed one.
pub(crate) fn check(value: &Value, pointer: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) => {
            if let Err(message) = parse(s) {
                out.push((pointer.to_owned(), message));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check(item, &format!("{pointer}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                check(item, &format!("{pointer}/{}", escape_pointer(key)), out);
            }
        }
        _ => {}
    }
}

/// A variable that a string needs and the run does not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unset(pub String);

/// Fills in the variables of `s`. Strings were checked when loaded, so a parse error here
/// is left as the literal text.
pub fn expand(s: &str, vars: &Variables) -> Result<String, Unset> {
    let Ok(pieces) = parse(s) else {
        return Ok(s.to_owned());
    };
    let mut out = String::with_capacity(s.len());
    for piece in pieces {
        match piece {
            Piece::Literal(text) => out.push_str(text),
            Piece::Repeat { text, count } => out.push_str(&text.repeat(count)),
            Piece::Variable(name) => out.push_str(vars.get(name).ok_or_else(|| Unset(name.to_owned()))?),
        }
    }
    Ok(out)
}

/// [`expand`] applied to every string inside a JSON value.
pub fn expand_value(value: &Value, vars: &Variables) -> Result<Value, Unset> {
    Ok(match value {
        Value::String(s) => Value::String(expand(s, vars)?),
        Value::Array(items) => Value::Array(items.iter().map(|v| expand_value(v, vars)).collect::<Result<_, _>>()?),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| Ok((k.clone(), expand_value(v, vars)?))).collect::<Result<_, _>>()?)
        }
        other => other.clone(),
    })
}

/// Escapes a key for use in a JSON pointer (RFC 6901).
pub(crate) fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Variables {
        let mut v = Variables::default();
        v.set("engine_id", "e1");
        v
    }

    #[test]
    fn expands_variables_and_repeats() {
        assert_eq!(expand("a${engine_id}b", &vars()).unwrap(), "ae1b");
        assert_eq!(expand("${repeat(ab,3)}!", &vars()).unwrap(), "ababab!");
        assert_eq!(expand("$ and {} stay", &vars()).unwrap(), "$ and {} stay");
        assert_eq!(expand("$${engine_id} is literal", &vars()).unwrap(), "${engine_id} is literal");
        assert_eq!(expand("${token}", &vars()), Err(Unset("token".to_owned())));
    }

    #[test]
    fn user_variables_have_their_own_namespace() {
        let mut v = vars();
        v.set("var.tenant", "t1");
        assert_eq!(expand("${var.tenant}/${engine_id}", &v).unwrap(), "t1/e1");
        assert_eq!(expand("${var.other}", &v), Err(Unset("var.other".to_owned())));
        assert_eq!(v.user().collect::<Vec<_>>(), [("tenant", "t1")]);
        let mut out = Vec::new();
        check(&serde_json::json!(["${var.ok_name-2}", "${var.}", "${var.9x}", "${tenant}"]), "", &mut out);
        let pointers: Vec<_> = out.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(pointers, ["/1", "/2", "/3"], "{out:?}");
    }

    #[test]
    fn check_reports_pointer_of_bad_strings() {
        let mut out = Vec::new();
        check(&serde_json::json!({"a": ["ok", "${nope}"], "b/c": "${repeat(x,many)}", "d": "${open"}), "", &mut out);
        let pointers: Vec<_> = out.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(pointers, ["/a/1", "/b~1c", "/d"]);
        assert!(out[0].1.contains("unknown variable `${nope}`"));
    }

    #[test]
    fn repeat_is_bounded() {
        assert!(parse("${repeat(x,99999999999)}").is_err());
    }
}
