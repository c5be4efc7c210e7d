//! The regression store: a minimal failing request written as a hand-written case file, valid
//! against `case.schema.json`, so that it runs on every later run. Values equal to a run
//! variable are written as the variable (the token is never written), the body as raw bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::case::vars::{KNOWN, Variables};
use crate::contract::Contract;
use crate::plan::PlannedCase;

/// `value` with every run variable's value replaced by `${name}`, longest first; the token is
/// always replaced, even inside other text.
fn templated(value: &str, variables: &Variables) -> String {
    let mut pairs: Vec<(&str, &str)> = KNOWN.iter().filter_map(|k| variables.get(k).map(|v| (*k, v))).collect();
    pairs.retain(|(_, v)| !v.is_empty());
    pairs.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    // Values are matched before `${` is escaped: a token holding `${` must still be found.
    if let Some((name, _)) = pairs.iter().find(|(_, v)| *v == value) {
        return format!("${{{name}}}");
    }
    match pairs.iter().find(|(name, _)| *name == "token") {
        Some((_, token)) => {
            value.split(token).map(|part| part.replace("${", "$${")).collect::<Vec<_>>().join("${token}")
        }
        None => value.replace("${", "$${"),
    }
}

/// Writes `case` (a shrunk generated case) to `dir` as a case file; returns its path.
pub fn save_failure(
    dir: &Path,
    case: &PlannedCase,
    contract: &Contract,
    variables: &Variables,
) -> std::io::Result<PathBuf> {
    let template = &contract.operation(case.operation).manifest.request.template;
    let mut headers = Map::new();
    for (name, value) in &case.request.headers {
        let unchanged = template
            .headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case(name) && v.as_str().is_some_and(|t| templated(value, variables) == t));
        if !unchanged {
            headers.insert(name.clone(), Value::String(templated(value, variables)));
        }
    }
    let omit: Vec<&String> = template.headers.keys().filter(|n| case.request.header(n).is_none()).collect();
    let path: BTreeMap<String, String> = case
        .path_parameters
        .iter()
        .map(|(k, v)| (k.clone(), templated(v.as_str().unwrap_or_default(), variables)))
        .collect();
    let raw_body = match std::str::from_utf8(&case.request.body) {
        Ok(text) => json!({ "text": templated(text, variables) }),
        Err(_) => {
            json!({ "base64": base64::engine::general_purpose::STANDARD.encode(&case.request.body) })
        }
    };
    let name = case.name.replace("::", "_").replace("generated_", "regression_");
    let mut file = json!({
        "$schema": "../schemas/case.schema.json",
        "description": format!("Saved by --save-failures from {}.", case.name),
        "cases": [{
            // The file names the case (`regression_…_0017`), so a run names it
            // `regression_…_0017::request`, not the file's name twice.
            "name": "request",
            "description": case.description,
            "request": {
                "method": case.request.method,
                "path_parameters": path,
                "headers": headers,
                "omit_headers": omit,
                "raw_body": raw_body,
            },
            "expect": { "status": case.expect.statuses },
        }],
    });
    // A case of another operation than the default one (the coverage phase covers them all)
    // names its operation: a file's cases call the default one otherwise.
    if case.operation != contract.default_operation().id {
        file["operation"] = json!(contract.operation(case.operation).manifest.name);
    }
    std::fs::create_dir_all(dir)?;
    let target = dir.join(format!("{name}.json"));
    std::fs::write(&target, serde_json::to_string_pretty(&file).unwrap_or_default() + "\n")?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::files::FileSource;
    use crate::generate::{GenConfig, Generated, Mode};
    use crate::plan::Filter;

    /// A saved case of another operation than the default (the coverage phase reaches the
    /// reads) names its operation, and loads back as a case of it.
    #[test]
    fn a_saved_case_of_a_read_calls_that_read() {
        let contract = Arc::new(Contract::load(&FileSource::Embedded).unwrap());
        let mut variables = Variables::default();
        for (k, v) in [("project_id", "p1"), ("engine_id", "e1"), ("token", "t"), ("job_id", "7")] {
            variables.set(k, v);
        }
        let config = GenConfig { count: 0, seed: 1, mode: Mode::Coverage, state_aware: false, strict_auth: false };
        let generated = Generated::new(&contract, "http://127.0.0.1:1", &variables, config).unwrap();
        let cases = crate::generate::generate(&generated, &Filter::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        for wanted in ["show_job", "retry"] {
            let case = cases.iter().find(|c| c.name.contains(&format!("::{wanted}::"))).unwrap();
            save_failure(dir.path(), case, &contract, &variables).unwrap();
        }
        let files = crate::case::load_cases(&FileSource::Dir(dir.path().into()), &contract).unwrap();
        let operations: Vec<&str> =
            files.iter().map(|f| contract.operation(f.operation).manifest.name.as_str()).collect();
        assert_eq!(operations.len(), 2);
        assert!(files.iter().all(|f| f.cases.len() == 1 && f.cases[0].name == "request"));
        assert!(
            files.iter().all(|f| f.stem.starts_with("regression_coverage_")),
            "{:?}",
            files.iter().map(|f| &f.stem).collect::<Vec<_>>()
        );
        assert!(operations.contains(&"show_job") && operations.contains(&"retry"), "{operations:?}");
    }

    #[test]
    fn the_token_is_written_as_the_variable_even_when_it_holds_a_dollar_brace() {
        let mut variables = Variables::default();
        variables.set("token", "tok${HOME}-0123456789");
        variables.set("engine_id", "e1");
        assert_eq!(templated("tok${HOME}-0123456789", &variables), "${token}");
        assert_eq!(templated("Bearer tok${HOME}-0123456789 ${x}", &variables), "Bearer ${token} $${x}");
        assert_eq!(templated("e1", &variables), "${engine_id}");
        assert_eq!(templated("e1/${y}", &variables), "e1/$${y}");
    }
}
