//! Loading the contract: read every file, parse, compile, and bind the manifest's names.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{CompiledSchema, ContractError, Manifest};
use crate::files::{FileSource, Kind, SourceFile};

/// The manifest's file name inside the schemas folder.
pub(crate) const MANIFEST_FILE: &str = "operation.json";
/// The case-file schema's file name.
pub(crate) const CASE_SCHEMA_FILE: &str = "case.schema.json";

/// The loaded and compiled contract.
#[derive(Debug)]
pub struct Contract {
    /// The operation manifest.
    pub manifest: Manifest,
    schemas: BTreeMap<String, CompiledSchema>,
    /// Where it was loaded from.
    pub source: FileSource,
    /// FNV-1a hash of every file's name and text: identifies the contract in reports.
    pub hash: String,
}

impl Contract {
    /// Loads the contract from `source`: every schema compiled, every name the manifest uses bound.
    pub fn load(source: &FileSource) -> Result<Contract, ContractError> {
        let files = source.read(Kind::Schemas)?;
        let hash = hash_files(&files);
        let mut manifest_file = None;
        let mut schemas = BTreeMap::new();
        for file in files {
            if file.name == MANIFEST_FILE {
                manifest_file = Some(file);
                continue;
            }
            let raw = parse(&file)?;
            let schema = CompiledSchema::compile(&file.name, raw).map_err(|(pointer, message)| {
                ContractError::Compile { path: file.display.clone(), pointer, message }
            })?;
            schemas.insert(file.name, schema);
        }
        let missing = |name| ContractError::Missing { source_dir: source.to_string(), name };
        let manifest_file = manifest_file.ok_or_else(|| missing(MANIFEST_FILE))?;
        if !schemas.contains_key(CASE_SCHEMA_FILE) {
            return Err(missing(CASE_SCHEMA_FILE));
        }
        let manifest: Manifest = serde_json::from_str(&manifest_file.text).map_err(|e| ContractError::Manifest {
            path: manifest_file.display.clone(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let contract = Contract { manifest, schemas, source: source.clone(), hash };
        contract.check_bindings(&manifest_file.display)?;
        Ok(contract)
    }

    /// Every schema name the manifest uses exists.
    fn check_bindings(&self, path: &str) -> Result<(), ContractError> {
        let m = &self.manifest;
        let mut names: Vec<(String, &str)> = vec![
            ("/request/path_parameters".into(), m.request.path_parameters.as_str()),
            ("/request/headers".into(), m.request.headers.as_str()),
            ("/request/body".into(), m.request.body.as_str()),
        ];
        for (i, r) in m.responses.iter().enumerate() {
            if let Some(body) = &r.body {
                names.push((format!("/responses/{i}/body"), body));
            }
        }
        if let Some(body) = &m.other_methods.body {
            names.push(("/other_methods/body".into(), body));
        }
        match names.into_iter().find(|(_, name)| !self.schemas.contains_key(*name)) {
            Some((pointer, name)) => {
                Err(ContractError::UnknownSchema { path: path.to_owned(), pointer, name: name.to_owned() })
            }
            None => Ok(()),
        }
    }

    /// A schema by file name.
    pub fn schema(&self, name: &str) -> Option<&CompiledSchema> {
        self.schemas.get(name)
    }

    /// The schema names, sorted.
    pub fn schema_names(&self) -> impl Iterator<Item = &str> {
        self.schemas.keys().map(String::as_str)
    }

    /// A schema the manifest binds; `check_bindings` proved it exists.
    fn bound(&self, name: &str) -> &CompiledSchema {
        &self.schemas[name]
    }

    /// The request-body schema.
    pub fn request_body(&self) -> &CompiledSchema {
        self.bound(&self.manifest.request.body)
    }

    /// The request-headers schema.
    pub fn request_headers(&self) -> &CompiledSchema {
        self.bound(&self.manifest.request.headers)
    }

    /// The path-parameters schema.
    pub fn path_parameters(&self) -> &CompiledSchema {
        self.bound(&self.manifest.request.path_parameters)
    }

    /// The case-file schema.
    pub fn case_schema(&self) -> &CompiledSchema {
        self.bound(CASE_SCHEMA_FILE)
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
        assert_eq!(c.manifest.path_parameter_names(), ["project_id", "engine_id"]);
        assert!(c.request_body().is_valid(&serde_json::json!({"action": "Retry"})));
        assert!(!c.request_body().is_valid(&serde_json::json!({"action": "retry"})));
    }

    #[test]
    fn strict_statuses_are_the_api_pages() {
        let c = Contract::load(&FileSource::Embedded).unwrap();
        let strict: Vec<u16> = c.manifest.documented_for("PUT", true).map(|r| r.status).collect();
        assert_eq!(strict, [200, 400, 500]);
        let lax: Vec<u16> = c.manifest.documented_for("PUT", false).map(|r| r.status).collect();
        assert_eq!(lax, [200, 400, 500, 401, 403, 404, 413, 429]);
        let get: Vec<u16> = c.manifest.documented_for("GET", false).map(|r| r.status).collect();
        assert_eq!(get, [401, 403, 404, 413, 429, 405]);
    }

    #[test]
    fn header_names_match_case_insensitively() {
        let c = Contract::load(&FileSource::Embedded).unwrap();
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
}
