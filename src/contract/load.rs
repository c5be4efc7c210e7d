//! Loading the contract: read every file, parse, compile, and bind the manifest's names.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::{CompiledSchema, ContractError, Manifest, StateModel};
use crate::files::{FileSource, Kind, SourceFile};

/// Operation manifests are the files whose names end so.
pub(crate) const MANIFEST_SUFFIX: &str = ".operation.json";
/// The state model's file name (optional: without it, nothing is judged by state).
pub(crate) const STATE_MODEL_FILE: &str = "state-model.json";
/// The manifest schema's file name.
pub(crate) const MANIFEST_SCHEMA_FILE: &str = "manifest.schema.json";
/// The case-file schema's file name.
pub(crate) const CASE_SCHEMA_FILE: &str = "case.schema.json";

/// Which operation of the contract: an index into [`Contract::operations`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct OpId(pub usize);

/// One operation: its manifest and the request schemas it binds, compiled.
#[derive(Debug)]
pub struct Operation {
    /// Its position in the contract.
    pub id: OpId,
    /// The manifest.
    pub manifest: Manifest,
    path_parameters: Arc<CompiledSchema>,
    headers: Arc<CompiledSchema>,
    body: Option<Arc<CompiledSchema>>,
}

/// The loaded and compiled contract.
#[derive(Debug)]
pub struct Contract {
    /// The operations, the default one first, then by name.
    pub operations: Vec<Operation>,
    schemas: BTreeMap<String, Arc<CompiledSchema>>,
    /// How an engine's state is read, if the contract says.
    pub state_model: Option<StateModel>,
    /// Where it was loaded from.
    pub source: FileSource,
    /// FNV-1a hash of every file's name and text: identifies the contract in reports.
    pub hash: String,
}

impl Contract {
    /// Loads the contract from `source`: every schema compiled, every name a manifest uses bound.
    pub fn load(source: &FileSource) -> Result<Contract, ContractError> {
        let files = source.read(Kind::Schemas)?;
        let hash = hash_files(&files);
        let mut manifests = Vec::new();
        let mut state_file = None;
        let mut schemas = BTreeMap::new();
        for file in files {
            if file.name.ends_with(MANIFEST_SUFFIX) {
                manifests.push(file);
                continue;
            }
            if file.name == STATE_MODEL_FILE {
                state_file = Some(file);
                continue;
            }
            let raw = parse(&file)?;
            let schema = CompiledSchema::compile(&file.name, raw).map_err(|(pointer, message)| {
                ContractError::Compile { path: file.display.clone(), pointer, message }
            })?;
            schemas.insert(file.name, Arc::new(schema));
        }
        let missing = |name| ContractError::Missing { source_dir: source.to_string(), name };
        if manifests.is_empty() {
            return Err(missing("*.operation.json"));
        }
        if !schemas.contains_key(CASE_SCHEMA_FILE) {
            return Err(missing(CASE_SCHEMA_FILE));
        }
        let mut parsed = Vec::new();
        let mut problems = Vec::new();
        for file in &manifests {
            match check_manifest(file) {
                Ok(manifest) => parsed.push((manifest, file.display.clone())),
                Err(found) => problems.extend(found.into_iter().map(|(p, m)| (file.display.clone(), p, m))),
            }
        }
        problems.extend(routes(&parsed));
        if !problems.is_empty() {
            problems.truncate(MANIFEST_PROBLEMS_SHOWN);
            return Err(ContractError::Manifests { problems });
        }
        for (manifest, display) in &parsed {
            bindings(manifest, &schemas, display)?;
        }
        let defaults = parsed.iter().filter(|(m, _)| m.default).count();
        if defaults != 1 {
            let (_, path) = &parsed[0];
            return Err(ContractError::Invalid {
                path: path.clone(),
                message: format!("exactly one operation must be `\"default\": true`; {defaults} are"),
            });
        }
        parsed.sort_by(|(a, _), (b, _)| b.default.cmp(&a.default).then_with(|| a.name.cmp(&b.name)));
        if let Some(pair) = parsed.windows(2).find(|w| w[0].0.name == w[1].0.name) {
            return Err(ContractError::Invalid {
                path: pair[1].1.clone(),
                message: format!("operation name `{}` is used twice", pair[1].0.name),
            });
        }
        let operations = parsed
            .into_iter()
            .enumerate()
            .map(|(i, (manifest, _))| {
                let bound = |name: &str| schemas[name].clone();
                Operation {
                    id: OpId(i),
                    path_parameters: bound(&manifest.request.path_parameters),
                    headers: bound(&manifest.request.headers),
                    body: manifest.request.body.as_deref().map(bound),
                    manifest,
                }
            })
            .collect();
        let mut contract = Contract { operations, schemas, state_model: None, source: source.clone(), hash };
        if let Some(file) = state_file {
            let model: StateModel = from_text(&file)?;
            contract.check_state_model(&model, &file.display)?;
            contract.state_model = Some(model);
        }
        Ok(contract)
    }

    /// The operations the state model names exist and have the path parameters it names.
    fn check_state_model(&self, model: &StateModel, path: &str) -> Result<(), ContractError> {
        let invalid = |message: String| ContractError::Invalid { path: path.to_owned(), message };
        for (name, parameters) in [
            (&model.engine_operation, vec![&model.engine_path_parameter]),
            (&model.job_operation, vec![&model.engine_path_parameter, &model.job_path_parameter]),
        ] {
            let op = self
                .by_name(name)
                .ok_or_else(|| invalid(format!("names operation `{name}`, which is not in the contract")))?;
            let names = op.manifest.path_parameter_names();
            if let Some(p) = parameters.into_iter().find(|p| !names.contains(&p.as_str())) {
                return Err(invalid(format!("operation `{name}` has no path parameter `{p}`")));
            }
        }
        Ok(())
    }

    /// The operation case files call when they name none.
    pub fn default_operation(&self) -> &Operation {
        &self.operations[0]
    }

    /// The header that carries the token (`${token}`): the default operation's first credential
    /// header (empty when it names none).
    pub fn token_header(&self) -> &str {
        self.default_operation().manifest.request.credential_headers.first().map_or("", String::as_str)
    }

    /// An operation by id.
    pub fn operation(&self, id: OpId) -> &Operation {
        &self.operations[id.0]
    }

    /// An operation by name.
    pub fn by_name(&self, name: &str) -> Option<&Operation> {
        self.operations.iter().find(|op| op.manifest.name == name)
    }

    /// The operation names, in order.
    pub fn operation_names(&self) -> Vec<&str> {
        self.operations.iter().map(|op| op.manifest.name.as_str()).collect()
    }

    /// A schema by file name.
    pub fn schema(&self, name: &str) -> Option<&CompiledSchema> {
        self.schemas.get(name).map(Arc::as_ref)
    }

    /// The schema names, sorted.
    pub fn schema_names(&self) -> impl Iterator<Item = &str> {
        self.schemas.keys().map(String::as_str)
    }

    /// The case-file schema.
    pub fn case_schema(&self) -> &CompiledSchema {
        &self.schemas[CASE_SCHEMA_FILE]
    }
}

impl Operation {
    /// The request-body schema, if the operation takes a body.
    pub fn request_body(&self) -> Option<&CompiledSchema> {
        self.body.as_deref()
    }

    /// The request-headers schema.
    pub fn request_headers(&self) -> &CompiledSchema {
        &self.headers
    }

    /// The path-parameters schema.
    pub fn path_parameters(&self) -> &CompiledSchema {
        &self.path_parameters
    }

    /// The operation's short name.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// Builds the object the header schema validates: each header under the schema's own
    /// spelling of its name (header names are case-insensitive), the first value of a repeated one.
    pub fn headers_instance<'h>(&self, headers: impl IntoIterator<Item = (&'h str, &'h str)>) -> Value {
        let schema = self.request_headers();
        let mut object = serde_json::Map::new();
        for (name, value) in headers {
            let key = schema.property_names().find(|p| p.eq_ignore_ascii_case(name)).unwrap_or(name).to_owned();
            object.entry(key).or_insert_with(|| Value::String(value.to_owned()));
        }
        Value::Object(object)
    }

    /// Whether `name` is a credential header.
    pub fn is_credential_header(&self, name: &str) -> bool {
        self.manifest.request.credential_headers.iter().any(|h| h.eq_ignore_ascii_case(name))
    }
}

/// The most manifest problems reported at once.
const MANIFEST_PROBLEMS_SHOWN: usize = 100;

/// The manifest schema built into the binary, compiled once: the manifest format is the tool's,
/// so a contract folder's copy (which editors may use) cannot loosen it.
static MANIFEST_SCHEMA: std::sync::LazyLock<CompiledSchema> = std::sync::LazyLock::new(|| {
    let text = crate::files::embedded_schema(MANIFEST_SCHEMA_FILE).expect("schemas/manifest.schema.json is embedded");
    let raw = serde_json::from_str(text).expect("the embedded manifest schema is JSON");
    CompiledSchema::compile(MANIFEST_SCHEMA_FILE, raw).expect("the embedded manifest schema compiles")
});

/// A manifest, parsed, checked against [`MANIFEST_SCHEMA`] and then [`Manifest::problems`].
fn check_manifest(file: &SourceFile) -> Result<Manifest, Vec<(String, String)>> {
    let doc: Value = serde_json::from_str(&file.text).map_err(|e| {
        vec![(String::new(), format!("not valid JSON at line {}, column {}: {e}", e.line(), e.column()))]
    })?;
    // the validator keeps every violation it finds: bound what it is given first
    let limit = super::MAX_VALIDATED_VALUES;
    if super::count_values(&doc, limit) > limit {
        return Err(vec![(String::new(), format!("the manifest holds more than {limit} JSON values"))]);
    }
    let (violations, total) = MANIFEST_SCHEMA.violations_limited(&doc, MANIFEST_PROBLEMS_SHOWN);
    if !violations.is_empty() {
        let more = total - violations.len();
        let mut found: Vec<(String, String)> = violations.into_iter().map(|v| (v.pointer, v.message)).collect();
        if more > 0 {
            found.push((String::new(), format!("{more} more problems not shown")));
        }
        return Err(found);
    }
    let manifest: Manifest = serde_json::from_value(doc).map_err(|e| vec![(String::new(), e.to_string())])?;
    let found = manifest.problems();
    if found.is_empty() { Ok(manifest) } else { Err(found) }
}

/// The operations' paths as the mock's router would take them: two paths it cannot tell apart
/// (the same path twice, or parameters of different names at one place) are a problem here
/// rather than a panic when the mock starts.
fn routes(parsed: &[(Manifest, String)]) -> Vec<(String, String, String)> {
    let mut router = matchit::Router::new();
    let mut problems = Vec::new();
    for (i, (manifest, display)) in parsed.iter().enumerate() {
        if let Some((other, _)) = parsed[..i].iter().find(|(m, _)| m.path == manifest.path) {
            let message = format!(
                "operation `{}` has this path too: one path is one operation here (the mock routes by path)",
                other.name
            );
            problems.push((display.clone(), "/path".to_owned(), message));
        } else if let Err(e) = router.insert(manifest.path.as_str(), ()) {
            let message = format!("the path `{}` cannot be routed: {e}", manifest.path);
            problems.push((display.clone(), "/path".to_owned(), message));
        }
    }
    problems
}

/// Every schema name `manifest` uses exists.
fn bindings(
    manifest: &Manifest,
    schemas: &BTreeMap<String, Arc<CompiledSchema>>,
    path: &str,
) -> Result<(), ContractError> {
    let m = manifest;
    let mut names: Vec<(String, &str)> = vec![
        ("/request/path_parameters".into(), m.request.path_parameters.as_str()),
        ("/request/headers".into(), m.request.headers.as_str()),
    ];
    if let Some(body) = &m.request.body {
        names.push(("/request/body".into(), body));
    }
    for (i, r) in m.responses.iter().enumerate() {
        if let Some(body) = &r.body {
            names.push((format!("/responses/{i}/body"), body));
        }
    }
    if let Some(body) = &m.other_methods.body {
        names.push(("/other_methods/body".into(), body));
    }
    match names.into_iter().find(|(_, name)| !schemas.contains_key(*name)) {
        Some((pointer, name)) => {
            Err(ContractError::UnknownSchema { path: path.to_owned(), pointer, name: name.to_owned() })
        }
        None => Ok(()),
    }
}

fn from_text<T: serde::de::DeserializeOwned>(file: &SourceFile) -> Result<T, ContractError> {
    serde_json::from_str(&file.text).map_err(|e| ContractError::Manifest {
        path: file.display.clone(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

fn parse(file: &SourceFile) -> Result<Value, ContractError> {
    serde_json::from_str(&file.text).map_err(|source| ContractError::Syntax {
        path: file.display.clone(),
        line: source.line(),
        column: source.column(),
        source,
    })
}

fn hash_files(files: &[SourceFile]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in files.iter().flat_map(|f| f.name.bytes().chain([0]).chain(f.text.bytes()).chain([0])) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Violation;

    #[test]
    fn embedded_contract_loads_and_binds() {
        let c = Contract::load(&FileSource::Embedded).unwrap();
        assert_eq!(c.operation_names(), ["retry", "show_engine", "show_job"]);
        let retry = c.default_operation();
        assert_eq!(retry.manifest.path_parameter_names(), ["project_id", "engine_id"]);
        let body = retry.request_body().unwrap();
        assert!(body.is_valid(&serde_json::json!({"action": "Retry"})));
        assert!(!body.is_valid(&serde_json::json!({"action": "retry"})));
        let job = c.by_name("show_job").unwrap();
        assert_eq!(job.manifest.path_parameter_names(), ["project_id", "engine_id", "job_id"]);
        assert!(job.request_body().is_none() && job.manifest.is_safe() && !retry.manifest.is_safe());
        assert!(c.state_model.is_some());
    }

    #[test]
    fn strict_statuses_are_the_api_pages() {
        let c = Contract::load(&FileSource::Embedded).unwrap();
        let m = &c.default_operation().manifest;
        let strict: Vec<u16> = m.documented_for("PUT", true).map(|r| r.status).collect();
        assert_eq!(strict, [200, 400, 500]);
        let lax: Vec<u16> = m.documented_for("PUT", false).map(|r| r.status).collect();
        assert_eq!(lax, [200, 400, 500, 401, 403, 404, 413, 429]);
        let get: Vec<u16> = m.documented_for("GET", false).map(|r| r.status).collect();
        assert_eq!(get, [401, 403, 404, 413, 429, 405]);
    }

    #[test]
    fn header_names_match_case_insensitively() {
        let c = Contract::load(&FileSource::Embedded).unwrap();
        let c = c.default_operation();
        let instance =
            c.headers_instance([("x-auth-token", "t"), ("content-type", "application/json"), ("accept", "*/*")]);
        assert!(c.request_headers().is_valid(&instance), "{instance}");
        let bad = c.headers_instance([("x-auth-token", ""), ("content-type", "text/plain"), ("accept", "*/*")]);
        let v = c.request_headers().violations(&bad);
        let props: Vec<_> = v.iter().filter_map(Violation::property).collect();
        assert_eq!(props, ["X-Auth-Token", "Content-Type"], "{v:?}");
    }

    #[test]
    fn a_schema_that_does_not_compile_names_file_and_pointer() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in
            crate::files::FileSource::Embedded.read(Kind::Schemas).unwrap().iter().map(|f| (&f.name, &f.text))
        {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        std::fs::write(dir.path().join("success-body.schema.json"), r#"{"properties": {"id": {"type": "strin"}}}"#)
            .unwrap();
        let err = Contract::load(&FileSource::Dir(dir.path().into())).unwrap_err().to_string();
        assert!(err.contains("success-body.schema.json") && err.contains("/properties/id/type"), "{err}");
    }

    /// A copy of the embedded contract in a folder, with `edit` applied.
    fn edited(edit: impl FnOnce(&std::path::Path)) -> Result<Contract, ContractError> {
        let dir = tempfile::tempdir().unwrap();
        for file in FileSource::Embedded.read(Kind::Schemas).unwrap() {
            std::fs::write(dir.path().join(&file.name), &file.text).unwrap();
        }
        edit(dir.path());
        Contract::load(&FileSource::Dir(dir.path().into()))
    }

    #[test]
    fn operations_must_have_one_default_and_distinct_names() {
        let err = edited(|dir| {
            let path = dir.join("show-job.operation.json");
            let text = std::fs::read_to_string(&path).unwrap().replace("\"name\": \"show_job\"", "\"name\": \"retry\"");
            std::fs::write(path, text).unwrap();
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("operation name `retry` is used twice"), "{err}");
        let err = edited(|dir| {
            let path = dir.join("show-engine.operation.json");
            let text = std::fs::read_to_string(&path)
                .unwrap()
                .replace("\"name\": \"show_engine\",", "\"name\": \"show_engine\", \"default\": true,");
            std::fs::write(path, text).unwrap();
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("exactly one operation must be `\"default\": true`; 2 are"), "{err}");
    }

    #[test]
    fn the_state_model_must_name_operations_of_the_contract_and_is_optional() {
        let err = edited(|dir| {
            let path = dir.join(STATE_MODEL_FILE);
            let text = std::fs::read_to_string(&path).unwrap().replace("\"show_job\"", "\"show_jobs\"");
            std::fs::write(path, text).unwrap();
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("state-model.json") && err.contains("names operation `show_jobs`"), "{err}");
        let without = edited(|dir| std::fs::remove_file(dir.join(STATE_MODEL_FILE)).unwrap()).unwrap();
        assert!(without.state_model.is_none());
    }
}
