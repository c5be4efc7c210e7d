//! The JSON report. Field names of the harness issue are fixed: `summary` {total, passed,
//! failed, errored, duration_ms}, `target`, `cases` [{name, kind, outcome, failed_checks,
//! checks [{name, passed, message}], status, duration_ms}]; the rest is added beside them.
//! The run's fields come first, pretty-printed; then each case on one line, in plan order.

use std::io::{self, Write};

use serde::Serialize;

use super::reporter::{FileReport, Fragments, RunEnd};
use super::{RunInfo, curl_with};
use crate::check::{CheckResult, Verdict};
use crate::outcome::{CaseKind, CaseOutcome, Outcome, RunSummary};
use crate::plan::Origin;

/// Response bodies are cut to this many bytes in the report.
const MAX_BODY: usize = 16 * 1024;

#[derive(Serialize)]
struct Head<'a> {
    tool: &'static str,
    version: &'static str,
    target: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_note: Option<&'a str>,
    contract_hash: &'a str,
    seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    partition: Option<&'a super::ShardOf>,
    started_at: String,
    partial: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped: Option<&'a str>,
    summary: Summary,
    failure_groups: Vec<Group<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    merged: Option<&'a [MergedShard]>,
}

/// One shard's report in a merged report (`cse-contract merge`).
#[derive(Debug, Clone, Serialize)]
pub struct MergedShard {
    /// The report's path, as given to `merge`.
    pub file: String,
    /// Which shard, from 1.
    pub shard: usize,
    /// When the shard started (RFC 3339, as its report says).
    pub started_at: String,
    /// Its wall time.
    pub duration_ms: u64,
    /// Its cases.
    pub total: usize,
    /// It was interrupted or stopped early.
    pub partial: bool,
}

#[derive(Serialize)]
struct Group<'a> {
    outcome: Outcome,
    checks: &'a [&'static str],
    count: usize,
    example: &'a str,
    suites: Vec<Share<'a>>,
}

#[derive(Serialize)]
struct Share<'a> {
    suite: &'a str,
    count: usize,
    example: &'a str,
}

#[derive(Serialize)]
struct Summary {
    total: usize,
    passed: usize,
    failed: usize,
    errored: usize,
    skipped: usize,
    duration_ms: u128,
}

#[derive(Serialize)]
struct Case<'a> {
    name: &'a str,
    suite: &'a str,
    source: &'a str,
    description: &'a str,
    kind: CaseKind,
    outcome: Outcome,
    failed_checks: Vec<&'static str>,
    checks: Vec<Check>,
    status: Option<u16>,
    duration_ms: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sent: Option<Sent<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<Response>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mutation: Option<Mutation<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    minimal: Option<Minimal<'a>>,
    /// A stateful case's requests, when it did not pass.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    steps: Vec<StepLine<'a>>,
}

/// One request of a stateful case.
#[derive(Serialize)]
struct StepLine<'a> {
    label: &'a str,
    request: String,
    status: Option<u16>,
    duration_ms: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    /// The request as data (`cse-contract merge` renders the step again from it).
    sent: Sent<'a>,
    failed_checks: Vec<&'static str>,
}

#[derive(Serialize)]
struct Mutation<'a> {
    family: &'static str,
    kind: &'a str,
    description: &'a str,
    seed: u64,
    index: usize,
}

/// The request as data, for `cse-contract replay` (masked: the token is `***`).
#[derive(Serialize)]
struct Sent<'a> {
    method: &'a str,
    url: &'a str,
    headers: &'a [(String, String)],
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_base64: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_file: Option<String>,
    /// A body not kept: over 4096 bytes, of a case not told in full (its group's example is).
    #[serde(skip_serializing_if = "Option::is_none")]
    body_omitted: Option<usize>,
}

fn sent<'a>(request: &'a crate::client::Request, bodies: Option<&std::path::Path>) -> Sent<'a> {
    let mut sent = Sent {
        method: &request.method,
        url: &request.url,
        headers: &request.headers,
        body: None,
        body_base64: None,
        body_file: None,
        body_omitted: None,
    };
    if request.body.is_empty() {
        return sent;
    }
    if request.body.len() > super::MAX_INLINE && bodies.is_none() {
        sent.body_omitted = Some(request.body.len());
        return sent;
    }
    let file = bodies
        .filter(|_| request.body.len() > super::MAX_INLINE)
        .and_then(|dir| super::body_file(dir, &request.body).ok());
    match (file, std::str::from_utf8(&request.body)) {
        (Some(path), _) => sent.body_file = Some(path.display().to_string()),
        (None, Ok(text)) => sent.body = Some(text),
        (None, Err(_)) => {
            sent.body_base64 = Some(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &request.body));
        }
    }
    sent
}

#[derive(Serialize)]
struct Minimal<'a> {
    description: &'a str,
    request: String,
    sent: Sent<'a>,
    steps: usize,
    check: &'static str,
}

#[derive(Serialize)]
struct Check {
    name: &'static str,
    passed: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    skipped: bool,
    message: std::borrow::Cow<'static, str>,
    /// A failed check's two halves, so that a merged report can render it again.
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actual: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    details: Vec<String>,
}

#[derive(Serialize)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn check(result: &CheckResult) -> Check {
    Check {
        name: result.check.name(),
        passed: !result.failed(),
        skipped: matches!(result.verdict, Verdict::Skipped(_)),
        message: match result.verdict {
            Verdict::Passed => "ok".into(),
            _ => result.message().into(),
        },
        expected: match &result.verdict {
            Verdict::Failed { expected, .. } => Some(expected.clone()),
            _ => None,
        },
        actual: match &result.verdict {
            Verdict::Failed { actual, .. } => Some(actual.clone()),
            _ => None,
        },
        details: match &result.verdict {
            Verdict::Failed { details, .. } => details.clone(),
            _ => Vec::new(),
        },
    }
}

fn case<'a>(outcome: &'a CaseOutcome, info: &RunInfo, whole: bool) -> Case<'a> {
    // Only a case told in full gets its large body written beside the report.
    let bodies = if whole { info.bodies.as_deref() } else { None };
    // A case that could not be built has no request to show.
    let shown = matches!(outcome.outcome, Outcome::Failed | Outcome::Errored) && outcome.built();
    Case {
        name: &outcome.name,
        suite: &outcome.suite,
        source: &outcome.source,
        description: &outcome.description,
        kind: outcome.kind(),
        outcome: outcome.outcome,
        failed_checks: outcome.failed_checks().map(|c| c.check.name()).collect(),
        checks: outcome.checks.iter().map(check).collect(),
        status: outcome.status,
        duration_ms: outcome.duration.as_millis(),
        note: outcome.note.as_deref(),
        request: shown.then(|| curl_with(&outcome.request, info, bodies)),
        sent: shown.then(|| sent(&outcome.request, bodies)),
        mutation: match &outcome.origin {
            Origin::Generated { family, mutation, description, seed, index } => {
                Some(Mutation { family: family.name(), kind: mutation, description, seed: *seed, index: *index })
            }
            Origin::HandWritten | Origin::Stateful(_) | Origin::Observed => None,
        },
        minimal: outcome.minimal.as_ref().map(|m| Minimal {
            description: &m.case.description,
            request: curl_with(&m.case.request, info, bodies),
            sent: sent(&m.case.request, bodies),
            steps: m.steps,
            check: m.check.name(),
        }),
        steps: if shown {
            outcome
                .steps
                .iter()
                .map(|step| StepLine {
                    label: &step.label,
                    request: curl_with(&step.request, info, bodies),
                    status: step.status,
                    duration_ms: step.duration.as_millis(),
                    note: step.note.as_deref(),
                    body: step.body.as_deref(),
                    sent: sent(&step.request, bodies),
                    failed_checks: step.failed.iter().map(|c| c.name()).collect(),
                })
                .collect()
        } else {
            Vec::new()
        },
        response: outcome.response.as_ref().map(|r| Response {
            status: r.status,
            headers: r.headers.clone(),
            body: super::console::body_preview(&r.body, MAX_BODY),
        }),
    }
}

/// One case of the report as a line of JSON (of an outcome already masked:
/// [`Secrets::mask_outcome`](super::Secrets::mask_outcome)).
pub fn case_line(outcome: &CaseOutcome, info: &RunInfo, whole: bool) -> String {
    serde_json::to_string(&case(outcome, info, whole)).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The JSON report as a [`FileReport`].
pub struct JsonReport {
    /// Where it goes.
    pub path: std::path::PathBuf,
}

impl FileReport for JsonReport {
    fn name(&self) -> &'static str {
        "JSON"
    }

    fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn case(&self, outcome: &CaseOutcome, info: &RunInfo, whole: bool) -> Vec<u8> {
        case_line(outcome, info, whole).into_bytes()
    }

    fn write(&self, out: &mut dyn Write, end: &RunEnd<'_>, fragment: &mut Fragments<'_>) -> io::Result<()> {
        let run = (end.summary, end.info, end.stopped);
        write_report(out, run, end.groups, None, end.finished.iter().map(|&seq| fragment(seq)))
    }
}

/// Writes a report of a run's facts and `cases` (each one line of JSON, from [`case_line`]);
/// `merged` lists the shards of a merged report.
pub fn write_report(
    out: &mut dyn Write,
    (summary, info, stopped): (&RunSummary, &RunInfo, Option<&str>),
    groups: &crate::outcome::FailureGroups,
    merged: Option<&[MergedShard]>,
    cases: impl Iterator<Item = io::Result<Vec<u8>>>,
) -> io::Result<()> {
    let groups = groups.sorted();
    let groups = groups
        .iter()
        .map(|g| Group {
            outcome: g.outcome,
            checks: &g.checks,
            count: g.count,
            example: &g.example().example,
            suites: g
                .suites_sorted()
                .into_iter()
                .map(|s| Share { suite: &s.suite, count: s.count, example: &s.example })
                .collect(),
        })
        .collect();
    write(out, (summary, info, stopped, groups), merged, cases)
}

/// Writes the report: the run's fields and summary pretty-printed, then `cases`, one line of
/// JSON each (from [`case_line`]), so a report of a million cases is written as it is read,
/// never held whole.
fn write(
    out: &mut dyn Write,
    (summary, info, stopped, failure_groups): (&RunSummary, &RunInfo, Option<&str>, Vec<Group<'_>>),
    merged: Option<&[MergedShard]>,
    cases: impl Iterator<Item = io::Result<Vec<u8>>>,
) -> io::Result<()> {
    let head = Head {
        tool: "cse-contract",
        version: info.version,
        target: &info.target,
        target_note: info.target_note.as_deref(),
        contract_hash: &info.contract_hash,
        seed: info.seed,
        partition: info.partition.as_ref(),
        started_at: chrono::DateTime::<chrono::Utc>::from(summary.started)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        partial: summary.partial,
        stopped,
        failure_groups,
        merged,
        summary: Summary {
            total: summary.total,
            passed: summary.passed,
            failed: summary.failed,
            errored: summary.errored,
            skipped: summary.skipped,
            duration_ms: summary.duration.as_millis(),
        },
    };
    let head = serde_json::to_string_pretty(&head).map_err(io::Error::other)?;
    out.write_all(head.trim_end().trim_end_matches('}').trim_end().as_bytes())?;
    out.write_all(b",\n  \"cases\": [")?;
    let mut first = true;
    for line in cases {
        out.write_all(if first { b"\n    " } else { b",\n    " })?;
        out.write_all(&line?)?;
        first = false;
    }
    out.write_all(if first { b"]\n}\n" } else { b"\n  ]\n}\n" })
}
