//! The libtest face of a run: each case is printed the moment it finishes, in the formats of
//! libtest (`--format pretty|terse|json`, `-q`, `--list`), so `cargo test` / `cargo nextest`
//! can list and filter the contract's cases like ordinary tests and CI logs read as they do.
//!
//! The output is libtest-mimic's, byte for byte (a test prints the same outcomes through
//! libtest-mimic and compares), but streamed: libtest-mimic needs every trial up front, which
//! a run of a million generated cases cannot afford. As with libtest on several threads, lines
//! come in the order cases finish; the failures section at the end is in plan order.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use anstyle::{AnsiColor, Color, Style};
use libtest_mimic::{Arguments, ColorSetting, FormatSetting};

use crate::outcome::{CaseOutcome, Outcome};
use crate::plan::Filter;
use crate::report::reporter::Console;
use crate::report::{RunInfo, console};

/// The case filter libtest's arguments describe.
pub fn filter(args: &Arguments) -> Filter {
    Filter { include: args.filter.iter().cloned().collect(), skip: args.skip.clone(), exact: args.exact }
}

/// `--list`: a `name: test` line per case, as libtest prints it.
pub fn list<'a>(out: &mut impl Write, args: &Arguments, names: impl Iterator<Item = &'a str>) -> io::Result<()> {
    if args.ignored {
        // libtest lists only ignored tests under --ignored; a case is never ignored up front.
        return Ok(());
    }
    for name in names {
        writeln!(out, "{name}: test")?;
    }
    Ok(())
}

/// Output is flushed at least this often, so a long run shows its progress.
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Runs a flush (the argument) inside something, e.g. a progress bar's `suspend`.
type AroundFlush = Box<dyn Fn(&mut dyn FnMut()) + Send>;

/// Prints a run as libtest does, case by case.
pub struct Printer {
    out: Box<dyn Write + Send>,
    format: FormatSetting,
    color: bool,
    name_width: usize,
    last_flush: Instant,
    passed: usize,
    failed: usize,
    ignored: usize,
    /// Cases the run's filters left out, for the result line.
    filtered_out: usize,
    started: Instant,
    /// Called around each flush (to hide a progress bar while lines are written).
    around_flush: Option<AroundFlush>,
    /// Text printed but not yet written: lines reach the terminal only in [`Printer::flush`],
    /// inside `around_flush`, so a progress bar is never written over (a `BufWriter` would
    /// write whenever its buffer filled, bar or no bar).
    pending: Vec<u8>,
    /// Told the number of failures each time it grows (the progress bar's "N failed").
    on_failure: Option<Box<dyn Fn(usize) + Send>>,
    /// `-v`'s exchange logs not yet written, for stderr: flushed with `pending`, before it, so
    /// a case's exchanges come just before its line.
    pending_log: Vec<u8>,
    /// Where the exchange logs go (stderr).
    log_out: Box<dyn Write + Send>,
}

fn style(outcome: Outcome) -> Style {
    let color = match outcome {
        Outcome::Passed => AnsiColor::Green,
        Outcome::Failed | Outcome::Errored => AnsiColor::Red,
        Outcome::Skipped => AnsiColor::Yellow,
    };
    Style::new().fg_color(Some(Color::Ansi(color)))
}

fn word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Passed => "ok",
        Outcome::Failed | Outcome::Errored => "FAILED",
        Outcome::Skipped => "ignored",
    }
}

fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// libtest's JSON events of a failed case: started, then failed with `message` as its output.
fn failed_events(name: &str, message: &str) -> String {
    let name = json_string(name);
    let stdout = json_string(&format!("Error: \"{message}\"\n"));
    format!(
        "{{ \"type\": \"test\", \"event\": \"started\", \"name\": {name} }}\n{{ \"type\": \"test\", \"name\": {name}, \"event\": \"failed\", \"stdout\": {stdout} }}\n"
    )
}

impl Printer {
    /// A printer to stdout for `args`; `name_width` is the longest name that will be printed.
    pub fn stdout(args: &Arguments, name_width: usize) -> Printer {
        let color = match args.color.unwrap_or(ColorSetting::Auto) {
            ColorSetting::Always => true,
            ColorSetting::Never => false,
            ColorSetting::Auto => anstream::AutoStream::choice(&io::stdout()) != anstream::ColorChoice::Never,
        };
        Printer::new(Box::new(io::stdout()), args, name_width, color)
    }

    /// A printer to `out`.
    pub fn new(out: Box<dyn Write + Send>, args: &Arguments, name_width: usize, color: bool) -> Printer {
        let format = if args.quiet { FormatSetting::Terse } else { args.format.unwrap_or(FormatSetting::Pretty) };
        Printer {
            out,
            format,
            color,
            name_width,
            last_flush: Instant::now(),
            passed: 0,
            failed: 0,
            ignored: 0,
            filtered_out: 0,
            started: Instant::now(),
            around_flush: None,
            pending: Vec::with_capacity(1 << 16),
            on_failure: None,
            pending_log: Vec::new(),
            log_out: Box::new(io::stderr()),
        }
    }

    /// Says how many cases the run's filters left out (libtest's "filtered out").
    pub fn filtered_out(&mut self, count: usize) {
        self.filtered_out = count;
    }

    /// Calls `f` with the number of cases that did not pass, each time it grows.
    pub fn on_failure(&mut self, f: impl Fn(usize) + Send + 'static) {
        self.on_failure = Some(Box::new(f));
    }

    /// Whether this printer's format prints one character per case on one line (`-q`): a
    /// progress bar would be drawn mid-line, so none is shown.
    pub fn terse(&self) -> bool {
        self.format == FormatSetting::Terse
    }

    /// Runs every flush inside `around` (e.g. `ProgressBar::suspend`).
    pub fn flush_around(&mut self, around: impl Fn(&mut dyn FnMut()) + Send + 'static) {
        self.around_flush = Some(Box::new(around));
    }

    fn paint(&self, outcome: Outcome, text: &str) -> String {
        if self.color {
            let style = style(outcome);
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    /// The first line, `running N tests`.
    pub fn title(&mut self, count: usize) {
        self.started = Instant::now();
        let line = match self.format {
            FormatSetting::Pretty | FormatSetting::Terse => {
                format!("\nrunning {count} test{}\n", if count == 1 { "" } else { "s" })
            }
            FormatSetting::Json => {
                format!("{{ \"type\": \"suite\", \"event\": \"started\", \"test_count\": {count} }}\n")
            }
        };
        self.write(&line);
    }

    /// One finished case. In JSON, a failed case's events wait for [`Printer::finish`], which
    /// has its full story (after shrinking).
    pub fn case(&mut self, name: &str, outcome: Outcome) {
        match outcome {
            Outcome::Passed => self.passed += 1,
            Outcome::Failed | Outcome::Errored => {
                self.failed += 1;
                if let Some(f) = &self.on_failure {
                    f(self.failed);
                }
            }
            Outcome::Skipped => self.ignored += 1,
        }
        let text = match self.format {
            FormatSetting::Pretty => {
                format!("test {name:<width$} ... {}\n", self.paint(outcome, word(outcome)), width = self.name_width)
            }
            FormatSetting::Terse => {
                let c = match outcome {
                    Outcome::Passed => ".",
                    Outcome::Failed | Outcome::Errored => "F",
                    Outcome::Skipped => "i",
                };
                self.paint(outcome, c)
            }
            FormatSetting::Json if matches!(outcome, Outcome::Failed | Outcome::Errored) => return,
            FormatSetting::Json => {
                let name = json_string(name);
                let event = if outcome == Outcome::Passed { "ok" } else { "ignored" };
                format!(
                    "{{ \"type\": \"test\", \"event\": \"started\", \"name\": {name} }}\n{{ \"type\": \"test\", \"name\": {name}, \"event\": \"{event}\" }}\n"
                )
            }
        };
        self.write(&text);
        if self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush();
        }
    }

    /// In JSON, the events of a failed case now, with `message` (a brief story).
    fn json_failed(&mut self, name: &str, message: &str) {
        if self.format == FormatSetting::Json {
            self.write(&failed_events(name, message));
        }
    }

    /// The end: the failures told in full (name and message, in plan order), how many more
    /// failed without being told in full, and the result line.
    pub fn finish(&mut self, failures: &[(String, String)], more: usize) {
        let elapsed = self.started.elapsed();
        let mut text = String::new();
        if self.format == FormatSetting::Json {
            for (name, message) in failures {
                text.push_str(&failed_events(name, message));
            }
            let _ = writeln!(
                text,
                "{{ \"type\": \"suite\", \"event\": \"{}\", \"passed\": {}, \"failed\": {}, \"ignored\": {}, \"measured\": 0, \"filtered_out\": {}, \"exec_time\": {} }}",
                if self.failed > 0 { "failed" } else { "ok" },
                self.passed,
                self.failed,
                self.ignored,
                self.filtered_out,
                elapsed.as_secs_f64()
            );
        } else {
            if !failures.is_empty() {
                text.push_str("\nfailures:\n\n");
                for (name, message) in failures {
                    let _ = write!(text, "---- {name} ----\n{}\n\n", console::printable(message));
                }
                text.push_str("\nfailures:\n");
                for (name, _) in failures {
                    let _ = writeln!(text, "    {name}");
                }
            }
            if more > 0 {
                let _ = writeln!(
                    text,
                    "    … and {more} more that did not pass (counted in their failure groups; every one is in the JSON report)"
                );
            }
            let verdict = if self.failed > 0 { Outcome::Failed } else { Outcome::Passed };
            let _ = write!(
                text,
                "\ntest result: {}. {} passed; {} failed; {} ignored; 0 measured; {} filtered out; finished in {:.2}s\n\n",
                self.paint(verdict, word(verdict)),
                self.passed,
                self.failed,
                self.ignored,
                self.filtered_out,
                elapsed.as_secs_f64()
            );
        }
        self.write(&text);
        self.flush();
    }

    fn write(&mut self, text: &str) {
        self.pending.extend_from_slice(text.as_bytes());
        if self.pending.len() >= 1 << 16 {
            self.flush();
        }
    }

    /// Writes out everything printed so far, inside `around_flush`.
    pub fn flush(&mut self) {
        self.last_flush = Instant::now();
        let (out, pending) = (&mut self.out, &mut self.pending);
        let (log_out, pending_log) = (&mut self.log_out, &mut self.pending_log);
        // A closed stdout (`| head`) must not stop the run: its reports still get written.
        let mut write = || {
            if !pending_log.is_empty() {
                let _ = log_out.write_all(pending_log);
                let _ = log_out.flush();
                pending_log.clear();
            }
            let _ = out.write_all(pending);
            let _ = out.flush();
            pending.clear();
        };
        match &self.around_flush {
            Some(around) => around(&mut write),
            None => write(),
        }
    }
}

impl Console for Printer {
    fn exchange_log(&mut self, text: &str) {
        // The case's line follows in `pending`: both go out in the same flush, log first.
        self.flush();
        self.pending_log.extend_from_slice(text.as_bytes());
    }

    fn case_finished(&mut self, outcome: &CaseOutcome, whole: bool, info: &RunInfo) {
        self.case(&outcome.name, outcome.outcome);
        if !whole && matches!(outcome.outcome, Outcome::Failed | Outcome::Errored) {
            self.json_failed(&outcome.name, console::failure_brief(outcome, info).trim());
        }
    }

    fn demoted(&mut self, outcome: &CaseOutcome, info: &RunInfo) {
        self.json_failed(&outcome.name, console::failure_brief(outcome, info).trim());
    }

    fn run_finished(&mut self, stories: &[(String, String)], more: usize) {
        self.finish(stories, more);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use libtest_mimic::{Failed, Trial};

    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn normalise(text: &str) -> String {
        text.lines()
            .map(|line| match (line.find("finished in "), line.find("\"exec_time\": ")) {
                (Some(at), _) => format!("{}finished in [t]", &line[..at]),
                (_, Some(at)) => format!("{}\"exec_time\": [t] }}", &line[..at]),
                _ => line.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Lines reach the output only inside `around_flush` (where the progress bar is hidden),
    /// however many are printed between two flushes.
    #[test]
    fn lines_are_written_only_while_the_bar_is_hidden() {
        struct Guarded(Arc<Mutex<bool>>, Shared);
        impl Write for Guarded {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                assert!(*self.0.lock().unwrap(), "written while the bar was shown");
                self.1.write(buf)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let hidden = Arc::new(Mutex::new(false));
        let shared = Shared::default();
        let args = Arguments { color: Some(ColorSetting::Never), ..Arguments::default() };
        let mut printer = Printer::new(Box::new(Guarded(hidden.clone(), shared.clone())), &args, 40, false);
        let flag = hidden.clone();
        printer.flush_around(move |flush| {
            *flag.lock().unwrap() = true;
            flush();
            *flag.lock().unwrap() = false;
        });
        let failures = Arc::new(Mutex::new(0));
        let seen = failures.clone();
        printer.on_failure(move |n| *seen.lock().unwrap() = n);
        printer.title(5000);
        for i in 0..5000 {
            printer.case(&format!("suite::case_{i:04}"), if i % 7 == 0 { Outcome::Failed } else { Outcome::Passed });
        }
        printer.finish(&[], 715);
        let text = String::from_utf8(shared.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.matches("... ok\n").count(), 4285);
        assert!(text.contains("… and 715 more that did not pass"), "{text}");
        assert_eq!(*failures.lock().unwrap(), 715);
    }

    /// Prints the same cases through libtest-mimic (one thread, so in order) and through the
    /// printer, in every format, with and without `-q`, in both colour settings, and compares the
    /// text. `-q` is a flag of its own beside `--format` (libtest makes any format terse with it),
    /// so it is compared with each format, not only through `--format terse`.
    #[test]
    fn prints_what_libtest_mimic_prints() {
        let cases = [
            ("suite::passes", Outcome::Passed, ""),
            ("suite::a_longer_name_fails", Outcome::Failed, "  expected 400, got 200\n  with \"quotes\""),
            ("generated::x::0001", Outcome::Skipped, ""),
            ("suite::errors", Outcome::Errored, "transport: refused"),
        ];
        let formats = [FormatSetting::Pretty, FormatSetting::Terse, FormatSetting::Json];
        let settings = formats.into_iter().flat_map(|f| [(f, false), (f, true)]);
        let mut compared_quiet = 0;
        for ((format, quiet), color) in settings.flat_map(|s| [(s, false), (s, true)]) {
            let dir = tempfile::tempdir().unwrap();
            let logfile = dir.path().join("log");
            let args = Arguments {
                format: Some(format),
                quiet,
                color: Some(if color { ColorSetting::Always } else { ColorSetting::Never }),
                test_threads: Some(1),
                logfile: Some(logfile.display().to_string()),
                ..Arguments::default()
            };
            let trials = cases
                .iter()
                .map(|&(name, outcome, message)| {
                    let message = message.to_owned();
                    Trial::test(name, move || match outcome {
                        Outcome::Failed | Outcome::Errored => Err(Failed::from(message)),
                        _ => Ok(()),
                    })
                    .with_ignored_flag(outcome == Outcome::Skipped)
                })
                .collect();
            let _ = libtest_mimic::run(&args, trials);
            let expected = std::fs::read_to_string(&logfile).unwrap();

            let shared = Shared::default();
            let width = cases.iter().map(|c| c.0.len()).max().unwrap();
            let mut printer = Printer::new(Box::new(shared.clone()), &args, width, color);
            printer.title(cases.len());
            let mut failures = Vec::new();
            for &(name, outcome, message) in &cases {
                printer.case(name, outcome);
                if matches!(outcome, Outcome::Failed | Outcome::Errored) {
                    failures.push((name.to_owned(), message.to_owned()));
                }
            }
            printer.finish(&failures, 0);
            let ours = String::from_utf8(shared.0.lock().unwrap().clone()).unwrap();
            if quiet {
                // The reference is terse: one character per case on one line.
                assert!(color || expected.contains("\n.FiF\n"), "{format:?} -q: libtest-mimic printed {expected}");
                compared_quiet += 1;
            }
            if format == FormatSetting::Json && !quiet {
                // Failed cases' events come last (after shrinking); the set of lines is the same.
                let mut a: Vec<String> = normalise(&ours).lines().map(str::to_owned).collect();
                let mut b: Vec<String> = normalise(&expected).lines().map(str::to_owned).collect();
                assert_eq!(a.first(), b.first());
                assert_eq!(a.last(), b.last());
                a.sort();
                b.sort();
                assert_eq!(a, b, "{format:?} color {color}");
            } else {
                assert_eq!(normalise(&ours), normalise(&expected), "{format:?} quiet {quiet} color {color}");
            }
        }
        assert_eq!(compared_quiet, 6, "-q with each format, in both colour settings");
    }
}
