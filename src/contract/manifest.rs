//! The serde model of an operation manifest (`*.operation.json`), which binds the schemas to one
//! operation of the API.

use serde::Deserialize;
use serde_json::{Map, Value};

/// Where a status is documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
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

    /// The path parameter names of the template, in order.
    pub fn path_parameter_names(&self) -> Vec<&str> {
        self.path.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name)).collect()
    }
}
