//! The mock's HTTP handlers. The Retry handler checks in the order a gateway in front of the
//! service does: credentials (401), then the size of the body (413), then the request against
//! the contract's request schemas (400), then the engine (400 not found / not retryable).
//!
//! Error codes that no document gives are this project's choice, written here once and listed
//! in the README and in schemas/FACTS.md §7.2–7.3: an invalid request is `SVCSTG.00500400`, a
//! state that forbids a retry `SVCSTG.00501118`, another method on the path `SVCSTG.00500405`.

use std::collections::HashMap;
use std::time::Instant;

use axum::extract::Path;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};

use super::App;
use super::faults::Fault;
use super::framing::{MAX_HEAD, MAX_HEADERS, MAX_REQUEST_LINE, Refusal};
use super::state::{JobError, Retried, RetryError};
use crate::contract::{OpId, Operation};

/// Engine not found (schemas/FACTS.md §3.1).
pub(crate) const ENGINE_NOT_FOUND: (&str, &str) = ("SVCSTG.00501116", "Failed to find the engine instance.");
/// Our choice: the engine's state does not allow a retry.
pub(crate) const NOT_RETRYABLE: (&str, &str) =
    ("SVCSTG.00501118", "The engine in the current state cannot be retried.");
/// Our choice: the request breaks the API's rules.
pub(crate) const INVALID_REQUEST: (&str, &str) = ("SVCSTG.00500400", "Bad request.");
/// Our choice: another method on the actions path.
pub(crate) const METHOD_NOT_ALLOWED: (&str, &str) = ("SVCSTG.00500405", "Method not allowed.");
const BAD_JOB_ID: (&str, &str) = ("SVCSTG.00501152", "Incorrect task ID format.");
const JOB_NOT_FOUND: (&str, &str) = ("SVCSTG.00501153", "No task found.");
const GATEWAY_AUTH: &str = "APIGW.0301";
const GATEWAY_THROTTLED: &str = "APIGW.0308";
const GATEWAY_NO_API: (&str, &str) =
    ("APIGW.0101", "The API does not exist or has not been published in the environment.");
/// The gateway's code for a request it cannot take (schemas/FACTS.md §3.3), whatever the reason.
const GATEWAY_REQUEST_ERROR: &str = "APIGW.0201";
const GATEWAY_TOO_LARGE: (&str, &str) = (GATEWAY_REQUEST_ERROR, "Request entity too large.");

/// What authentication looks at.
pub(crate) struct Incoming<'a> {
    pub(crate) method: &'a Method,
    pub(crate) uri: &'a Uri,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
}

/// Why a request was refused by [`App::validate`].
enum Rejection {
    /// It breaks the contract: 400 with this detail.
    Invalid(String),
    /// The `server_error_on_bad_json` fault: 500.
    ServerError,
}

/// The media type of every answer, as the API page asks of requests.
const JSON_UTF8: &str = "application/json;charset=UTF-8";

impl App {
    fn json(status: StatusCode, body: &Value, request_id: &str) -> Response {
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
        if let Ok(id) = HeaderValue::from_str(request_id) {
            headers.insert("x-request-id", id);
        }
        response
    }

    /// A CSE error: `{error_code, error_msg, detail}`, bent by the error faults.
    fn cse_error(&self, status: StatusCode, (code, message): (&str, &str), detail: &str, request_id: &str) -> Response {
        if self.faults.has(Fault::PlainTextErrors) {
            let mut response = (status, format!("{message} ({code}): {detail}")).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            return response;
        }
        let mut body = json!({ "error_code": code, "error_msg": message, "detail": detail });
        if self.faults.has(Fault::ErrorMissingCode) {
            body.as_object_mut().map(|o| o.remove("error_code"));
        }
        Self::json(status, &body, request_id)
    }

    /// A gateway error: `{error_code, error_msg, request_id}`, bent by `error_missing_code`.
    fn gateway_error(&self, status: StatusCode, code: &str, message: &str, request_id: &str) -> Response {
        let mut body = json!({ "error_code": code, "error_msg": message, "request_id": request_id });
        if self.faults.has(Fault::ErrorMissingCode) {
            body.as_object_mut().map(|o| o.remove("error_code"));
        }
        Self::json(status, &body, request_id)
    }

    /// A 400 for a request that breaks the contract (422 under `undocumented_status`).
    fn invalid(&self, detail: &str, request_id: &str) -> Response {
        let status = if self.faults.has(Fault::UndocumentedStatus) {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::BAD_REQUEST
        };
        self.cse_error(status, INVALID_REQUEST, detail, request_id)
    }

    /// The gateway's 429 beyond the rate limit, with Retry-After; `None` when admitted.
    fn throttle(&self, request_id: &str) -> Option<Response> {
        if self.admit() {
            return None;
        }
        let limit = self.bucket.as_ref().map_or(0.0, |b| b.lock().map_or(0.0, |g| g.0));
        let message = format!(
            "The throttling threshold has been reached: policy user over ratelimit,limit:{limit},time:1 second"
        );
        let mut response = self.gateway_error(StatusCode::TOO_MANY_REQUESTS, GATEWAY_THROTTLED, &message, request_id);
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        Some(response)
    }

    /// The 401 for missing, empty or wrong credentials; `None` when they are good. A non-empty
    /// X-Auth-Token is checked against `--token`; without one, an AK/SK signature is verified
    /// against `--ak`/`--sk` (schemas/FACTS.md §5.3), as the gateway does.
    fn authenticate(&self, op: &Operation, incoming: &Incoming<'_>, request_id: &str) -> Option<Response> {
        if self.faults.has(Fault::AcceptMissingToken) {
            return None;
        }
        let deny = |reason: &str| {
            let message = format!("Incorrect IAM authentication information: {reason}");
            Some(self.gateway_error(StatusCode::UNAUTHORIZED, GATEWAY_AUTH, &message, request_id))
        };
        let headers = incoming.headers;
        let token_header = op.manifest.request.credential_headers.first().map_or("", String::as_str);
        let token = headers.get(token_header).map(HeaderValue::as_bytes).unwrap_or_default();
        if !token.is_empty() {
            return match &self.token {
                Some(expected) if token != expected.as_bytes() => deny("decrypt token fail"),
                _ => None,
            };
        }
        if headers.contains_key(header::AUTHORIZATION) {
            let Some(credentials) = &self.aksk else { return deny("verify aksk signature fail") };
            let pairs: Vec<(String, String)> = headers
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            let signed = crate::sign::Signed {
                method: incoming.method.as_str(),
                path: incoming.uri.path(),
                query: incoming.uri.query(),
                headers: &pairs,
                body: incoming.body,
            };
            return match crate::sign::verify(&signed, credentials, chrono::Utc::now()) {
                Ok(()) => None,
                Err(reason) => deny(reason),
            };
        }
        deny(&format!("{} not found", token_header.to_ascii_lowercase()))
    }

    /// The first contract violation of the request's path parameters and headers.
    fn validate_head(op: &Operation, params: &HashMap<String, String>, headers: &HeaderMap) -> Result<(), Rejection> {
        let path: serde_json::Map<String, Value> =
            params.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        if let Some(v) = op.path_parameters().violations(&Value::Object(path)).into_iter().next() {
            return Err(Rejection::Invalid(format!("path {v}")));
        }
        let lossy: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let instance = op.headers_instance(lossy.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let header_violation = op
            .request_headers()
            .violations(&instance)
            .into_iter()
            .find(|v| !v.property().is_some_and(|p| op.is_credential_header(&p)));
        match header_violation {
            Some(v) => Err(Rejection::Invalid(format!("header {v}"))),
            None => Ok(()),
        }
    }

    /// The first contract violation of the request's path parameters, headers and body.
    fn validate(
        &self,
        op: &Operation,
        params: &HashMap<String, String>,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), Rejection> {
        Self::validate_head(op, params, headers)?;
        let Some(schema) = op.request_body() else { return Ok(()) };
        let Some(value) = std::str::from_utf8(body).ok().and_then(|t| serde_json::from_str::<Value>(t).ok()) else {
            if self.faults.has(Fault::ServerErrorOnBadJson) {
                return Err(Rejection::ServerError);
            }
            return Err(Rejection::Invalid("body is not a JSON document".into()));
        };
        if self.faults.has(Fault::AcceptBadAction) {
            return Ok(());
        }
        let tab_padded = value
            .get("action")
            .and_then(Value::as_str)
            .is_some_and(|a| a != a.trim_matches('\t') && a.trim_matches('\t') == "Retry");
        if self.faults.has(Fault::AcceptTabPaddedRetry) && tab_padded {
            return Ok(());
        }
        match schema.violations(&value).into_iter().next() {
            Some(v) => Err(Rejection::Invalid(format!("body {v}"))),
            None => Ok(()),
        }
    }

    fn reject(&self, rejection: Rejection, request_id: &str) -> Response {
        match rejection {
            Rejection::Invalid(detail) => self.invalid(&detail, request_id),
            Rejection::ServerError => self.cse_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                ("SVCSTG.00500000", "Internal error."),
                "unexpected token",
                request_id,
            ),
        }
    }

    fn retried(&self, engine_path_id: &str, Retried { id, name, job_id }: Retried, request_id: &str) -> Response {
        let id = if self.faults.has(Fault::WrongId) { format!("{engine_path_id}-other") } else { id };
        let name = if self.faults.has(Fault::WrongName) { format!("{name}-x") } else { name };
        let mut body = json!({ "id": id, "name": name, "jobId": job_id });
        if self.faults.has(Fault::SuccessMissingJobId) {
            body.as_object_mut().map(|o| o.remove("jobId"));
        }
        if self.faults.has(Fault::JobIdAsString) {
            body["jobId"] = Value::String(job_id.to_string());
        }
        let mut response = Self::json(StatusCode::OK, &body, request_id);
        if self.faults.has(Fault::HtmlContentType) {
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        }
        response
    }
}

/// What an operation's handler is given: the request as axum extracted it.
pub(crate) struct Call {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) path: Result<Path<HashMap<String, String>>, PathRejection>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Result<Bytes, BytesRejection>,
}

/// Any method on an operation's path: the manifest's method is served by the operation's
/// handler, any other gets 405. Routed with `any` so that this handler alone decides the 405 and
/// its `Allow` header (axum's method router adds `Allow` itself, and the `no_allow_header` fault
/// could not take it away). The mock implements the operations it knows by name; a manifest it
/// does not know is answered as the gateway answers an unpublished API.
pub(crate) async fn operation(app: &App, id: OpId, call: Call) -> Response {
    let op = app.contract.operation(id);
    // HEAD is answered as GET (RFC 9110 9.3.2; hyper leaves out the body).
    let as_get = call.method == Method::HEAD && op.manifest.method.eq_ignore_ascii_case("GET");
    if !as_get && !call.method.as_str().eq_ignore_ascii_case(&op.manifest.method) {
        return method_not_allowed(app, &op.manifest.method);
    }
    match op.name() {
        "retry" => retry(app, op, call).await,
        "show_engine" => show_engine(app, op, call),
        "show_job" => show_job(app, op, call),
        _ => no_such_api(app),
    }
}

/// `PUT .../actions`: retry the engine's failed job.
async fn retry(app: &App, op: &Operation, call: Call) -> Response {
    let Call { method, uri, path, headers, body } = call;
    let (method, uri, headers) = (&method, &uri, &headers);
    retry_call(app, op, (method, uri), path, headers, body).await
}

/// How long `racy_retry` leaves between its check and its update: far longer than it takes a
/// burst of concurrent Retries to arrive and be checked, so that all of them pass the check. At
/// 30 ms, 8 concurrent Retries were not all accepted in 2 of 18 runs with six test processes
/// sharing two cores; at 100 ms, in none of 24. Only a Retry under this fault waits.
const RACE_WINDOW: std::time::Duration = std::time::Duration::from_millis(100);

/// The retry itself, on the state: one critical section, unless a fault bends it.
async fn run_retry(app: &App, project: &str, engine: &str) -> Result<Retried, RetryError> {
    if app.faults.has(Fault::RefuseRetry) {
        // The engine itself is untouched: it still reads as retryable.
        let mut state = app.state();
        let found = state.engine_view(project, engine, Instant::now()).is_some();
        return match state.snapshot(engine, Instant::now()).filter(|_| found) {
            Some(e) => Err(RetryError::NotRetryable(e.status)),
            None => Err(RetryError::NotFound),
        };
    }
    if app.faults.has(Fault::RacyRetry) {
        // The check and the update in two critical sections with a wait between. The wait is
        // tokio's, not the thread's: a thread asleep holds a worker of the runtime (two, on two
        // cores), so only as many Retries as workers could be in the window and the race would
        // depend on the machine; an async sleep yields, and every Retry that arrives in the
        // window is checked before any job starts. The guard is a statement's temporary, dropped
        // before the await (a std MutexGuard may not be held across one).
        let plan = app.state().check_retry(project, engine, Instant::now())?;
        tokio::time::sleep(RACE_WINDOW).await;
        return app.state().start_retry(&plan, Instant::now());
    }
    app.state().retry(project, engine, Instant::now())
}

async fn retry_call(
    app: &App,
    op: &Operation,
    (method, uri): (&Method, &Uri),
    path: Result<Path<HashMap<String, String>>, PathRejection>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request_id = app.request_id();
    if let Some(denied) = app.throttle(&request_id) {
        return denied;
    }
    // The body is read before the credentials: an AK/SK signature covers it.
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let (code, message) = GATEWAY_TOO_LARGE;
            return app.gateway_error(StatusCode::PAYLOAD_TOO_LARGE, code, message, &request_id);
        }
        Err(rejection) => {
            return app.invalid(&format!("body could not be read: {rejection}"), &request_id);
        }
    };
    let incoming = Incoming { method, uri, headers, body: &body };
    if let Some(denied) = app.authenticate(op, &incoming, &request_id) {
        return denied;
    }
    let params = match path {
        Ok(Path(params)) => params,
        Err(rejection) => return app.invalid(&format!("path: {rejection}"), &request_id),
    };
    let long_project = headers.get("x-enterprise-project-id").is_some_and(|v| v.len() > 64);
    if app.faults.has(Fault::ServerErrorOnLongEnterpriseProject) && long_project {
        return app.reject(Rejection::ServerError, &request_id);
    }
    if let Err(rejection) = app.validate(op, &params, headers, &body) {
        return app.reject(rejection, &request_id);
    }
    let project = params.get("project_id").map_or("", String::as_str);
    let engine = params.get("engine_id").map_or("", String::as_str);
    match run_retry(app, project, engine).await {
        Ok(answer) => app.retried(engine, answer, &request_id),
        Err(RetryError::NotFound) => {
            let code = if app.faults.has(Fault::WrongErrorCode) {
                ("SVCSTG.00501117", ENGINE_NOT_FOUND.1)
            } else {
                ENGINE_NOT_FOUND
            };
            app.cse_error(StatusCode::BAD_REQUEST, code, &format!("engine_id: {engine}"), &request_id)
        }
        Err(RetryError::NotRetryable(status)) => app.cse_error(
            StatusCode::BAD_REQUEST,
            NOT_RETRYABLE,
            &format!("engine {engine} is {status:?}; only a *Failed engine with no running job can be retried"),
            &request_id,
        ),
    }
}

impl App {
    /// What every read API does first: a request id, the credentials, the path parameters and
    /// headers against the operation's schemas.
    fn read_request(&self, op: &Operation, call: Call) -> Result<(String, HashMap<String, String>), Box<Response>> {
        let request_id = self.request_id();
        let incoming = Incoming { method: &call.method, uri: &call.uri, headers: &call.headers, body: &[] };
        if let Some(denied) = self.throttle(&request_id).or_else(|| self.authenticate(op, &incoming, &request_id)) {
            return Err(Box::new(denied));
        }
        let Ok(Path(params)) = call.path else {
            return Err(Box::new(self.invalid("path parameters are not valid UTF-8", &request_id)));
        };
        match Self::validate_head(op, &params, &call.headers) {
            Ok(()) => Ok((request_id, params)),
            Err(rejection) => Err(Box::new(self.reject(rejection, &request_id))),
        }
    }
}

/// `GET .../engines/{engine_id}`: engine details.
fn show_engine(app: &App, op: &Operation, call: Call) -> Response {
    let (request_id, params) = match app.read_request(op, call) {
        Ok(read) => read,
        Err(response) => return *response,
    };
    let (project, engine) = (&params["project_id"], &params["engine_id"]);
    let view = app.state().engine_view(project, engine, Instant::now());
    match view {
        Some(view) => App::json(StatusCode::OK, &view, &request_id),
        None => app.cse_error(StatusCode::BAD_REQUEST, ENGINE_NOT_FOUND, &format!("engine_id: {engine}"), &request_id),
    }
}

/// `GET .../engines/{engine_id}/jobs/{job_id}`: job details.
fn show_job(app: &App, op: &Operation, call: Call) -> Response {
    let (request_id, params) = match app.read_request(op, call) {
        Ok(read) => read,
        Err(response) => return *response,
    };
    let (project, engine, job) = (&params["project_id"], &params["engine_id"], &params["job_id"]);
    let view = app.state().job_view(project, engine, job, Instant::now());
    let (code, detail) = match view {
        Ok(view) => return App::json(StatusCode::OK, &view, &request_id),
        Err(JobError::EngineNotFound) => (ENGINE_NOT_FOUND, format!("engine_id: {engine}")),
        Err(JobError::BadId) => (BAD_JOB_ID, format!("job_id: {job}")),
        Err(JobError::NotFound) => (JOB_NOT_FOUND, format!("job_id: {job}")),
    };
    app.cse_error(StatusCode::BAD_REQUEST, code, &detail, &request_id)
}

/// Another method on a known path: 405 with `Allow`.
pub(crate) fn method_not_allowed(app: &App, allow: &str) -> Response {
    let request_id = app.request_id();
    let detail = format!("use {allow}");
    let mut response = app.cse_error(StatusCode::METHOD_NOT_ALLOWED, METHOD_NOT_ALLOWED, &detail, &request_id);
    if !app.faults.has(Fault::NoAllowHeader) {
        if let Ok(value) = HeaderValue::from_str(allow) {
            response.headers_mut().insert(header::ALLOW, value);
        }
    }
    response
}

/// Any other path: the gateway's 404.
pub(crate) fn no_such_api(app: &App) -> Response {
    let request_id = app.request_id();
    let (code, message) = GATEWAY_NO_API;
    app.gateway_error(StatusCode::NOT_FOUND, code, message, &request_id)
}

/// A request refused before it is routed (`framing`): the gateway's error, with the messages the
/// cloud's gateway gives (schemas/FACTS.md §3.3) and why, and the status HTTP names for the
/// case. The cloud's gateway answers a head over its bound 494, an nginx status; the mock
/// answers 431.
pub(crate) fn refused(app: &App, refusal: &Refusal) -> Response {
    let request_id = app.request_id();
    let (status, message) = match refusal {
        Refusal::Malformed(why) => (StatusCode::BAD_REQUEST, format!("API request error: {why}.")),
        Refusal::RequestLineTooLong => (
            StatusCode::URI_TOO_LONG,
            format!("Request URI too large: the request line is over {MAX_REQUEST_LINE} bytes."),
        ),
        Refusal::HeadTooLarge => (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("Request headers too large: the head is over {MAX_HEAD} bytes."),
        ),
        Refusal::TooManyHeaders => (
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("Request headers too large: more than {MAX_HEADERS} header fields."),
        ),
        Refusal::UnsupportedCoding(coding) => (
            StatusCode::NOT_IMPLEMENTED,
            format!("API request error: transfer coding `{coding}` is not implemented; send chunked alone."),
        ),
        Refusal::TimedOut => {
            (StatusCode::REQUEST_TIMEOUT, "API request error: the request head did not arrive in time.".to_owned())
        }
    };
    app.gateway_error(status, GATEWAY_REQUEST_ERROR, &message, &request_id)
}
