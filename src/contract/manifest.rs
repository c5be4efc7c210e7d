//! The serde model of an operation manifest (`*.operation.json`), which binds the schemas to one
//! operation of the API.

use serde::Deserialize;
use serde_json::{Map, Value};

/// Where a status is documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusSource {
    /// The API page itself.
    Api,
    /// The Huawei Cloud API Gateway in front of the service.
    Gateway,
}

/// The operation manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    #[serde(rename = "$schema", default)]
    _schema: Option<String>,
    /// The short name case files and reports use, e.g. `retry` or `show_engine`.
    pub name: String,
    /// Case files that name no operation call this one.
    #[serde(default)]
    pub default: bool,
    /// Operation name, e.g. `RetryEngineJob`.
    pub operation_id: String,
    /// Title of the API page.
    pub summary: String,
    /// The operation's HTTP method.
    pub method: String,
    /// Path template with `{name}` parameters.
    pub path: String,
    /// The media type of request and response bodies.
    pub media_type: String,
    /// The largest request body the gateway accepts.
    pub max_request_body_bytes: u64,
    /// What a request consists of.
    pub request: RequestSpec,
    /// The documented statuses of the operation.
    pub responses: Vec<ResponseSpec>,
    /// The answer to any other method on the path.
    pub other_methods: ResponseSpec,
    /// Which body field names the resource that was acted on, if one does.
    #[serde(default)]
    pub identity: Option<Identity>,
}

/// The request side of the manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    /// Schema of the path parameters (an object).
    pub path_parameters: String,
    /// Schema of the request headers (an object keyed by header name).
    pub headers: String,
    /// Schema of the request body; an operation without one takes no body (a GET).
    #[serde(default)]
    pub body: Option<String>,
    /// Headers that carry credentials: a request missing them or with invalid values is
    /// an authentication failure, not a bad request.
    pub credential_headers: Vec<String>,
    /// The status the API gateway gives a request whose credentials are missing or invalid
    /// (what `--strict-auth` demands).
    pub credential_failure_status: u16,
    /// Every status that rejects missing or invalid credentials conformantly (accepted by default).
    pub credential_failure_statuses: Vec<u16>,
    /// The valid request that cases start from.
    pub template: Template,
}

/// The valid request every case starts from; strings may hold `${variables}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Path parameters by name.
    pub path_parameters: Map<String, Value>,
    /// Headers by name.
    pub headers: Map<String, Value>,
    /// The JSON body, for an operation that takes one.
    #[serde(default)]
    pub body: Option<Value>,
}

/// One documented status.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSpec {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    /// The HTTP status.
    pub status: u16,
    /// Where it is documented.
    pub source: StatusSource,
    /// What it means.
    pub description: String,
    /// Schema of its body, if it has one.
    #[serde(default)]
    pub body: Option<String>,
    /// Headers the response must carry.
    #[serde(default)]
    pub required_headers: Vec<String>,
}

/// The identity rule: in a response of `status`, the value at `pointer` equals the path
/// parameter `path_parameter`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    #[serde(rename = "$comment", default)]
    _comment: Option<String>,
    /// The status the rule applies to.
    pub status: u16,
    /// JSON pointer into the body.
    pub pointer: String,
    /// Name of the path parameter.
    pub path_parameter: String,
}

impl Manifest {
    /// The responses documented for a request with `method`, honouring `strict` (API page only).
    pub fn documented_for(&self, method: &str, strict: bool) -> impl Iterator<Item = &ResponseSpec> + '_ {
        let own = method.eq_ignore_ascii_case(&self.method);
        let gateway_only = self.responses.iter().filter(move |r| !own && r.source == StatusSource::Gateway);
        let operation = self.responses.iter().filter(move |_| own);
        let other = std::iter::once(&self.other_methods).filter(move |_| !own);
        operation.chain(gateway_only).chain(other).filter(move |r| !strict || r.source == StatusSource::Api)
    }

    /// The response spec a request with `method` that got `status` is judged by.
    pub fn response_for(&self, method: &str, status: u16, strict: bool) -> Option<&ResponseSpec> {
        self.documented_for(method, strict).find(|r| r.status == status)
    }

    /// Whether the method is safe (RFC 9110 9.2.1: GET, HEAD, OPTIONS, TRACE): a request of a
    /// safe operation changes nothing, whatever it is answered.
    pub fn is_safe(&self) -> bool {
        ["GET", "HEAD", "OPTIONS", "TRACE"].iter().any(|m| m.eq_ignore_ascii_case(&self.method))
    }

    /// The statuses a request with missing or invalid credentials may get: the gateway's alone
    /// when `strict_auth`, else every documented rejection.
    pub fn credential_statuses(&self, strict_auth: bool) -> Vec<u16> {
        if strict_auth {
            vec![self.request.credential_failure_status]
        } else {
            self.request.credential_failure_statuses.clone()
        }
    }

    /// The path parameter names of the template, in order (none if the template is malformed,
    /// which a loaded contract's never is).
    pub fn path_parameter_names(&self) -> Vec<&str> {
        path_template(&self.path).unwrap_or_default()
    }
}

/// Headers that frame the message or the connection (RFC 9110 section 7.6.1, RFC 9112): the
/// client sets them per request, so a template that fixed one would break every valid request.
const FRAMING_HEADERS: [&str; 9] = [
    "Content-Length",
    "Transfer-Encoding",
    "Host",
    "Connection",
    "Upgrade",
    "TE",
    "Trailer",
    "Keep-Alive",
    "Proxy-Connection",
];

/// One problem of a manifest: the JSON pointer into it and what is wrong.
pub(crate) type Problem = (String, String);

impl Manifest {
    /// What a schema cannot say about a manifest that fits `manifest.schema.json`: the path
    /// template is well-formed and the template fills exactly its parameters, the template's
    /// strings use known variables, the statuses the manifest names are documented ones, and
    /// the body of the request is where the operation takes one.
    pub(crate) fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let template = &self.request.template;
        let names = match path_template(&self.path) {
            Ok(names) => names,
            Err(message) => {
                out.push(("/path".to_owned(), message));
                // the template's parameters cannot be matched against a path that does not parse
                template.path_parameters.keys().map(String::as_str).collect()
            }
        };
        for name in &names {
            if !template.path_parameters.contains_key(*name) {
                out.push((
                    "/path".to_owned(),
                    format!("`{{{name}}}` has no value in /request/template/path_parameters"),
                ));
            }
        }
        for key in template.path_parameters.keys() {
            if !names.contains(&key.as_str()) {
                let pointer = format!("/request/template/path_parameters/{}", crate::case::vars::escape_pointer(key));
                out.push((pointer, format!("`{key}` is not a parameter of the path `{}`", self.path)));
            }
        }
        for (part, value) in [
            ("path_parameters", Some(Value::Object(template.path_parameters.clone()))),
            ("headers", Some(Value::Object(template.headers.clone()))),
            ("body", template.body.clone()),
        ] {
            if let Some(value) = value {
                crate::case::vars::check(&value, &format!("/request/template/{part}"), &mut out);
            }
        }
        for (i, name) in self.request.credential_headers.iter().enumerate() {
            if !template.headers.keys().any(|h| h.eq_ignore_ascii_case(name)) {
                out.push((
                    format!("/request/credential_headers/{i}"),
                    format!("`{name}` is not a header of /request/template/headers: the valid request would carry no credential"),
                ));
            }
        }
        for name in template.headers.keys() {
            if FRAMING_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                out.push((
                    format!("/request/template/headers/{}", crate::case::vars::escape_pointer(name)),
                    format!("`{name}` frames the message and the client sets it for each request; a template cannot fix it (a case may set it, to test framing)"),
                ));
            }
        }
        match (&self.request.body, &template.body) {
            (Some(_), None) => {
                out.push((
                    "/request/template".into(),
                    "the operation takes a body (/request/body) but the template has none".into(),
                ));
            }
            (None, Some(_)) => out.push((
                "/request/template/body".into(),
                "the template has a body but the operation takes none (no /request/body)".into(),
            )),
            _ => {}
        }
        let documented: Vec<u16> = self.responses.iter().map(|r| r.status).collect();
        for (i, r) in self.responses.iter().enumerate() {
            if documented[..i].contains(&r.status) {
                out.push((format!("/responses/{i}/status"), format!("status {} is documented twice", r.status)));
            }
        }
        let undocumented = |status: u16| !documented.contains(&status);
        if undocumented(self.request.credential_failure_status) {
            out.push((
                "/request/credential_failure_status".into(),
                format!("status {} is not one of /responses", self.request.credential_failure_status),
            ));
        }
        for (i, status) in self.request.credential_failure_statuses.iter().enumerate() {
            if undocumented(*status) {
                out.push((
                    format!("/request/credential_failure_statuses/{i}"),
                    format!("status {status} is not one of /responses"),
                ));
            }
        }
        if let Some(identity) = &self.identity {
            if undocumented(identity.status) {
                out.push(("/identity/status".into(), format!("status {} is not one of /responses", identity.status)));
            }
            if !names.is_empty() && !names.contains(&identity.path_parameter.as_str()) {
                out.push((
                    "/identity/path_parameter".into(),
                    format!("`{}` is not a parameter of the path `{}`", identity.path_parameter, self.path),
                ));
            }
        }
        out
    }
}

/// The parameter names of a path template, or why it is not one: it starts with `/`; outside
/// braces it holds only what a URI path may (RFC 3986 section 3.3: unreserved characters, sub-delims,
/// `:`, `@`, `%XX` escapes and `/`), and no segment starts with `:` or `*` (the router's syntax of
/// old); each `{name}` is non-empty, of letters, digits and `_`, unnested, closed and used once.
pub(crate) fn path_template(path: &str) -> Result<Vec<&str>, String> {
    if !path.starts_with('/') {
        return Err(format!("the path `{path}` does not start with `/`"));
    }
    let mut names: Vec<&str> = Vec::new();
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => {
                let close = path[i + 1..].find(['{', '}']).map(|at| at + i + 1);
                let Some(close) = close.filter(|at| bytes[*at] == b'}') else {
                    return Err(format!("the `{{` at byte {i} of the path is not closed before the next brace"));
                };
                let name = &path[i + 1..close];
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(format!("`{{{name}}}`: a parameter name is letters, digits and `_`, at least one"));
                }
                if names.contains(&name) {
                    return Err(format!("the parameter `{{{name}}}` appears twice in the path"));
                }
                names.push(name);
                i = close + 1;
            }
            b'}' => return Err(format!("the `}}` at byte {i} of the path closes nothing")),
            b'%' if bytes.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) => i += 3,
            b if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) => i += 1,
            _ => {
                let c = path[i..].chars().next().unwrap_or_default();
                return Err(format!(
                    "`{}` at byte {i} cannot be in a URI path (RFC 3986 section 3.3)",
                    c.escape_debug()
                ));
            }
        }
    }
    if let Some(segment) = path.split('/').find(|s| s.starts_with([':', '*'])) {
        return Err(format!("the segment `{segment}` starts with `:` or `*`; a parameter is written `{{name}}`"));
    }
    Ok(names)
}
