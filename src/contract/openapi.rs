//! The contract as an OpenAPI 3.1 document, generated from the schemas and the manifest (no
//! second copy of the contract), so Schemathesis, Prism, Swagger UI and SDK generators can use
//! it. Header parameters named Content-Type, Accept or Authorization are ignored by OpenAPI
//! (3.1 §4.8.12.1): Content-Type is the request body's media type, Accept the responses', and
//! credentials are security schemes.

use serde_json::{Map, Value, json};

use super::{Contract, Operation, StatusSource};

/// `success-body.schema.json` → `SuccessBody`.
fn component_name(file: &str) -> String {
    file.trim_end_matches(".json")
        .trim_end_matches(".schema")
        .split(['-', '_', '.'])
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// A schema as a component: without `$schema` and `$id`, which belong to standalone files.
fn component(raw: &Value) -> Value {
    let mut schema = raw.clone();
    if let Some(object) = schema.as_object_mut() {
        object.remove("$schema");
        object.remove("$id");
    }
    schema
}

fn reference(file: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{}", component_name(file)) })
}

const IGNORED_HEADERS: [&str; 3] = ["content-type", "accept", "authorization"];

fn parameters(contract: &Operation) -> (Vec<Value>, Vec<Value>) {
    let path_schema = contract.path_parameters();
    let path: Vec<Value> = contract
        .manifest
        .path_parameter_names()
        .into_iter()
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": path_schema.property_schema(name).unwrap_or(json!({"type": "string"})) }))
        .collect();
    let headers_schema = contract.request_headers();
    let required = headers_schema.required_names();
    let headers = headers_schema
        .property_names()
        .filter(|name| {
            !IGNORED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) && !contract.is_credential_header(name)
        })
        .map(|name| {
            let mut schema = headers_schema.property_schema(name).unwrap_or(json!({"type": "string"}));
            let description = schema.as_object_mut().and_then(|o| o.remove("description"));
            let mut parameter =
                json!({ "name": name, "in": "header", "required": required.contains(&name), "schema": schema });
            if let Some(d) = description {
                parameter["description"] = d;
            }
            parameter
        })
        .collect();
    (path, headers)
}

/// One operation as an OpenAPI operation object, with the parameters of its path.
fn operation(op: &Operation) -> (Value, Vec<Value>) {
    let manifest = &op.manifest;
    let media = manifest.media_type.as_str();
    let mut responses = Map::new();
    for response in &manifest.responses {
        let source = match response.source {
            StatusSource::Api => "the API page",
            StatusSource::Gateway => "the API gateway",
        };
        let mut entry = json!({ "description": format!("{} (documented by {source})", response.description) });
        if let Some(body) = &response.body {
            entry["content"] = json!({ media: { "schema": reference(body) } });
        }
        responses.insert(response.status.to_string(), entry);
    }
    let (path_parameters, header_parameters) = parameters(op);
    let mut operation = json!({
        "operationId": manifest.operation_id,
        "summary": manifest.summary,
        "parameters": header_parameters,
        "responses": responses,
        "security": [{ "token": [] }, { "aksk": [] }],
    });
    if let Some(body) = &manifest.request.body {
        operation["requestBody"] = json!({ "required": true, "content": { media: { "schema": reference(body) } } });
    }
    (operation, path_parameters)
}

/// The OpenAPI 3.1 document of `contract` (every operation), served at `server`.
pub fn openapi(contract: &Contract, server: &str) -> Value {
    let default = &contract.default_operation().manifest;
    let credential = default.request.credential_headers.first().cloned().unwrap_or_default();
    let mut paths = Map::new();
    for op in &contract.operations {
        let (object, path_parameters) = operation(op);
        let entry = paths.entry(op.manifest.path.clone()).or_insert_with(|| json!({ "parameters": path_parameters }));
        entry[op.manifest.method.to_ascii_lowercase()] = object;
    }
    let schemas: Map<String, Value> = contract
        .schema_names()
        .filter(|name| {
            ![super::load::CASE_SCHEMA_FILE, super::load::MANIFEST_SCHEMA_FILE, "report.schema.json"].contains(name)
        })
        .filter_map(|name| contract.schema(name).map(|s| (component_name(name), component(&s.raw))))
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": default.summary,
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Generated by `cse-contract openapi` from the contract in schemas/: the Retry and the two read APIs beside it (engine details, job details). Statuses 200, 400 and 500 are the API pages'; 401, 403, 404, 413 and 429 the API gateway's. The facts this contract rests on, with their sources, and the choices it makes where the documentation is silent are documented in schemas/FACTS.md of the cse-contract repository.",
        },
        "servers": [{ "url": server }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "token": { "type": "apiKey", "in": "header", "name": credential, "description": "An IAM token." },
                "aksk": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "AK/SK signing as the Huawei Cloud SDKs do it: `SDK-HMAC-SHA256 Access=AK, SignedHeaders=..., Signature=...` with an X-Sdk-Date header.",
                },
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::FileSource;

    #[test]
    fn the_document_binds_every_status_and_schema() {
        let contract = Contract::load(&FileSource::Embedded).unwrap();
        let doc = openapi(&contract, "http://127.0.0.1:8080");
        let op = &doc["paths"]["/v2/{project_id}/enginemgr/engines/{engine_id}/actions"]["put"];
        let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
        assert_eq!(statuses, ["200", "400", "500", "401", "403", "404", "413", "429"]);
        assert_eq!(
            op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/SuccessBody"
        );
        assert_eq!(doc["components"]["schemas"]["RequestBody"]["properties"]["action"]["enum"], json!(["Retry"]));
        let headers: Vec<&str> =
            op["parameters"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(headers, ["X-Enterprise-Project-ID"]);
        assert!(doc["components"]["schemas"].get("Case").is_none());
        let engine = &doc["paths"]["/v2/{project_id}/enginemgr/engines/{engine_id}"]["get"];
        assert_eq!(engine["operationId"], "ShowEngine");
        assert!(engine.get("requestBody").is_none());
        let job = &doc["paths"]["/v2/{project_id}/enginemgr/engines/{engine_id}/jobs/{job_id}"];
        assert_eq!(
            job["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/JobBody"
        );
        let status = &doc["components"]["schemas"]["EngineBody"]["properties"]["status"]["enum"];
        assert!(status.as_array().unwrap().contains(&json!("CreateFailed")));
    }
}
