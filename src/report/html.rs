//! The HTML page (`reports/index.html`): one self-contained file that opens from a CI artefact as
//! it is. It says what happened in its title (passed, failed, interrupted, stopped early), then
//! the run's facts (start, duration, seed, target, links to the JSON and JUnit reports beside
//! it), the failure groups, counts per check and per suite (a generated suite is a mutation
//! kind), the coverage table, a chart of the statuses, and the cases: every case that did not
//! pass with its story (in full for a group's example), and the passing ones collapsed. A small
//! inline script filters the cases by outcome, check and name; the filter can also be given in
//! the address (`index.html#outcome=failed&check=body_schema&name=retry`).
//!
//! A page of a million cases would not open, so at most [`MAX_ROWS`] passing and [`MAX_ROWS`]
//! other cases are listed (every case kept whole always is); the page says how many it left out,
//! and the JSON report has them all.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::reporter::{FileReport, Fragments, ReportPaths, RunEnd};
use super::{RunInfo, console};
use crate::outcome::{Answer, CaseOutcome, Outcome};

/// Most passing cases, and most other cases, the page lists.
pub const MAX_ROWS: usize = 10_000;

/// The HTML page as a [`FileReport`].
pub struct HtmlReport {
    path: PathBuf,
    /// (label, address relative to the page) of the other reports.
    links: Vec<(&'static str, String)>,
}

impl HtmlReport {
    /// The page at `path`, linking to the other reports of `paths`.
    pub fn new(path: PathBuf, paths: &ReportPaths) -> HtmlReport {
        let page_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let links = [("JSON report", &paths.json), ("JUnit XML", &paths.junit)]
            .into_iter()
            .filter_map(|(label, other)| other.as_ref().map(|o| (label, relative(&page_dir, o))))
            .collect();
        HtmlReport { path, links }
    }
}

/// What a link's path keeps as it is; every other byte is percent-encoded.
const PATH_SAFE: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'/').remove(b'.').remove(b'-').remove(b'_');

/// `target` as the page in `dir` links to it: its file name when beside it, else its path.
fn relative(dir: &Path, target: &Path) -> String {
    let beside = target.parent().map(Path::to_path_buf).unwrap_or_default() == dir;
    let shown = if beside { target.file_name().map(PathBuf::from).unwrap_or_default() } else { target.to_path_buf() };
    percent_encoding::utf8_percent_encode(&shown.display().to_string(), PATH_SAFE).to_string()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // A control or bidi character a target sent is shown as its escape, not obeyed.
            c if super::console::is_unprintable(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

fn word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "passed",
        Outcome::Failed => "failed",
        Outcome::Errored => "errored",
        Outcome::Skipped => "skipped",
    }
}

impl FileReport for HtmlReport {
    fn name(&self) -> &'static str {
        "HTML"
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn case(&self, outcome: &CaseOutcome, info: &RunInfo, whole: bool) -> Vec<u8> {
        case_html(outcome, info, whole).into_bytes()
    }

    fn write(&self, out: &mut dyn Write, end: &RunEnd<'_>, fragment: &mut Fragments<'_>) -> io::Result<()> {
        out.write_all(head(end, &self.links).as_bytes())?;
        out.write_all(tables(end).as_bytes())?;
        let (mut passing, mut other, mut left_out) = (0, 0, [0_usize; 2]);
        for (&seq, &outcome) in end.finished.iter().zip(end.outcomes) {
            let pass = matches!(outcome, Outcome::Passed | Outcome::Skipped);
            let count = if pass { &mut passing } else { &mut other };
            if *count >= MAX_ROWS && end.whole.binary_search(&seq).is_err() {
                left_out[usize::from(!pass)] += 1;
                continue;
            }
            *count += 1;
            out.write_all(&fragment(seq)?)?;
        }
        if left_out != [0, 0] {
            write!(
                out,
                r#"<p class="note">Not listed: {} passing and {} other cases (the page lists at most {MAX_ROWS} of each; the JSON report has every case).</p>"#,
                left_out[0], left_out[1]
            )?;
        }
        out.write_all(FOOT.as_bytes())
    }
}

/// One case: a collapsed `<details>` with what the filter reads in its attributes.
fn case_html(outcome: &CaseOutcome, info: &RunInfo, whole: bool) -> String {
    let word = word(outcome.outcome);
    let failed: Vec<&str> = outcome.failed_checks().map(|c| c.check.name()).collect();
    let applied: Vec<&str> = outcome.checks.iter().map(|c| c.check.name()).collect();
    let status = outcome.answer().to_string();
    let open = if whole { " open" } else { "" };
    let mut html = format!(
        r#"<details class="case {word}" data-outcome="{word}" data-checks="{}" data-name="{}"{open}><summary><span class="badge {word}">{word}</span> <code>{}</code> <span class="status">{}</span> {}</summary>"#,
        escape(&failed.join(" ")),
        escape(&outcome.name),
        escape(&outcome.name),
        escape(&status),
        escape(&failed.join(", ")),
    );
    let story = match outcome.outcome {
        Outcome::Failed | Outcome::Errored if whole => console::failure_detail(outcome, info),
        Outcome::Failed | Outcome::Errored => console::failure_brief(outcome, info),
        _ => {
            let note = outcome.note.as_deref().map(|n| format!("\n  note: {n}")).unwrap_or_default();
            format!("  {}  [{}]\n  checks: {}{note}", outcome.description, outcome.source, applied.join(", "))
        }
    };
    let _ = writeln!(html, "<pre>{}</pre></details>", escape(story.trim_end()));
    html
}

fn title(end: &RunEnd<'_>) -> &'static str {
    if end.stopped.is_some() {
        "stopped early"
    } else if end.summary.partial {
        "interrupted"
    } else if end.summary.success() {
        "passed"
    } else {
        "failed"
    }
}

const STYLE: &str = r"body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}
pre{background:#f4f4f4;padding:.8em;overflow-x:auto;white-space:pre-wrap;margin:.3em 0 .6em 1.5em}
details.case{margin:.15em 0;border-left:3px solid #ccc;padding-left:.5em}details.case>summary{cursor:pointer}
details.failed,details.errored{border-left-color:#c62828}details.passed{border-left-color:#2e7d32}
.badge{display:inline-block;min-width:5em;font-weight:bold}.failed{color:#c62828}.errored{color:#6a1b9a}
.passed{color:#2e7d32}.skipped{color:#757575}td,th{padding:.15em .8em;text-align:left}th{background:#eee}
td.n{text-align:right}.note{color:#555}#filters{position:sticky;top:0;background:#fff;padding:.5em 0}
";

/// The page up to the cases: title, facts, counts, groups, tables, chart, filter controls.
fn head(end: &RunEnd<'_>, links: &[(&'static str, String)]) -> String {
    let (summary, info) = (end.summary, end.info);
    let verdict = title(end);
    let started =
        chrono::DateTime::<chrono::Utc>::from(summary.started).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let seed = info.seed.map_or_else(|| "none (no generated cases)".to_owned(), |s| s.to_string());
    let partition = info.partition.as_ref().map_or_else(String::new, |p| {
        format!(
            "<tr><th>partition</th><td>{} ({} selected cases in all the shards)</td></tr>",
            escape(&p.label()),
            p.selected
        )
    });
    let links: Vec<String> =
        links.iter().map(|(label, href)| format!(r#"<a href="{}">{label}</a>"#, escape(href))).collect();
    let stopped = end.stopped.map(|s| format!(r#"<p class="failed">{}</p>"#, escape(s))).unwrap_or_default();
    let partial = if summary.partial && end.stopped.is_none() {
        r#"<p class="failed">The run was interrupted: the counts are those of the cases that finished.</p>"#
    } else {
        ""
    };
    format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>cse-contract: {verdict}</title><style>{STYLE}</style></head><body>
<h1>cse-contract: {verdict}</h1>{stopped}{partial}
<table><tr><th>started</th><td>{started}</td></tr><tr><th>duration</th><td>{secs:.2} s</td></tr><tr><th>target</th><td>{target}</td></tr><tr><th>seed</th><td>{seed}</td></tr>{partition}<tr><th>contract</th><td>{hash}</td></tr><tr><th>version</th><td>{version}</td></tr><tr><th>reports</th><td>{links}</td></tr></table>
<p id="counts"><strong>{total}</strong> cases: <strong class="passed">{passed}</strong> passed, <strong class="failed">{failed}</strong> failed, <strong class="errored">{errored}</strong> errored, <span class="skipped">{skipped}</span> skipped.</p>
"#,
        secs = summary.duration.as_secs_f64(),
        target = escape(&info.target),
        seed = escape(&seed),
        hash = escape(&info.contract_hash),
        version = escape(info.version),
        links = links.join(" · "),
        total = summary.total,
        passed = summary.passed,
        failed = summary.failed,
        errored = summary.errored,
        skipped = summary.skipped,
    )
}

/// The groups, the per-check and per-suite counts, coverage, the chart, and the filter controls.
fn tables(end: &RunEnd<'_>) -> String {
    let mut html = String::new();
    let groups = end.groups.sorted();
    if !groups.is_empty() {
        let _ = write!(
            html,
            "<h2>Failure groups ({})</h2><p class=\"note\">Cases that failed the same checks: usually one defect each, however many kinds of request show it.</p><table id=\"groups\"><tr><th>cases</th><th>outcome</th><th>checks</th><th>suites (case files, mutation kinds)</th><th>example</th></tr>",
            groups.len()
        );
        for g in groups {
            let suites = g.suites_sorted();
            let mut spread = String::new();
            for share in &suites {
                let _ = write!(
                    spread,
                    r##"<li><code>{}</code> {}: <a href="#" data-show="{}">{}</a></li>"##,
                    escape(&share.suite),
                    share.count,
                    escape(&share.example),
                    escape(&share.example)
                );
            }
            let example = &g.example().example;
            let _ = write!(
                html,
                r##"<tr><td class="n">{}</td><td class="{o}">{o}</td><td>{}</td><td><details class="spread"><summary>{} suite(s)</summary><ul>{spread}</ul></details></td><td><a href="#" data-show="{}"><code>{}</code></a></td></tr>"##,
                g.count,
                escape(&g.checks.join(" + ")),
                suites.len(),
                escape(example),
                escape(example),
                o = word(g.outcome),
            );
        }
        html.push_str("</table>");
    }
    html.push_str("<h2>Checks</h2><table id=\"checks\"><tr><th>check</th><th>passed</th><th>failed</th><th>not applicable</th></tr>");
    for (check, t) in &end.tally.checks {
        let _ = write!(
            html,
            r#"<tr><td><code>{}</code></td><td class="n">{}</td><td class="n{}">{}</td><td class="n">{}</td></tr>"#,
            check.name(),
            t.passed,
            if t.failed > 0 { " failed" } else { "" },
            t.failed,
            t.skipped
        );
    }
    html.push_str("</table><h2>Suites and mutation kinds</h2><table id=\"suites\"><tr><th>suite</th><th>kind</th><th>cases</th><th>failed</th><th>errored</th><th>skipped</th><th>answered</th></tr>");
    for (suite, _) in end.suites {
        let kind = suite
            .generated
            .as_ref()
            .map_or_else(|| "case file".to_owned(), |(family, _)| format!("generated, {family}"));
        let _ = write!(
            html,
            r#"<tr><td><code>{}</code></td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td>{}</td></tr>"#,
            escape(&suite.name),
            escape(&kind),
            suite.tests,
            suite.failures,
            suite.errors,
            suite.skipped,
            escape(&answers(&suite.answers)),
        );
    }
    html.push_str("</table>");
    if !end.coverage.trim().is_empty() {
        let _ = write!(html, "<h2>Coverage of generated cases</h2><pre>{}</pre>", escape(end.coverage.trim()));
    }
    let _ = write!(html, "<h2>Statuses seen</h2>{}", status_chart(&end.tally.answers));
    let mut checks: Vec<&str> = end.tally.checks.keys().map(|c| c.name()).collect();
    checks.sort_unstable();
    let options = checks.iter().fold(String::new(), |mut out, c| {
        let _ = write!(out, r#"<option value="{c}">{c}</option>"#);
        out
    });
    let _ = write!(
        html,
        r#"<h2>Cases</h2><div id="filters"><label>outcome <select id="f-outcome"><option value="">any</option><option value="not-passed">did not pass</option><option value="passed">passed</option><option value="failed">failed</option><option value="errored">errored</option><option value="skipped">skipped</option></select></label>
<label>failed check <select id="f-check"><option value="">any</option>{options}</select></label>
<label>name <input id="f-name" type="search" placeholder="part of a name"></label> <span id="shown"></span></div><div id="cases">
"#
    );
    html
}

fn answers(answers: &BTreeMap<Answer, usize>) -> String {
    answers.iter().map(|(a, n)| format!("{a}×{n}")).collect::<Vec<_>>().join(" ")
}

/// The end of the page: the filter script. It reads the filter from the controls and from the
/// address, and marks the page ready (`data-ready`) once it has run, which the browser test reads.
const FOOT: &str = r##"</div>
<script>
(function () {
  var cases = Array.prototype.slice.call(document.querySelectorAll("#cases > details.case"));
  var outcome = document.getElementById("f-outcome"), check = document.getElementById("f-check");
  var name = document.getElementById("f-name"), shown = document.getElementById("shown");
  function apply() {
    var o = outcome.value, c = check.value, n = name.value.toLowerCase(), count = 0;
    cases.forEach(function (el) {
      var out = el.getAttribute("data-outcome");
      var ok = (!o || (o === "not-passed" ? (out === "failed" || out === "errored") : out === o))
        && (!c || (" " + el.getAttribute("data-checks") + " ").indexOf(" " + c + " ") >= 0)
        && (!n || el.getAttribute("data-name").toLowerCase().indexOf(n) >= 0);
      el.hidden = !ok;
      if (ok) { count++; }
    });
    shown.textContent = count + " of " + cases.length + " cases shown";
    document.body.setAttribute("data-shown", String(count));
  }
  function fromAddress() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    outcome.value = params.get("outcome") || "";
    check.value = params.get("check") || "";
    name.value = params.get("name") || "";
  }
  [outcome, check].forEach(function (el) { el.addEventListener("change", apply); });
  name.addEventListener("input", apply);
  Array.prototype.forEach.call(document.querySelectorAll("a[data-show]"), function (a) {
    a.addEventListener("click", function (e) {
      e.preventDefault();
      outcome.value = ""; check.value = ""; name.value = a.getAttribute("data-show");
      apply();
    });
  });
  window.addEventListener("hashchange", function () { fromAddress(); apply(); });
  fromAddress();
  apply();
  document.body.setAttribute("data-ready", "1");
})();
</script>
</body></html>
"##;

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
