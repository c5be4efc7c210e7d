//! The JUnit XML report, in the form Jenkins and Ant read, byte for byte as quick-junit writes it: one `<testsuite>` per
//! source (case file), one `<testcase>` per case under its stable name. A failed check is a
//! `<failure type="CHECK" message="CHECK: expected …, got …">` whose text tells the whole story
//! (every failed check, the request as curl, the response); a transport problem is an `<error>`.
//! Every suite carries the run's properties: seed, target, version, contract hash, partial.

//!
//! quick-junit builds the whole report in memory, which a run of a million cases cannot afford, so
//! the report is written as a stream: each case's `<testcase>` element ([`case_xml`]) is rendered
//! when the case finishes, and [`write`] assembles the suites at the end. quick-junit stays the
//! reference: a test renders the same outcomes with it and compares the bytes.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::Duration;

use super::reporter::{FileReport, Fragments, RunEnd};
use super::{RunInfo, console};
use crate::outcome::{CaseOutcome, Outcome, RunSummary, SuiteTally};

/// Text as quick-junit writes it: ANSI escapes and characters XML cannot carry removed, then
/// the five XML special characters escaped.
fn xml(text: &str) -> String {
    // Most text needs nothing: no control character or escape sequence to drop (the work of
    // XmlString), no character to escape.
    // XML 1.0 forbids U+FFFE and U+FFFF too (its `Char` production), which XmlString keeps.
    let forbidden = |c: char| matches!(c, '\u{FFFE}' | '\u{FFFF}');
    let plain = |c: char| {
        !matches!(c, '<' | '>' | '&' | '\'' | '"')
            && (!c.is_control() || matches!(c, '\t' | '\n' | '\r'))
            && !forbidden(c)
    };
    if text.chars().all(plain) {
        return text.to_owned();
    }
    let clean = quick_junit::XmlString::new(text);
    let mut out = String::with_capacity(clean.as_str().len());
    for c in clean.as_str().chars().filter(|&c| !forbidden(c)) {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn seconds(time: Duration) -> String {
    format!("{:.3}", time.as_secs_f64())
}

/// The `<testcase>` element of one case (on its own line, indented for its place in a suite),
/// of an outcome already masked. `whole`: the failure text tells the full story; otherwise a
/// bounded one ([`console::failure_brief`]).
pub fn case_xml(outcome: &CaseOutcome, info: &RunInfo, whole: bool) -> String {
    let attributes = format!(
        r#"<testcase name="{}" classname="{}" time="{}""#,
        xml(&outcome.name),
        xml(&outcome.suite),
        seconds(outcome.duration)
    );
    let status = match outcome.outcome {
        Outcome::Passed => None,
        Outcome::Skipped => {
            Some(format!(r#"<skipped message="{}"/>"#, xml(outcome.note.as_deref().unwrap_or_default())))
        }
        Outcome::Failed | Outcome::Errored => {
            let tag = if outcome.outcome == Outcome::Errored { "error" } else { "failure" };
            let (ty, message) = match outcome.failed_checks().next() {
                Some(check) => (check.check.name().to_owned(), format!("{}: {}", check.check, check.message())),
                None => ("expected_failure".to_owned(), outcome.note.clone().unwrap_or_default()),
            };
            let detail =
                if whole { console::failure_detail(outcome, info) } else { console::failure_brief(outcome, info) };
            Some(format!(r#"<{tag} message="{}" type="{}">{}</{tag}>"#, xml(&message), xml(&ty), xml(detail.trim())))
        }
    };
    match (status, &outcome.note) {
        (None, None) => format!("\n        {attributes}/>"),
        (status, note) => {
            let mut element = format!("\n        {attributes}>");
            if let Some(status) = status {
                element.push_str("\n            ");
                element.push_str(&status);
            }
            if let Some(note) = note {
                let _ = write!(element, "\n            <system-out>{}</system-out>", xml(note));
            }
            element.push_str("\n        </testcase>");
            element
        }
    }
}

fn properties(info: &RunInfo, summary: &RunSummary) -> String {
    let seed = info.seed.map_or_else(|| "none".to_owned(), |s| s.to_string());
    let partition = info.partition.as_ref().map(super::ShardOf::label);
    let mut out = String::from("\n        <properties>");
    for (name, value) in [
        ("seed", seed.as_str()),
        ("target", info.target.as_str()),
        ("version", info.version),
        ("contract_hash", info.contract_hash.as_str()),
        ("partial", if summary.partial { "true" } else { "false" }),
    ] {
        let _ = write!(out, "\n            <property name=\"{}\" value=\"{}\"/>", xml(name), xml(value));
    }
    // Only a partitioned run has this property, so an unpartitioned report stays quick-junit's.
    if let Some(partition) = partition {
        let _ = write!(out, "\n            <property name=\"partition\" value=\"{}\"/>", xml(&partition));
    }
    out.push_str("\n        </properties>");
    out
}

/// The JUnit XML report as a [`FileReport`].
pub struct JunitReport {
    /// Where it goes.
    pub path: std::path::PathBuf,
}

impl FileReport for JunitReport {
    fn name(&self) -> &'static str {
        "JUnit"
    }

    fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn case(&self, outcome: &CaseOutcome, info: &RunInfo, whole: bool) -> Vec<u8> {
        case_xml(outcome, info, whole).into_bytes()
    }

    fn write(&self, out: &mut dyn Write, end: &RunEnd<'_>, fragment: &mut Fragments<'_>) -> io::Result<()> {
        let suites: Vec<&SuiteTally> = end.suites.iter().map(|(s, _)| *s).collect();
        write(out, end.summary, end.info, &suites, |index, out| {
            for &seq in &end.suites[index].1 {
                out.write_all(&fragment(seq)?)?;
            }
            Ok(())
        })
    }
}

/// Writes the report: one `<testsuite>` per entry of `suites` (in that order), each holding
/// the elements `cases` yields for it (from [`case_xml`]). The root carries no `skipped`
/// attribute, which the Jenkins/Ant XSD (junit-10.xsd) does not allow there, and no timestamp,
/// which it allows on `<testsuite>` only.
pub fn write<W: Write + ?Sized>(
    out: &mut W,
    summary: &RunSummary,
    info: &RunInfo,
    suites: &[&SuiteTally],
    mut cases: impl FnMut(usize, &mut W) -> io::Result<()>,
) -> io::Result<()> {
    let started = chrono::DateTime::<chrono::Utc>::from(summary.started).fixed_offset();
    let timestamp = started.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string();
    let tests: usize = suites.iter().map(|s| s.tests).sum();
    let failures: usize = suites.iter().map(|s| s.failures).sum();
    let errors: usize = suites.iter().map(|s| s.errors).sum();
    write!(
        out,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="cse-contract" tests="{tests}" failures="{failures}" errors="{errors}" time="{}">"#,
        seconds(summary.duration)
    )?;
    let properties = properties(info, summary);
    // No case finished (an interrupted run): one empty suite still carries the run's
    // properties, `partial` among them, which `<testsuites>` cannot hold.
    let empty = SuiteTally { name: "cse-contract".to_owned(), ..SuiteTally::default() };
    let no_case = suites.is_empty();
    let suites = if no_case { &[&empty][..] } else { suites };
    for (index, suite) in suites.iter().enumerate() {
        write!(
            out,
            r#"
    <testsuite name="{}" tests="{}" skipped="{}" errors="{}" failures="{}" timestamp="{timestamp}" time="{}">"#,
            xml(&suite.name),
            suite.tests,
            suite.skipped,
            suite.errors,
            suite.failures,
            seconds(suite.time)
        )?;
        out.write_all(properties.as_bytes())?;
        if !no_case {
            cases(index, out)?;
        }
        out.write_all(b"\n    </testsuite>")?;
    }
    out.write_all(b"\n</testsuites>\n")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

    use super::*;
    use crate::check::{CheckKind, CheckResult, Verdict};
    use crate::client::{Request, Response};
    use crate::outcome::Tally;
    use crate::plan::Origin;

    /// The report as quick-junit writes it (the reference this module's stream must match).
    fn reference(outcomes: &[CaseOutcome], summary: &RunSummary, info: &RunInfo) -> String {
        let mut report = Report::new("cse-contract");
        report.set_time(summary.duration);
        let seed = info.seed.map_or_else(|| "none".to_owned(), |s| s.to_string());
        let new_suite = |name: String| {
            let mut suite = TestSuite::new(name);
            suite.set_timestamp(chrono::DateTime::<chrono::Utc>::from(summary.started).fixed_offset());
            suite.add_properties([
                Property::new("seed", seed.clone()),
                Property::new("target", info.target.clone()),
                Property::new("version", info.version),
                Property::new("contract_hash", info.contract_hash.clone()),
                Property::new("partial", summary.partial.to_string()),
            ]);
            suite
        };
        let mut suites: Vec<TestSuite> = Vec::new();
        for outcome in outcomes {
            let status = match outcome.outcome {
                Outcome::Passed => TestCaseStatus::success(),
                Outcome::Skipped => {
                    let mut status = TestCaseStatus::skipped();
                    status.set_message(outcome.note.clone().unwrap_or_default());
                    status
                }
                Outcome::Failed | Outcome::Errored => {
                    let kind = if outcome.outcome == Outcome::Errored {
                        NonSuccessKind::Error
                    } else {
                        NonSuccessKind::Failure
                    };
                    let mut status = TestCaseStatus::non_success(kind);
                    let check = outcome.failed_checks().next().unwrap();
                    status
                        .set_type(check.check.name())
                        .set_message(format!("{}: {}", check.check, check.message()))
                        .set_description(console::failure_detail(outcome, info).trim());
                    status
                }
            };
            let mut case = TestCase::new(outcome.name.clone(), status);
            case.set_classname(outcome.suite.clone()).set_time(outcome.duration);
            if let Some(note) = &outcome.note {
                case.set_system_out(note.clone());
            }
            let index = suites.iter().position(|s| s.name.as_str() == outcome.suite).unwrap_or_else(|| {
                suites.push(new_suite(outcome.suite.clone()));
                suites.len() - 1
            });
            suites[index].add_test_case(case);
        }
        for suite in &mut suites {
            let time: Duration = suite.test_cases.iter().filter_map(|c| c.time).sum();
            suite.set_time(time);
        }
        if suites.is_empty() {
            let mut suite = new_suite("cse-contract".to_owned());
            suite.set_time(Duration::ZERO);
            suites.push(suite);
        }
        report.add_test_suites(suites);
        let xml = report.to_string().unwrap();
        let root_end = xml.find("<testsuite ").unwrap_or(xml.len());
        let root = xml[..root_end].replacen(&format!(" skipped=\"{}\"", summary.skipped), "", 1);
        format!("{root}{}", &xml[root_end..])
    }

    fn outcome(name: &str, suite: &str, outcome: Outcome, note: Option<&str>) -> CaseOutcome {
        let failed = matches!(outcome, Outcome::Failed | Outcome::Errored);
        CaseOutcome {
            name: name.to_owned(),
            suite: suite.to_owned(),
            source: format!("cases/{suite}.json"),
            description: "A <case> with \"quotes\", 'apostrophes' & a\u{1b}[31m colour".to_owned(),
            origin: Origin::HandWritten,
            minimal: None,
            outcome,
            checks: vec![CheckResult {
                check: CheckKind::StatusExpected,
                verdict: if failed { Verdict::failed("status 400", "200 <ok> & \u{7}bell") } else { Verdict::Passed },
            }],
            status: (outcome != Outcome::Skipped).then_some(200),
            duration: Duration::from_micros(1234),
            request: Request {
                method: "PUT".into(),
                url: "http://127.0.0.1:1/x?secret-token".into(),
                headers: vec![("X-Auth-Token".into(), "secret-token".into())],
                body: bytes::Bytes::from_static(b"{\"action\":\"Retry\"}"),
            },
            response: failed.then(|| Response {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: bytes::Bytes::from_static(b"{\"id\":\"<x>\"}"),
            }),
            note: note.map(str::to_owned),
            steps: Vec::new(),
        }
    }

    fn stream(outcomes: &[CaseOutcome], summary: &RunSummary, info: &RunInfo) -> String {
        let mut tally = Tally::default();
        let mut suite_of = Vec::new();
        for (seq, o) in outcomes.iter().enumerate() {
            suite_of.push(tally.add(seq, o));
        }
        let suites: Vec<&SuiteTally> = tally.suites().iter().collect();
        let mut out = Vec::new();
        write(&mut out, summary, info, &suites, |index, out| {
            for (o, _) in outcomes.iter().zip(&suite_of).filter(|(_, s)| **s == index) {
                out.write_all(case_xml(o, info, true).as_bytes())?;
            }
            Ok(())
        })
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_stream_is_byte_for_byte_what_quick_junit_writes() {
        let info = RunInfo {
            target: "http://127.0.0.1:1 <&>".into(),
            target_note: None,
            contract_hash: "abc".into(),
            version: "0.1.0",
            seed: Some(7),
            credential_headers: vec!["X-Auth-Token".into()],
            token_header: "X-Auth-Token".into(),
            bodies: None,
            signed: false,
            partition: None,
        };
        let mut secrets = crate::report::Secrets::default();
        secrets.add("secret-token");
        let mut outcomes = [
            outcome("a::passes", "a", Outcome::Passed, None),
            outcome("b::fails", "b", Outcome::Failed, None),
            outcome("a::noted", "a", Outcome::Passed, Some("failed as expected: <why> secret-token")),
            outcome("b::errors", "b", Outcome::Errored, None),
            outcome("c::skipped", "c", Outcome::Skipped, Some("side-effecting & remote")),
        ];
        // As the run does: outcomes are masked before they are rendered.
        for o in &mut outcomes {
            secrets.mask_outcome(o);
        }
        for outcomes in [&outcomes[..], &outcomes[..1], &[][..]] {
            let summary = RunSummary::of(outcomes, SystemTime::UNIX_EPOCH, false);
            let summary = RunSummary { duration: Duration::from_millis(1500), ..summary };
            let ours = stream(outcomes, &summary, &info);
            assert_eq!(ours, reference(outcomes, &summary, &info));
            assert!(!ours.contains("secret-token"), "{ours}");
        }
    }
}
