//! `merge`: one report from the JSON reports of a partitioned run's shards (`run --partition`).
//!
//! The inputs are checked first, all at once: each must be a shard's report of this version, and
//! together they must be of one contract, one seed and one target, one partitioning, with no
//! shard twice and none missing (unless `--allow-partial`), and no case in two shards.
//!
//! The merged JSON report keeps each case's line exactly as its shard wrote it (nothing is lost
//! or re-rendered), in the run's order: hand-written, stateful, then generated (the coverage
//! phase before the random cases, by index). The JUnit and HTML reports are rendered again, by
//! the same writers as a run's, from outcomes read back from those lines. Cases are read twice
//! from the files (first their order, then each one), so a merge of a million cases holds a few
//! bytes a case, not the cases.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use super::args::MergeArgs;
use super::error::{CliError, CliResult};
use super::exit;
use crate::check::{CheckKind, CheckResult, Verdict};
use crate::client::{Request, Response};
use crate::outcome::{CaseOutcome, Outcome, RunSummary, Shrunk, StepRecord};
use crate::plan::{Origin, StatefulOrigin};
use crate::report::reporter::{Console, Done, Recorder, ReportPaths, Reports};
use crate::report::{RunInfo, Secrets, ShardOf};

/// One shard's report: its head, and where each case's line is.
struct ShardReport {
    path: PathBuf,
    head: Map<String, Value>,
    partition: ShardOf,
    /// (offset, length) of each case's line in the file, and its order key.
    cases: Vec<(u64, usize, Key)>,
}

/// Where a case goes in the merged report: hand-written (by name), stateful (by name), the
/// coverage phase (by index), the random cases (by index).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Hand(String),
    Stateful(String),
    Coverage(usize),
    Random(usize),
}

/// `merge`.
pub(crate) fn merge(args: &MergeArgs) -> CliResult {
    let mut problems = Vec::new();
    let shards: Vec<ShardReport> = args
        .reports
        .iter()
        .filter_map(|path| read_shard(path).map_err(|problem| problems.push(problem)).ok())
        .collect();
    if !problems.is_empty() {
        return Err(CliError::Config(problems));
    }
    let (info, partial) = agree(&shards, args.allow_partial)?;
    let order = order(&shards)?;
    let started = shards.iter().filter_map(|s| started_at(&s.head)).min().unwrap_or_else(SystemTime::now);
    let ended = shards
        .iter()
        .filter_map(|s| Some(started_at(&s.head)? + Duration::from_millis(s.head["summary"]["duration_ms"].as_u64()?)))
        .max()
        .unwrap_or(started);
    let paths = ReportPaths { json: None, junit: args.junit.clone(), html: args.html.clone() };
    let linked = ReportPaths { json: args.json.clone(), ..paths.clone() };
    let mut formats: Vec<Box<dyn crate::report::reporter::FileReport>> = Vec::new();
    if let Some(path) = &paths.junit {
        formats.push(Box::new(crate::report::junit::JunitReport { path: path.clone() }));
    }
    if let Some(path) = &paths.html {
        formats.push(Box::new(crate::report::html::HtmlReport::new(path.clone(), &linked)));
    }
    let reports = Arc::new(Reports { formats, info: info.clone() });
    let mut recorder = Recorder::new(order.len(), (Box::new(Quiet), info.clone()), Some(reports.clone()), None);
    let mut lines =
        tempfile::tempfile().map_err(|e| CliError::config(format!("cannot create a temporary file: {e}")))?;
    let mut files: Vec<std::fs::File> = Vec::new();
    for shard in &shards {
        files.push(std::fs::File::open(&shard.path).map_err(|e| read_error(&shard.path, &e))?);
    }
    for (seq, (_, shard, case)) in order.iter().enumerate() {
        let (offset, len, _) = &shards[*shard].cases[*case];
        let line = read_line(&mut files[*shard], *offset, *len).map_err(|e| read_error(&shards[*shard].path, &e))?;
        let value: Value = serde_json::from_slice(&line)
            .map_err(|e| CliError::config(format!("{}: a case is not JSON: {e}", shards[*shard].path.display())))?;
        let outcome = outcome_of(&value, &info).map_err(|why| {
            CliError::config(format!("{}: case `{}`: {why}", shards[*shard].path.display(), value["name"]))
        })?;
        recorder.record(Done::new(seq, outcome, &Secrets::default(), Some(&reports), 0));
        write_line(&mut lines, &line).map_err(|e| CliError::config(format!("cannot write a temporary file: {e}")))?;
    }
    let mut summary = recorder.tally.summary(started, partial);
    summary.duration = ended.duration_since(started).unwrap_or_default();
    let stopped = stopped(&shards);
    let coverage = crate::report::coverage::render(&recorder.tally);
    if let Some(json) = &args.json {
        write_json(json, (&summary, &info, stopped.as_deref()), &recorder, &shards, &mut lines).map_err(|e| {
            CliError::Reports(vec![format!("failed to write the JSON report `{}`: {e}", json.display())])
        })?;
    }
    recorder.write_reports(&summary, stopped.as_deref(), &coverage).map_err(CliError::Reports)?;
    print_summary(&summary, &info, shards.len(), partial);
    // A partial merge (--allow-partial) says so; its exit code is that of the cases it holds.
    Ok(if summary.failed + summary.errored == 0 { exit::SUCCESS } else { exit::FAILURES })
}

/// A console that prints nothing: `merge` says its result in one line at the end.
struct Quiet;

impl Console for Quiet {
    fn case_finished(&mut self, _: &CaseOutcome, _: bool, _: &RunInfo) {}
    fn demoted(&mut self, _: &CaseOutcome, _: &RunInfo) {}
    fn run_finished(&mut self, _: &[(String, String)], _: usize) {}
}

fn read_error(path: &Path, e: &dyn std::fmt::Display) -> CliError {
    CliError::config(format!("failed to read `{}`: {e}", path.display()))
}

/// Reads a shard's head, and where its cases are, line by line (a report writes each case on a
/// line of its own after `"cases": [`).
fn read_shard(path: &Path) -> Result<ShardReport, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("failed to read `{shown}`: {e}"))?;
    let mut reader = BufReader::new(file);
    let mut head = String::new();
    let mut offset = 0u64;
    let mut line = Vec::new();
    let mut cases = Vec::new();
    let mut in_cases = false;
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(|e| format!("failed to read `{shown}`: {e}"))?;
        if read == 0 {
            break;
        }
        let start = offset;
        offset += read as u64;
        if !in_cases {
            if line.starts_with(b"  \"cases\": [") {
                in_cases = true;
                // An empty report closes the array on the same line.
                continue;
            }
            head.push_str(&String::from_utf8_lossy(&line));
            continue;
        }
        let text = line.trim_ascii_end();
        let text = text.strip_suffix(b",").unwrap_or(text);
        let trimmed = text.trim_ascii_start();
        if !trimmed.starts_with(b"{") {
            continue;
        }
        let indent = text.len() - trimmed.len();
        let value: Value = serde_json::from_slice(trimmed)
            .map_err(|e| format!("`{shown}` is not a cse-contract JSON report: a case line is not JSON ({e})"))?;
        cases.push((start + indent as u64, trimmed.len(), key_of(&value)));
    }
    if !in_cases {
        return Err(format!("`{shown}` is not a cse-contract JSON report (no \"cases\")"));
    }
    let head = format!("{}\n}}", head.trim_end().trim_end_matches(','));
    let head: Map<String, Value> =
        serde_json::from_str(&head).map_err(|e| format!("`{shown}` is not a cse-contract JSON report ({e})"))?;
    if head.get("tool").and_then(Value::as_str) != Some("cse-contract") {
        return Err(format!("`{shown}` is not a cse-contract JSON report"));
    }
    let partition = head
        .get("partition")
        .cloned()
        .and_then(|p| serde_json::from_value::<ShardOf>(p).ok())
        .filter(|p| p.shards.len() == 1)
        .ok_or_else(|| {
            format!("`{shown}` is not the report of a shard: it was not run with --partition (or is itself merged)")
        })?;
    Ok(ShardReport { path: path.to_path_buf(), head, partition, cases })
}

fn key_of(case: &Value) -> Key {
    let name = case["name"].as_str().unwrap_or_default().to_owned();
    match case["kind"].as_str() {
        Some("stateful") => Key::Stateful(name),
        Some("generated") => {
            let index = case["mutation"]["index"].as_u64().and_then(|i| usize::try_from(i).ok()).unwrap_or(0);
            if case["mutation"]["family"] == "coverage" { Key::Coverage(index) } else { Key::Random(index) }
        }
        _ => Key::Hand(name),
    }
}

/// Whether the shards belong together; the merged run's facts, and whether it is partial.
fn agree(shards: &[ShardReport], allow_partial: bool) -> Result<(RunInfo, bool), CliError> {
    let Some(first) = shards.first() else {
        return Err(CliError::config("no report to merge"));
    };
    let mut problems = Vec::new();
    let ours = env!("CARGO_PKG_VERSION");
    // The embedded mock listens on a fresh port in each shard: its shards agree on the note.
    let target = |s: &ShardReport| match s.head.get("target_note").and_then(Value::as_str) {
        Some(note) if note.starts_with("embedded mock") => note.to_owned(),
        _ => s.head["target"].as_str().unwrap_or_default().to_owned(),
    };
    for shard in shards {
        let shown = shard.path.display();
        if shard.head["version"] != ours {
            problems.push(format!("`{shown}` was written by cse-contract {}, this is {ours}", shard.head["version"]));
        }
        for (field, what) in [("contract_hash", "contract"), ("seed", "seed")] {
            if shard.head[field] != first.head[field] {
                problems.push(format!(
                    "`{shown}` is of another {what} ({}) than `{}` ({})",
                    shard.head[field],
                    first.path.display(),
                    first.head[field]
                ));
            }
        }
        if target(shard) != target(first) {
            problems.push(format!(
                "`{shown}` is of another target ({}) than `{}` ({})",
                target(shard),
                first.path.display(),
                target(first)
            ));
        }
        let (p, q) = (&shard.partition, &first.partition);
        if (&p.strategy, p.total, p.selected) != (&q.strategy, q.total, q.selected) {
            problems.push(format!(
                "`{shown}` is shard {} of {} cases, `{}` shard {} of {}: were they run with the same flags?",
                p.label(),
                p.selected,
                first.path.display(),
                q.label(),
                q.selected
            ));
        }
    }
    let mut by_shard: BTreeMap<usize, &Path> = BTreeMap::new();
    for shard in shards {
        let index = shard.partition.shards[0];
        if let Some(earlier) = by_shard.insert(index, &shard.path) {
            problems.push(format!(
                "`{}` and `{}` are both shard {index}: each shard once",
                earlier.display(),
                shard.path.display()
            ));
        }
    }
    let total = first.partition.total;
    let missing: Vec<String> = (1..=total).filter(|i| !by_shard.contains_key(i)).map(|i| i.to_string()).collect();
    if !missing.is_empty() && !allow_partial {
        problems.push(format!(
            "shard(s) {} of {total} missing (--allow-partial merges the others, marking the report partial)",
            missing.join(", ")
        ));
    }
    let interrupted = shards.iter().any(|s| s.head["partial"] == true);
    let in_shards: usize = shards.iter().map(|s| s.cases.len()).sum();
    if missing.is_empty() && !interrupted && in_shards != first.partition.selected && problems.is_empty() {
        problems.push(format!(
            "the shards hold {in_shards} cases, and the run selected {}: were they run with the same flags?",
            first.partition.selected
        ));
    }
    if !problems.is_empty() {
        let count = crate::report::console::plural(problems.len(), "problem", "problems");
        problems.push(format!("{count} with the reports; nothing was written"));
        return Err(CliError::Config(problems));
    }
    let head = &first.head;
    let info = RunInfo {
        target: head["target"].as_str().unwrap_or_default().to_owned(),
        target_note: head.get("target_note").and_then(Value::as_str).map(str::to_owned),
        contract_hash: head["contract_hash"].as_str().unwrap_or_default().to_owned(),
        version: ours,
        seed: head["seed"].as_u64(),
        // The values were masked in the shards; these names keep the curl lines' `***` masked.
        credential_headers: vec!["X-Auth-Token".into(), "Authorization".into(), "X-Security-Token".into()],
        token_header: "X-Auth-Token".into(),
        bodies: None,
        signed: false,
        partition: Some(ShardOf { shards: by_shard.keys().copied().collect(), ..first.partition.clone() }),
    };
    Ok((info, !missing.is_empty() || interrupted))
}

/// Every case of every shard in the merged order: (key, shard, its place in the shard).
fn order(shards: &[ShardReport]) -> Result<Vec<(Key, usize, usize)>, CliError> {
    let mut order: Vec<(Key, usize, usize)> = shards
        .iter()
        .enumerate()
        .flat_map(|(s, shard)| shard.cases.iter().enumerate().map(move |(c, (_, _, key))| (key.clone(), s, c)))
        .collect();
    order.sort();
    for pair in order.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(CliError::config(format!(
                "the case {:?} is in both `{}` and `{}`: the shards overlap (were they run with the same seed and flags?)",
                pair[0].0,
                shards[pair[0].1].path.display(),
                shards[pair[1].1].path.display()
            )));
        }
    }
    Ok(order)
}

fn started_at(head: &Map<String, Value>) -> Option<SystemTime> {
    let text = head.get("started_at")?.as_str()?;
    chrono::DateTime::parse_from_rfc3339(text).ok().map(SystemTime::from)
}

fn stopped(shards: &[ShardReport]) -> Option<String> {
    let notes: Vec<String> = shards
        .iter()
        .filter_map(|s| Some(format!("shard {}: {}", s.partition.shards[0], s.head.get("stopped")?.as_str()?)))
        .collect();
    (!notes.is_empty()).then(|| notes.join("; "))
}

fn read_line(file: &mut std::fs::File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    file.seek(std::io::SeekFrom::Start(offset))?;
    let mut line = vec![0; len];
    file.read_exact(&mut line)?;
    Ok(line)
}

/// Each case's line into `lines`, after its length (to be read back in order).
fn write_line(lines: &mut std::fs::File, line: &[u8]) -> std::io::Result<()> {
    lines.write_all(&(line.len() as u64).to_le_bytes())?;
    lines.write_all(line)
}

/// The merged JSON report: the run's fields recomputed, then every case's line as its shard
/// wrote it.
fn write_json(
    path: &Path,
    (summary, info, stopped): (&RunSummary, &RunInfo, Option<&str>),
    recorder: &Recorder,
    shards: &[ShardReport],
    lines: &mut std::fs::File,
) -> std::io::Result<()> {
    let merged: Vec<crate::report::json::MergedShard> = shards
        .iter()
        .map(|s| crate::report::json::MergedShard {
            file: s.path.display().to_string(),
            shard: s.partition.shards[0],
            started_at: s.head["started_at"].as_str().unwrap_or_default().to_owned(),
            duration_ms: s.head["summary"]["duration_ms"].as_u64().unwrap_or(0),
            total: s.cases.len(),
            partial: s.head["partial"] == true,
        })
        .collect();
    lines.seek(std::io::SeekFrom::Start(0))?;
    let mut reader = BufReader::new(lines);
    let cases = std::iter::from_fn(move || {
        let mut len = [0u8; 8];
        match reader.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
            Err(e) => return Some(Err(e)),
        }
        let mut line = vec![0; usize::try_from(u64::from_le_bytes(len)).unwrap_or(0)];
        Some(reader.read_exact(&mut line).map(|()| line))
    });
    crate::report::replace_file(path, |out| {
        crate::report::json::write_report(out, (summary, info, stopped), &recorder.groups, Some(&merged), cases)
    })
}

fn print_summary(summary: &RunSummary, info: &RunInfo, reports: usize, partial: bool) {
    let shards = info.partition.as_ref().map(ShardOf::label).unwrap_or_default();
    println!(
        "merged {reports} shard report(s) ({shards}): {} cases, {} passed, {} failed, {} errored, {} skipped{}",
        summary.total,
        summary.passed,
        summary.failed,
        summary.errored,
        summary.skipped,
        if partial { "; partial: shards missing or interrupted" } else { "" }
    );
}

/// A case of a report read back as the outcome the report writers render.
fn outcome_of(case: &Value, info: &RunInfo) -> Result<CaseOutcome, String> {
    let text = |field: &str| case[field].as_str().unwrap_or_default().to_owned();
    let outcome = match case["outcome"].as_str() {
        Some("passed") => Outcome::Passed,
        Some("failed") => Outcome::Failed,
        Some("errored") => Outcome::Errored,
        Some("skipped") => Outcome::Skipped,
        other => return Err(format!("unknown outcome {other:?}")),
    };
    let checks = case["checks"].as_array().map(Vec::as_slice).unwrap_or_default();
    let checks = checks.iter().map(check_of).collect::<Result<Vec<_>, _>>()?;
    // A report keeps the request of a case that did not pass; one that was never built (an
    // errored case without one) keeps none, and the others are told as built.
    let request = match case.get("sent") {
        Some(sent) => request_of(sent),
        None if outcome == Outcome::Errored => Request::default(),
        None => Request { url: "(not kept in the report)".into(), ..Request::default() },
    };
    let origin = origin_of(case, info)?;
    Ok(CaseOutcome {
        name: text("name"),
        suite: text("suite"),
        source: text("source"),
        description: text("description"),
        minimal: case.get("minimal").map(|m| minimal_of(m, &origin)).transpose()?,
        origin,
        outcome,
        checks,
        status: case["status"].as_u64().and_then(|s| u16::try_from(s).ok()),
        duration: Duration::from_millis(case["duration_ms"].as_u64().unwrap_or(0)),
        request,
        response: case.get("response").map(|r| Response {
            status: r["status"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(0),
            headers: pairs(&r["headers"]),
            body: bytes::Bytes::from(r["body"].as_str().unwrap_or_default().to_owned()),
        }),
        note: case["note"].as_str().map(str::to_owned),
        steps: case["steps"].as_array().map(Vec::as_slice).unwrap_or_default().iter().map(step_of).collect(),
    })
}

fn check_kind(name: &Value) -> Result<CheckKind, String> {
    let name = name.as_str().unwrap_or_default();
    CheckKind::from_name(name).ok_or_else(|| format!("unknown check `{name}`"))
}

fn check_of(check: &Value) -> Result<CheckResult, String> {
    let message = check["message"].as_str().unwrap_or_default();
    let verdict = if check["skipped"] == true {
        Verdict::Skipped(message.strip_prefix("skipped: ").unwrap_or(message).to_owned())
    } else if check["passed"] == true {
        Verdict::Passed
    } else {
        let (expected, actual) = match (check["expected"].as_str(), check["actual"].as_str()) {
            (Some(expected), Some(actual)) => (expected.to_owned(), actual.to_owned()),
            _ => {
                let message = message.strip_prefix("expected ").unwrap_or(message);
                let (e, a) = message.split_once(", got ").unwrap_or((message, "?"));
                (e.to_owned(), a.to_owned())
            }
        };
        let details = check["details"].as_array().map(Vec::as_slice).unwrap_or_default();
        let details = details.iter().filter_map(Value::as_str).map(str::to_owned).collect();
        Verdict::Failed { expected, actual, details }
    };
    Ok(CheckResult { check: check_kind(&check["name"])?, verdict })
}

fn pairs(value: &Value) -> Vec<(String, String)> {
    let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .filter_map(|pair| Some((pair.get(0)?.as_str()?.to_owned(), pair.get(1)?.as_str()?.to_owned())))
        .collect()
}

fn request_of(sent: &Value) -> Request {
    let body = if let Some(text) = sent["body"].as_str() {
        bytes::Bytes::from(text.to_owned())
    } else if let Some(encoded) = sent["body_base64"].as_str() {
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded)
            .map(bytes::Bytes::from)
            .unwrap_or_default()
    } else if let Some(file) = sent["body_file"].as_str() {
        std::fs::read(file).map(bytes::Bytes::from).unwrap_or_default()
    } else {
        bytes::Bytes::new()
    };
    Request {
        method: sent["method"].as_str().unwrap_or_default().to_owned(),
        url: sent["url"].as_str().unwrap_or_default().to_owned(),
        headers: pairs(&sent["headers"]),
        body,
    }
}

fn origin_of(case: &Value, info: &RunInfo) -> Result<Origin, String> {
    let name = case["name"].as_str().unwrap_or_default();
    Ok(match case["kind"].as_str() {
        Some("generated") => {
            let m = &case["mutation"];
            let family = match m["family"].as_str() {
                Some("positive") => crate::generate::Family::Positive,
                Some("negative") => crate::generate::Family::Negative,
                Some("robustness") => crate::generate::Family::Robustness,
                Some("coverage") => crate::generate::Family::Coverage,
                other => return Err(format!("unknown family {other:?}")),
            };
            Origin::Generated {
                family,
                mutation: m["kind"].as_str().unwrap_or_default().to_owned(),
                description: m["description"].as_str().unwrap_or_default().to_owned(),
                seed: m["seed"].as_u64().unwrap_or(0),
                index: m["index"].as_u64().and_then(|i| usize::try_from(i).ok()).unwrap_or(0),
            }
        }
        Some("stateful") => match name.strip_prefix("stateful::sequence::") {
            Some(index) => Origin::Stateful(StatefulOrigin::Sequence {
                seed: info.seed.unwrap_or(0),
                index: index.parse().map_err(|_| format!("`{name}` is not a sequence's name"))?,
            }),
            None => {
                let property = name.strip_prefix("stateful::").unwrap_or(name);
                Origin::Stateful(StatefulOrigin::Property(check_kind(&Value::from(property))?))
            }
        },
        _ => Origin::HandWritten,
    })
}

fn step_of(step: &Value) -> StepRecord {
    StepRecord {
        label: step["label"].as_str().unwrap_or_default().to_owned(),
        request: step.get("sent").map(request_of).unwrap_or_default(),
        status: step["status"].as_u64().and_then(|s| u16::try_from(s).ok()),
        note: step["note"].as_str().map(str::to_owned),
        body: step["body"].as_str().map(str::to_owned),
        duration: Duration::from_millis(step["duration_ms"].as_u64().unwrap_or(0)),
        failed: step["failed_checks"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|c| CheckKind::from_name(c.as_str()?))
            .collect(),
    }
}

fn minimal_of(minimal: &Value, origin: &Origin) -> Result<Shrunk, String> {
    let request = request_of(&minimal["sent"]);
    let case = crate::plan::PlannedCase {
        name: String::new(),
        operation: crate::contract::OpId(0),
        side_effecting: false,
        source: String::new(),
        suite: String::new(),
        description: minimal["description"].as_str().unwrap_or_default().to_owned(),
        request,
        path_parameters: Map::new(),
        class: crate::plan::Classification::default(),
        expect: crate::plan::PlannedExpect { statuses: Vec::new(), schema: None, assertions: Vec::new() },
        skip_checks: BTreeMap::new(),
        expected_failure: None,
        origin: origin.clone(),
        skip: None,
    };
    Ok(Shrunk {
        case,
        steps: minimal["steps"].as_u64().and_then(|s| usize::try_from(s).ok()).unwrap_or(0),
        check: check_kind(&minimal["check"])?,
        throttled: false,
    })
}
