//! Judging one observed exchange with the suite's checks: the request is classified against the
//! request schemas as a planned case's is, what a conforming server may answer follows from that
//! classification, and [`check::judge`] judges the answer; `request_conforms` judges the client.
//!
//! What the proxy cannot know widens what it accepts: it cannot verify a token or a signature, so
//! a request whose credentials are present may still be refused as the gateway refuses bad
//! credentials; it does not read the engine's state, so a valid Retry may be refused with the
//! page's 400 (as `run --no-state` judges it); and it did not throttle anyone, so the gateway's
//! documented 429 is never a finding.

use std::net::SocketAddr;
use std::time::Instant;

use serde_json::Map;

use super::Judging;
use super::route::Route;
use super::tee::{Capture, End};
use crate::check;
use crate::client::coding::{self, CodingError};
use crate::client::{Exchange, Request, Response, TransportError};
use crate::contract::{Contract, OpId, Operation, StatusSource};
use crate::outcome::{CaseOutcome, Outcome};
use crate::plan::{Classification, Origin, PlannedCase, PlannedExpect, classify, is_side_effecting};

/// The suite of exchanges whose path is no operation of the contract.
pub const UNKNOWN: &str = "unknown";

/// What the proxy saw of one exchange as it forwarded it.
#[derive(Debug)]
pub(crate) struct Seen {
    /// Its number, from 1.
    pub(crate) number: usize,
    /// The client's address.
    pub(crate) peer: SocketAddr,
    /// The operation its path is.
    pub(crate) route: Option<Route>,
    /// The request as forwarded (the upstream's URL; the body comes from its capture).
    pub(crate) request: Request,
    /// When it came.
    pub(crate) started: Instant,
}

/// How the exchange was answered; `B`, the upstream's body: what it carried, or (while the
/// exchange is in flight) where that will come.
#[derive(Debug)]
pub(crate) enum Answer<B = Capture> {
    /// By the upstream: the head, and its body.
    Upstream {
        /// The status.
        status: u16,
        /// The headers, as forwarded.
        headers: Vec<(String, String)>,
        /// The body.
        body: B,
    },
    /// By the proxy itself, as a gateway: the upstream failed.
    Gateway {
        /// Why.
        error: TransportError,
        /// What the client got.
        status: u16,
    },
    /// By the proxy, which forwarded nothing (a CONNECT, a target it cannot forward).
    Refused {
        /// What the client got.
        status: u16,
        /// Why.
        why: String,
    },
    /// By no one: the client closed its connection before the answer's head came, or (`stopped`)
    /// the proxy stopped, its grace over, before it came.
    Abandoned {
        /// Cut short by the proxy's stop.
        stopped: bool,
    },
}

/// The outcome of one observed exchange.
pub(crate) fn outcome(
    contract: &Contract,
    judging: &Judging,
    seen: Seen,
    sent: &Capture,
    answer: Answer,
) -> CaseOutcome {
    let Seen { number, peer, route, mut request, started } = seen;
    request.body = sent.body.clone().unwrap_or_default();
    let case = observed(contract, judging, number, peer, route.as_ref(), &request);
    let (status, headers, body) = match answer {
        Answer::Gateway { error, status } => {
            if let End::Failed(e) = &sent.end {
                let why = format!("the client's request body failed ({e}); the proxy answered {status}");
                return unjudged(case, request, None, started.elapsed(), why);
            }
            let exchange = Exchange { request, result: Err(error.clone()), elapsed: started.elapsed() };
            let mut outcome = CaseOutcome::decide_owned(case, exchange, check::unanswered(&error));
            outcome.note = Some(format!("the proxy answered the client {status} ({})", super::error_code(status)));
            return outcome;
        }
        Answer::Upstream { status, headers, body } => (status, headers, body),
        Answer::Refused { status, why } => {
            let why = format!("the proxy answered {status} itself and forwarded nothing: {why}");
            return CaseOutcome { status: Some(status), ..unjudged(case, request, None, started.elapsed(), why) };
        }
        Answer::Abandoned { stopped } => {
            let who = if stopped {
                "the proxy stopped (the grace after the signal ran out)"
            } else {
                "the client closed the connection"
            };
            let why = format!(
                "{who} before the answer came; what the upstream did with the request is not known: its answer was not awaited"
            );
            return unjudged(case, request, None, started.elapsed(), why);
        }
    };
    let elapsed = body.at.saturating_duration_since(started);
    if let End::Failed(error) = body.end {
        let exchange = Exchange { request, result: Err(error.clone()), elapsed };
        let mut outcome = CaseOutcome::decide_owned(case, exchange, check::unanswered(&error));
        outcome.note =
            Some(format!("the upstream answered {status}, then its body failed: the client's answer was cut"));
        outcome.status = Some(status);
        return outcome;
    }
    let mut response = Response { status, headers, body: body.body.clone().unwrap_or_default() };
    if let Some(why) = not_judged(route.is_some(), sent, &body, judging.max_body) {
        return unjudged(case, request, Some(response), elapsed, why);
    }
    let note = match decode(&request, &mut response, judging.max_body) {
        Ok(note) => note,
        Err(why) => return unjudged(case, request, Some(response), elapsed, why),
    };
    let exchange = Exchange { request, result: Ok(response), elapsed };
    let checks = check::judge(contract, &case, &exchange, judging.strict_statuses);
    let mut outcome = CaseOutcome::decide_owned(case, exchange, checks);
    outcome.note = outcome.note.or(note);
    outcome
}

/// Undoes the content coding of the answer's captured copy for judging (what the client gets is
/// forwarded as it came, byte for byte), within the judging cap. As reqwest does when it
/// decompresses, the judged answer then drops Content-Encoding and Content-Length, which
/// describe the bytes on the wire, and the note says so. `Err`: why the exchange is not judged.
/// A stream that is not valid in its coding is judged as it came: the client cannot read it
/// either, and `body_schema` says why.
fn decode(request: &Request, response: &mut Response, cap: usize) -> Result<Option<String>, String> {
    let came = response.body.len();
    let codings = || coding::content_codings(response).join(", ");
    match coding::decode(request, response, cap) {
        Ok(None) | Err(CodingError::Corrupt { .. }) => Ok(None),
        Ok(Some(body)) => {
            let note = format!(
                "the answer came with Content-Encoding: {} ({came} bytes); it is judged and shown decoded ({} bytes)",
                codings(),
                body.len()
            );
            response.headers.retain(|(n, _)| {
                !n.eq_ignore_ascii_case("content-encoding") && !n.eq_ignore_ascii_case("content-length")
            });
            response.body = body.into();
            Ok(Some(note))
        }
        Err(CodingError::OverCap { codings, cap }) => Err(format!(
            "the response body ({came} bytes as it came) is over --max-judged-body ({cap} bytes) once decoded from Content-Encoding: {codings}; it was forwarded whole"
        )),
        // The upstream's fault, but no check of the suite judges content codings: not judged.
        Err(CodingError::NotAccepted { coding, accept }) => Err(format!(
            "the answer came with Content-Encoding: {coding}, which the request's Accept-Encoding ({accept}) does not accept (RFC 9110 section 12.5.3; no check judges content codings); forwarded as it came"
        )),
        Err(CodingError::Unknown { coding }) => Err(format!(
            "the answer came with Content-Encoding: {coding}, which this tool does not decode (it decodes {}); forwarded as it came",
            coding::DECODED
        )),
    }
}

/// Why an exchange that was answered is not judged, if it is not.
fn not_judged(known: bool, sent: &Capture, answer: &Capture, cap: usize) -> Option<String> {
    let over = |what: &str, len: u64| {
        format!("the {what} body ({len} bytes) is over --max-judged-body ({cap} bytes); it was forwarded whole")
    };
    if !known {
        return Some("not an operation of the contract; forwarded as it came".to_owned());
    }
    if sent.body.is_none() {
        return Some(over("request", sent.len));
    }
    match &sent.end {
        End::Complete => {}
        End::Dropped | End::Untaken(_) => {
            return Some("the upstream answered before it read the whole request body".to_owned());
        }
        End::Failed(e) => return Some(format!("the client's request body failed: {e}")),
    }
    match answer.end {
        End::Untaken(after) => {
            return Some(format!(
                "the client stopped taking the answer: none of it was taken for {after:?} (--timeout)"
            ));
        }
        End::Dropped => return Some("the client closed the connection before the whole answer reached it".to_owned()),
        End::Complete | End::Failed(_) => {}
    }
    answer.body.is_none().then(|| over("response", answer.len))
}

/// An exchange reported as not judged, and why.
fn unjudged(
    case: PlannedCase,
    request: Request,
    response: Option<Response>,
    elapsed: std::time::Duration,
    why: String,
) -> CaseOutcome {
    let status = response.as_ref().map(|r| r.status);
    let result = response.ok_or_else(|| TransportError::Closed(why.clone()));
    let exchange = Exchange { request, result, elapsed };
    CaseOutcome {
        outcome: Outcome::Skipped,
        note: Some(why),
        status,
        ..CaseOutcome::decide_owned(case, exchange, Vec::new())
    }
}

/// The case of an observed request: named for its operation and number, classified, with what a
/// conforming server may answer it.
fn observed(
    contract: &Contract,
    judging: &Judging,
    number: usize,
    peer: SocketAddr,
    route: Option<&Route>,
    request: &Request,
) -> PlannedCase {
    let op = route.map(|r| contract.operation(r.operation));
    let suite = op.map_or(UNKNOWN, Operation::name).to_owned();
    let mut case = PlannedCase {
        name: format!("{suite}::exchange_{number}"),
        operation: op.map_or(OpId::default(), |op| op.id),
        side_effecting: false,
        source: "proxy".to_owned(),
        description: format!("{} {suite} from {peer}, as the proxy saw it", request.method),
        suite,
        request: Request { method: request.method.clone(), ..Request::default() },
        path_parameters: route.map(|r| r.path_parameters.clone()).unwrap_or_default(),
        class: Classification::default(),
        expect: PlannedExpect { statuses: Vec::new(), schema: None, assertions: Vec::new() },
        skip_checks: std::collections::BTreeMap::new(),
        expected_failure: None,
        origin: Origin::Observed,
        skip: None,
    };
    if let Some(op) = op {
        let mut class = classification(op, request, &case.path_parameters);
        let statuses = conforming_statuses(op, &request.method, &class, judging.strict_auth);
        class.expects_rejection = !statuses.iter().any(|s| (200..300).contains(s));
        case.side_effecting = is_side_effecting(op, &statuses);
        case.class = class;
        case.expect.statuses = statuses;
    }
    case
}

/// The contract's verdict on `request`. An AK/SK-signed request carries its credentials in its
/// signature, not in the token header: it is classified as `run` classifies the requests it
/// signs, with a stand-in in the token header.
fn classification(
    op: &Operation,
    request: &Request,
    path_parameters: &Map<String, serde_json::Value>,
) -> Classification {
    let credentials = &op.manifest.request.credential_headers;
    let signed = request.header("Authorization").is_some_and(|v| super::signature(v).is_some());
    if !signed || credentials.iter().any(|h| request.header(h).is_some()) {
        return classify(op, request, path_parameters, &[]);
    }
    let mut stand_in = request.clone();
    stand_in.headers.extend(credentials.iter().map(|h| (h.clone(), "aksk-signed".to_owned())));
    classify(op, &stand_in, path_parameters, &[])
}

/// What a conforming server may answer a request of `op` with `method` that `class` judges (see
/// the module's documentation for why it is wider than what a case expects).
fn conforming_statuses(op: &Operation, method: &str, class: &Classification, strict_auth: bool) -> Vec<u16> {
    let manifest = &op.manifest;
    let documented = || manifest.documented_for(method, false);
    let mut statuses: Vec<u16> = if !class.credential_violations.is_empty() {
        Vec::new()
    } else if class.violations.is_empty() {
        documented().filter(|r| r.source == StatusSource::Api && r.status < 500).map(|r| r.status).collect()
    } else {
        documented().filter(|r| (400..500).contains(&r.status)).map(|r| r.status).collect()
    };
    statuses.extend(manifest.credential_statuses(strict_auth));
    statuses.extend(documented().filter(|r| r.status == 429).map(|r| r.status));
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::check::CheckKind;

    fn contract() -> Contract {
        Contract::load(&crate::files::FileSource::Embedded).unwrap()
    }

    fn retry(body: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: "PUT".into(),
            url: "http://up/v2/p/enginemgr/engines/e/actions".into(),
            headers: headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
            body: Bytes::from(body.to_owned()),
        }
    }

    const TOKEN: [(&str, &str); 3] =
        [("X-Auth-Token", "t0ken"), ("Content-Type", "application/json"), ("Accept", "application/json")];

    fn capture(body: &str) -> Capture {
        Capture {
            body: Some(Bytes::from(body.to_owned())),
            len: body.len() as u64,
            end: End::Complete,
            at: Instant::now(),
        }
    }

    /// Judges `request` answered `status` with `body`.
    fn judged(request: Request, status: u16, body: &str) -> CaseOutcome {
        let contract = contract();
        let route = super::super::route::Routes::new(&contract).find("/v2/p/enginemgr/engines/e/actions");
        let sent = capture(&String::from_utf8_lossy(&request.body));
        let seen = Seen { number: 7, peer: "127.0.0.1:9".parse().unwrap(), route, request, started: Instant::now() };
        let headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        let answer = Answer::Upstream { status, headers, body: capture(body) };
        outcome(&contract, &Judging::default(), seen, &sent, answer)
    }

    fn failed(outcome: &CaseOutcome) -> Vec<CheckKind> {
        outcome.failed_checks().map(|c| c.check).collect()
    }

    #[test]
    fn a_conforming_exchange_passes_every_check_that_applies() {
        let outcome = judged(retry(r#"{"action":"Retry"}"#, &TOKEN), 200, r#"{"id":"e","name":"n","jobId":1}"#);
        assert_eq!(outcome.outcome, Outcome::Passed, "{:?}", outcome.checks);
        assert_eq!(outcome.name, "retry::exchange_7");
        assert!(outcome.checks.iter().any(|c| c.check == CheckKind::RequestConforms));
        // A refusal the proxy cannot tell from the state or the token's validity is conformant.
        for status in [400, 401, 429] {
            let body = r#"{"error_code":"X","error_msg":"m"}"#;
            assert_eq!(judged(retry(r#"{"action":"Retry"}"#, &TOKEN), status, body).outcome, Outcome::Passed);
        }
    }

    #[test]
    fn a_bad_request_fails_request_conforms_and_its_answer_is_judged_too() {
        let body = r#"{"error_code":"SVCSTG.00501000","error_msg":"bad"}"#;
        let outcome = judged(retry(r#"{"action":"Bogus"}"#, &TOKEN), 400, body);
        assert_eq!(failed(&outcome), [CheckKind::RequestConforms]);
        let accepted = judged(retry(r#"{"action":"Bogus"}"#, &TOKEN), 200, r#"{"id":"e","name":"n","jobId":1}"#);
        assert!(failed(&accepted).contains(&CheckKind::NegativeRejected), "{:?}", accepted.checks);
        let no_token = judged(retry(r#"{"action":"Retry"}"#, &TOKEN[1..]), 200, r#"{"id":"e","name":"n","jobId":1}"#);
        assert!(failed(&no_token).starts_with(&[CheckKind::RequestConforms]), "{:?}", no_token.checks);
        assert!(failed(&no_token).contains(&CheckKind::AuthEnforced));
    }

    /// The SDK's AK/SK requests carry no token: their signature stands for it.
    #[test]
    fn an_aksk_signed_request_has_its_credentials() {
        let signature = "SDK-HMAC-SHA256 Access=AK, SignedHeaders=content-type;host, Signature=0123abcd";
        let headers = [("Authorization", signature), ("Content-Type", "application/json"), ("Accept", "*/*")];
        let outcome = judged(retry(r#"{"action": "Retry"}"#, &headers), 200, r#"{"id":"e","name":"n","jobId":1}"#);
        assert_eq!(outcome.outcome, Outcome::Passed, "{:?}", outcome.checks);
        let basic = [("Authorization", "Basic dTpw"), ("Content-Type", "application/json"), ("Accept", "*/*")];
        let outcome = judged(retry(r#"{"action":"Retry"}"#, &basic), 401, r#"{"error_code":"X","error_msg":"m"}"#);
        assert_eq!(failed(&outcome), [CheckKind::RequestConforms]);
    }

    /// A compressed answer is judged for what it encodes, and recorded decoded, without the
    /// fields that describe the bytes on the wire; a coding the tool does not decode is not judged.
    #[test]
    fn a_compressed_answer_is_judged_decoded() {
        use std::io::Write as _;
        let contract = contract();
        let route = super::super::route::Routes::new(&contract).find("/v2/p/enginemgr/engines/e/actions");
        let answer = |coding: &str, body: &[u8]| {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder.write_all(body).unwrap();
            let gzipped = encoder.finish().unwrap();
            let headers = vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("content-encoding".to_owned(), coding.to_owned()),
                ("content-length".to_owned(), gzipped.len().to_string()),
            ];
            let body = Capture { body: Some(Bytes::from(gzipped)), ..capture("") };
            Answer::Upstream { status: 200, headers, body }
        };
        let mut headers = TOKEN.to_vec();
        headers.push(("Accept-Encoding", "gzip, deflate, zstd"));
        let judge = |coding: &str| {
            let request = retry(r#"{"action":"Retry"}"#, &headers);
            let sent = capture(r#"{"action":"Retry"}"#);
            let seen = Seen {
                number: 1,
                peer: "127.0.0.1:9".parse().unwrap(),
                route: route.clone(),
                request,
                started: Instant::now(),
            };
            outcome(&contract, &Judging::default(), seen, &sent, answer(coding, br#"{"id":"e","name":"n","jobId":1}"#))
        };
        let gzip = judge("gzip");
        assert_eq!(gzip.outcome, Outcome::Passed, "{:?}", gzip.checks);
        let response = gzip.response.as_ref().unwrap();
        assert_eq!(&response.body[..], br#"{"id":"e","name":"n","jobId":1}"#);
        assert_eq!((response.header("content-encoding"), response.header("content-length")), (None, None));
        assert!(gzip.note.unwrap().starts_with("the answer came with Content-Encoding: gzip ("));
        let zstd = judge("zstd");
        assert_eq!(zstd.outcome, Outcome::Skipped);
        assert!(zstd.note.unwrap().contains("Content-Encoding: zstd, which this tool does not decode"));
    }

    #[test]
    fn what_cannot_be_judged_says_why() {
        let contract = contract();
        let judging = Judging { max_body: 4, ..Judging::default() };
        let seen = |route| Seen {
            number: 1,
            peer: "127.0.0.1:9".parse().unwrap(),
            route,
            request: retry("", &TOKEN),
            started: Instant::now(),
        };
        let upstream = |body: &str| Answer::Upstream { status: 200, headers: Vec::new(), body: capture(body) };
        let unknown = outcome(&contract, &judging, seen(None), &capture(""), upstream("{}"));
        assert_eq!(
            (unknown.outcome, unknown.name.as_str(), unknown.status),
            (Outcome::Skipped, "unknown::exchange_1", Some(200))
        );
        let route = super::super::route::Routes::new(&contract).find("/v2/p/enginemgr/engines/e/actions");
        let over = Capture { body: None, len: 9, ..capture("") };
        let big = outcome(&contract, &judging, seen(route.clone()), &over, upstream("{}"));
        assert!(big.note.unwrap().contains("request body (9 bytes) is over --max-judged-body (4 bytes)"));
        let cut = Capture { end: End::Dropped, ..capture("{}") };
        let left = outcome(
            &contract,
            &judging,
            seen(route.clone()),
            &capture(""),
            Answer::Upstream { status: 200, headers: Vec::new(), body: cut },
        );
        assert_eq!(left.outcome, Outcome::Skipped);
        let error = TransportError::Connect("refused".into());
        let gateway = Answer::Gateway { error, status: 502 };
        let down = outcome(&contract, &judging, seen(route), &capture(""), gateway);
        assert_eq!(
            (down.outcome, down.note.as_deref()),
            (Outcome::Errored, Some("the proxy answered the client 502 (cse-contract.proxy.502)"))
        );
    }
}
