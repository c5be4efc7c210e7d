//! The console pieces that libtest-mimic does not print: the run's header, and the full story
//! of a case that did not pass (failed checks with expected and actual, the request as curl,
//! the response), which becomes the trial's failure message and the JUnit failure text.

use std::fmt::Write as _;

use super::{RunInfo, curl, curl_with};
use crate::check::Verdict;
use crate::outcome::CaseOutcome;
use crate::plan::Origin;

/// Response bodies are cut to this many bytes on the console.
const MAX_BODY: usize = 4096;

/// Whether `c` is written as its escape: a control character other than newline and tab (ESC,
/// BEL, NUL, CR, DEL, C1), or an invisible formatting one that reorders or hides text (the
/// bidirectional overrides and isolates, zero-width characters, the BOM: "Trojan Source").
pub fn is_unprintable(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// `text` safe for a terminal: a control character a target sent (ESC, BEL, NUL, CR, DEL, C1)
/// is written as an escape (`\u{1b}`), so an answer cannot set the window title, clear the
/// screen or print a line of its own, and so is a formatting character that would reorder what
/// is shown ([`is_unprintable`]); newlines and tabs, which the stories are made of, stay.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(is_unprintable) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unprintable(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The line printed before the run: the target and how many cases.
pub fn header(info: &RunInfo, cases: usize) -> String {
    let note = info.target_note.as_ref().map(|n| format!(" ({n})")).unwrap_or_default();
    // libtest's own `running N tests` follows: this line says where to, not a second count.
    format!("\ntarget: {}{note}, {}\n", info.target, plural(cases, "case", "cases"))
}

/// `n` and the word for it: `1 case`, `2 cases`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The full story of one case that did not pass.
pub fn failure_detail(outcome: &CaseOutcome, info: &RunInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "  {}  [{}]", outcome.description, outcome.source);
    if let Origin::Generated { family, mutation, seed, index, .. } = &outcome.origin {
        let _ = writeln!(out, "  generated: {}::{mutation}, seed {seed}, case {index}", family.name());
    }
    if let Some(note) = &outcome.note {
        let _ = writeln!(out, "  note: {note}");
    }
    for check in outcome.checks.iter().filter(|c| c.failed()) {
        let _ = writeln!(out, "  {}: {}", check.check, check.message());
        if let Verdict::Failed { details, .. } = &check.verdict {
            for detail in details {
                let _ = writeln!(out, "      {detail}");
            }
        }
    }
    if !outcome.steps.is_empty() {
        steps(&mut out, outcome, info, true);
        return out;
    }
    if outcome.built() {
        let _ = writeln!(out, "  request:\n    {}", curl(&outcome.request, info));
    } else {
        let _ = writeln!(out, "  request: none, the case could not be built");
    }
    if let Some(minimal) = &outcome.minimal {
        let _ = writeln!(
            out,
            "  minimal input (after {} shrinking requests, still fails {}): {}\n    {}",
            minimal.steps,
            minimal.check,
            minimal.case.description,
            curl(&minimal.case.request, info)
        );
    }
    if let Some(response) = &outcome.response {
        let _ = writeln!(out, "  response: {}", response.status);
        for (name, value) in &response.headers {
            let _ = writeln!(out, "    {name}: {value}");
        }
        if !response.body.is_empty() {
            // Every line of the body indented: a line of its own could pass for the run's.
            let _ = writeln!(out, "    {}", body_preview(&response.body, MAX_BODY).replace('\n', "\n    "));
        }
    }
    out
}

/// A stateful case's requests, in order, as curl, each with its answer's status, the checks that
/// failed on it and (`whole`) the start of its body: the sequence that reproduces the failure.
fn steps(out: &mut String, outcome: &CaseOutcome, info: &RunInfo, whole: bool) {
    let _ =
        writeln!(out, "  sequence ({} requests; a failed property names the steps it judged):", outcome.steps.len());
    for step in &outcome.steps {
        let status = step.status.map_or_else(|| "no answer".to_owned(), |s| s.to_string());
        let failed = if step.failed.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = step.failed.iter().map(|c| c.name()).collect();
            format!("  FAILED {}", names.join(", "))
        };
        let _ = writeln!(out, "    {} -> {status}{failed}", step.label);
        let _ = writeln!(out, "      {}", curl_with(&step.request, info, None));
        if let Some(note) = &step.note {
            let _ = writeln!(out, "      note: {}", printable(note));
        }
        if let (true, Some(body)) = (whole || !step.failed.is_empty(), &step.body) {
            let _ = writeln!(out, "      {}", printable(body).replace('\n', "\n      "));
        }
    }
}

/// Response bodies are cut to this many bytes in a brief story.
const BRIEF_BODY: usize = 512;

/// A bounded story of a case that did not pass, for a case not printed in full (one of many in
/// its failure group): its failed checks, the request as curl, the status and the start of the
/// body. Its group's example tells the full story.
pub fn failure_brief(outcome: &CaseOutcome, info: &RunInfo) -> String {
    let mut out = String::new();
    if let Some(note) = &outcome.note {
        let _ = writeln!(out, "  note: {note}");
    }
    for check in outcome.checks.iter().filter(|c| c.failed()) {
        let _ = writeln!(out, "  {}: {}", check.check, check.message());
    }
    if !outcome.steps.is_empty() {
        steps(&mut out, outcome, info, false);
        return out;
    }
    // Only a case told in full gets its large body written beside the reports: 50 000 failing
    // cases with large bodies would otherwise fill the disk.
    if outcome.built() {
        let _ = writeln!(out, "  request:\n    {}", curl_with(&outcome.request, info, None));
    } else {
        let _ = writeln!(out, "  request: none, the case could not be built");
    }
    if let Some(response) = &outcome.response {
        let _ = writeln!(out, "  response: {}", response.status);
        if !response.body.is_empty() {
            let _ = writeln!(out, "    {}", body_preview(&response.body, BRIEF_BODY).replace('\n', "\n    "));
        }
    }
    out
}

/// Request and response bodies in `-v`'s exchange log are cut to this many bytes (`-vv`: whole).
const LOG_BODY: usize = 2048;

/// `-v`'s record of one finished case, as its exchanges went over the wire: `> ` lines for the
/// request, `< ` for the answer, each step of a stateful case in turn. It is rendered from the
/// outcome after the outcome was masked, so credentials show as `***`; what the target sent is
/// made [`printable`].
pub fn exchange_log(outcome: &CaseOutcome, whole_bodies: bool) -> String {
    let max = if whole_bodies { usize::MAX } else { LOG_BODY };
    let verdict = match outcome.outcome {
        crate::outcome::Outcome::Passed => "ok",
        crate::outcome::Outcome::Failed => "FAILED",
        crate::outcome::Outcome::Errored => "FAILED, errored",
        crate::outcome::Outcome::Skipped => "skipped, not sent",
    };
    let mut out = format!("--- {} ({verdict}, {} ms)\n", outcome.name, outcome.duration.as_millis());
    if outcome.outcome == crate::outcome::Outcome::Skipped || !outcome.built() {
        return printable(&out).into_owned();
    }
    if outcome.steps.is_empty() {
        log_request(&mut out, &outcome.request, max);
        match (&outcome.response, outcome.status) {
            (Some(response), _) => {
                let _ = writeln!(out, "< {}", response.status);
                for (name, value) in &response.headers {
                    let _ = writeln!(out, "< {name}: {value}");
                }
                log_body(&mut out, '<', &response.body, max);
            }
            (None, Some(status)) => {
                let _ = writeln!(out, "< {status}");
            }
            (None, None) => {
                let why = outcome.checks.iter().find(|c| c.failed()).map(crate::check::CheckResult::message);
                let _ = writeln!(out, "< no answer: {}", why.unwrap_or_default());
            }
        }
    }
    for step in &outcome.steps {
        let _ = writeln!(out, "  {}", step.label);
        log_request(&mut out, &step.request, max);
        match step.status {
            Some(status) => {
                let _ = writeln!(out, "< {status}");
            }
            None => {
                let _ = writeln!(out, "< no answer: {}", step.note.as_deref().unwrap_or_default());
            }
        }
        if let Some(body) = &step.body {
            log_body(&mut out, '<', body.as_bytes(), max);
        }
    }
    printable(&out).into_owned()
}

fn log_request(out: &mut String, request: &crate::client::Request, max: usize) {
    let _ = writeln!(out, "> {} {}", request.method, super::mask_url(&request.url));
    for (name, value) in &request.headers {
        let _ = writeln!(out, "> {name}: {value}");
    }
    log_body(out, '>', &request.body, max);
}

/// A body after a blank `>`/`<` line, each of its lines prefixed.
fn log_body(out: &mut String, mark: char, body: &[u8], max: usize) {
    if body.is_empty() {
        return;
    }
    let _ = writeln!(out, "{mark}");
    for line in body_preview(body, max).lines() {
        let _ = writeln!(out, "{mark} {line}");
    }
}

/// The body as text, cut to `max` bytes, with the cut and any non-UTF-8 bytes said.
pub fn body_preview(body: &[u8], max: usize) -> String {
    let shown = &body[..body.len().min(max)];
    let mut text = String::from_utf8_lossy(shown).into_owned();
    if body.len() > max {
        let _ = write!(text, "… ({} more bytes)", body.len() - max);
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_a_target_sent_are_escaped() {
        let text = "a\u{1b}]0;t\u{7}\u{1b}[2J\r\ntest result: ok\u{0}\u{9b}\n\tb";
        assert_eq!(super::printable(text), "a\\u{1b}]0;t\\u{7}\\u{1b}[2J\\u{d}\ntest result: ok\\u{0}\\u{9b}\n\tb");
        assert!(matches!(super::printable("plain\n\ttext"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(super::printable("a\u{202E}b\u{2066}c\u{FEFF}é"), "a\\u{202e}b\\u{2066}c\\u{feff}é");
    }

    #[test]
    fn the_exchange_log_cuts_bodies_unless_asked_for_whole_ones() {
        let body = format!("{}\nlast line", "a".repeat(3000));
        let mut cut = String::new();
        super::log_body(&mut cut, '<', body.as_bytes(), super::LOG_BODY);
        assert!(cut.starts_with("<\n< aaa") && cut.contains("… (962 more bytes)") && !cut.contains("last"), "{cut}");
        let mut whole = String::new();
        super::log_body(&mut whole, '<', body.as_bytes(), usize::MAX);
        assert!(whole.ends_with("\n< last line\n") && !whole.contains("more bytes"), "{whole}");
        let mut none = String::new();
        super::log_body(&mut none, '>', b"", usize::MAX);
        assert!(none.is_empty());
    }
}
