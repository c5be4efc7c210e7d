//! The one error type of the command line, carrying its exit code (as cargo-nextest's
//! `ExpectedError`): the commands return it, and [`CliError::report`] is the only place it is
//! printed. A failed case is not an error: it is a run's outcome, and its exit code comes from
//! the run's summary.

use std::fmt::Write as _;

use super::exit;

/// Why a command could not do its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CliError {
    /// Problems with the flags, the environment, the files or the target, found before anything
    /// was sent: each is printed on its own `error:` line, all of them at once.
    Config(Vec<String>),
    /// The filters selected none of the run's cases (exit 4): why, in words.
    NoCases(String),
    /// After the run: reports that could not be written (exit 2; the console said the rest).
    Reports(Vec<String>),
    /// A signal stopped the command before its end: its number (exit 128 + the number).
    Signal(u8),
}

impl CliError {
    /// One configuration problem.
    pub(crate) fn config(message: impl Into<String>) -> CliError {
        CliError::Config(vec![message.into()])
    }

    /// A configuration problem from an error value, with its chain of causes.
    pub(crate) fn from_error(error: &dyn std::error::Error) -> CliError {
        CliError::config(with_causes(error))
    }

    /// The problems of `self` and then of `other`, as one error (both configuration problems;
    /// otherwise the first, which stops the command first).
    #[must_use]
    pub(crate) fn and(self, other: CliError) -> CliError {
        match (self, other) {
            (CliError::Config(mut first), CliError::Config(second)) => {
                first.extend(second);
                CliError::Config(first)
            }
            (first, _) => first,
        }
    }

    /// The process exit code.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) | CliError::Reports(_) => exit::USAGE,
            CliError::NoCases(_) => exit::NO_CASES,
            CliError::Signal(signo) => super::signals::exit_code(*signo),
        }
    }

    /// What is printed on stderr.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        match self {
            CliError::Config(problems) | CliError::Reports(problems) => {
                for problem in problems {
                    let _ = writeln!(out, "error: {problem}");
                }
            }
            CliError::NoCases(why) => {
                let _ = writeln!(out, "error: {why}");
            }
            CliError::Signal(_) => {}
        }
        out
    }

    /// Prints the error on stderr and returns its exit code.
    pub(crate) fn report(&self) -> u8 {
        eprint!("{}", self.render());
        self.exit_code()
    }
}

/// `error`'s message followed by each cause on its own `  caused by:` line.
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(out, "\n  caused by: {cause}");
        source = cause.source();
    }
    out
}

/// The result of a command: its exit code when it did its job (a run with failed cases did).
pub(crate) type CliResult = Result<u8, CliError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_problems_are_printed_together_with_one_code() {
        let error = CliError::config("first").and(CliError::Config(vec!["second".into(), "third".into()]));
        assert_eq!(error.render(), "error: first\nerror: second\nerror: third\n");
        assert_eq!(error.exit_code(), exit::USAGE);
        assert_eq!(CliError::NoCases("none".into()).and(CliError::config("x")).exit_code(), exit::NO_CASES);
        assert_eq!(CliError::Signal(15).exit_code(), 143);
        assert_eq!(CliError::Signal(15).render(), "");
    }

    #[test]
    fn causes_are_chained() {
        #[derive(Debug, thiserror::Error)]
        #[error("failed to write `x`")]
        struct Outer(#[source] std::io::Error);
        let text = with_causes(&Outer(std::io::Error::other("disk full")));
        assert!(text.starts_with("failed to write `x`"), "{text}");
        assert!(text.contains("\n  caused by: disk full"), "{text}");
    }
}
