//! A self-contained HTML report (`reports/index.html`): the summary, a bar chart of the statuses
//! seen, and every case that did not pass as an expandable section with its full story. No
//! scripts, no external files: it opens from a CI artefact as it is.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{RunInfo, console};
use crate::outcome::{Answer, CaseOutcome, Outcome, RunSummary, Tally};

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn status_chart(answers: &BTreeMap<Answer, usize>) -> String {
    let counts: Vec<(String, usize)> = answers.iter().map(|(a, n)| (a.to_string(), *n)).collect();
    let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    let (bar, gap, height) = (40, 16, 160);
    let width = counts.len() * (bar + gap) + gap;
    let mut svg = format!(r#"<svg role="img" aria-label="statuses seen" width="{width}" height="{}">"#, height + 40);
    for (i, (label, count)) in counts.iter().enumerate() {
        let count = *count;
        let h = count * height / max;
        let x = gap + i * (bar + gap);
        let colour = match label.chars().next() {
            Some('2') => "#2e7d32",
            Some('4') => "#f9a825",
            Some('5') => "#c62828",
            _ => "#757575",
        };
        let _ = write!(
            svg,
            r#"<rect x="{x}" y="{}" width="{bar}" height="{h}" fill="{colour}"><title>{label}: {count}</title></rect><text x="{}" y="{}" font-size="11" text-anchor="middle">{count}</text><text x="{}" y="{}" font-size="11" text-anchor="middle">{}</text>"#,
            height - h + 14,
            x + bar / 2,
            height - h + 10,
            x + bar / 2,
            height + 30,
            escape(label)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The report as one HTML page, masked: the counts and statuses of every case (`tally`), and the
/// full story of each case in `problems` (those that failed or errored, in plan order).
pub fn render(problems: &[&CaseOutcome], tally: &Tally, summary: &RunSummary, info: &RunInfo) -> String {
    let verdict = if summary.success() { "passed" } else { "failed" };
    let mut page = format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>cse-contract: {verdict}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}pre{{background:#f4f4f4;padding:1em;overflow-x:auto;white-space:pre-wrap}}
details{{margin:.4em 0}}summary{{cursor:pointer}}.failed{{color:#c62828}}.errored{{color:#6a1b9a}}td,th{{padding:.2em 1em;text-align:left}}</style></head><body>
<h1>cse-contract: {verdict}</h1>
<table><tr><th>target</th><td>{target}</td></tr><tr><th>seed</th><td>{seed}</td></tr><tr><th>contract</th><td>{hash}</td></tr><tr><th>version</th><td>{version}</td></tr></table>
<p><strong>{total}</strong> cases: <strong>{passed}</strong> passed, <strong class="failed">{failed}</strong> failed, <strong class="errored">{errored}</strong> errored, {skipped} skipped, in {secs:.2} s{partial}.</p>
<h2>Statuses seen</h2>{chart}
"#,
        target = escape(&info.target),
        seed = info.seed.map_or_else(|| "none".to_owned(), |s| s.to_string()),
        hash = escape(&info.contract_hash),
        version = info.version,
        total = summary.total,
        passed = summary.passed,
        failed = summary.failed,
        errored = summary.errored,
        skipped = summary.skipped,
        secs = summary.duration.as_secs_f64(),
        partial = if summary.partial { " (interrupted: partial)" } else { "" },
        chart = status_chart(&tally.answers),
    );
    let _ = write!(page, "<h2>Cases that did not pass ({})</h2>", problems.len());
    for &outcome in problems {
        let class = if outcome.outcome == Outcome::Errored { "errored" } else { "failed" };
        let checks: Vec<&str> = outcome.failed_checks().map(|c| c.check.name()).collect();
        let _ = write!(
            page,
            r#"<details><summary><span class="{class}">{class}</span> <code>{}</code>: {}</summary><pre>{}</pre></details>"#,
            escape(&outcome.name),
            escape(&checks.join(", ")),
            escape(console::failure_detail(outcome, info).trim())
        );
    }
    page.push_str("</body></html>\n");
    page
}
