//! `mock`: the reference server as a process. The first line on stdout is its base URL, printed
//! once it accepts connections; SIGINT and SIGTERM stop it cleanly.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;

use super::args::MockArgs;
use super::error::{CliError, CliResult};
use super::exit;
use crate::contract::Contract;
use crate::files::FileSource;
use crate::mock::{self, Fault, Faults, Fixture, MockConfig};

pub(crate) async fn mock(args: MockArgs) -> CliResult {
    if args.list_faults {
        print!("{}", fault_table());
        return Ok(exit::SUCCESS);
    }
    let mut faults = Vec::new();
    let mut problems = Vec::new();
    for name in &args.faults {
        match Fault::from_name(name) {
            Some(f) => faults.push(f),
            None => problems.push(format!("unknown fault `{name}` (see --list-faults)")),
        }
    }
    let fixture = match &args.engines {
        None => Fixture::default_set(),
        Some(path) => match crate::files::read_text(path, crate::files::SMALL_FILE_LIMIT)
            .map_err(|e| e.to_string())
            .and_then(|t| Fixture::parse(&t))
        {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!("engines file `{}`: {e}", path.display()));
                Fixture::default_set()
            }
        },
    };
    let source = args.schemas.clone().map_or(FileSource::Embedded, FileSource::Dir);
    let contract =
        Contract::load(&source).map_err(|e| CliError::Config(problems.clone()).and(CliError::from_error(&e)))?;
    if !problems.is_empty() {
        return Err(CliError::Config(problems));
    }
    let contract = Arc::new(contract);
    let config = MockConfig {
        listen: args.listen,
        fixture,
        token: args.token.clone().filter(|t| !t.is_empty()),
        faults: Faults::new(faults),
        log: !args.quiet,
        rate_limit: args.rate_limit,
        aksk: args.ak.clone().zip(args.sk.clone()).map(|(ak, sk)| crate::sign::Credentials {
            ak,
            sk,
            security_token: None,
        }),
        job_history: args.job_history,
        connections: mock::ConnectionLimits {
            idle_timeout: args.idle_timeout,
            body_timeout: args.body_timeout,
            max_connections: args.max_connections,
        },
    };
    let handle = mock::spawn(contract, config)
        .await
        .map_err(|e| CliError::config(format!("failed to listen on {}: {e}", args.listen)))?;
    println!("{}", handle.base_url);
    let _ = std::io::stdout().flush();
    wait_for_signal().await;
    eprintln!("shutting down");
    handle.shutdown().await;
    Ok(exit::SUCCESS)
}

async fn wait_for_signal() {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// `--list-faults`: a header, then a line per fault, in three columns (its name, the check it
/// proves, what it does), each as wide as its longest entry so that the columns line up
/// whatever names are added.
fn fault_table() -> String {
    const HEADER: [&str; 3] = ["FAULT", "PROVES", "EFFECT"];
    let rows: Vec<[&str; 3]> =
        std::iter::once(HEADER).chain(Fault::ALL.iter().map(|f| [f.name(), f.proves(), f.description()])).collect();
    let width = |column: usize| rows.iter().map(|row| row[column].len()).max().unwrap_or(0);
    let (name_width, proves_width) = (width(0), width(1));
    let mut table = String::new();
    for [name, proves, effect] in rows {
        let _ = writeln!(table, "{name:<name_width$}  {proves:<proves_width$}  {effect}");
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckKind;

    /// Each fault names the check that catches it; a misspelt or removed check is caught here,
    /// outside the mock, which may not use the checks itself.
    #[test]
    fn every_fault_proves_a_registered_check() {
        let unknown: Vec<(&str, &str)> = Fault::ALL
            .iter()
            .filter(|f| CheckKind::from_name(f.proves()).is_none())
            .map(|f| (f.name(), f.proves()))
            .collect();
        assert!(unknown.is_empty(), "faults that prove no registered check: {unknown:?}");
    }

    #[test]
    fn the_fault_table_has_three_aligned_columns() {
        let table = fault_table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), Fault::ALL.len() + 1);
        let (proves, effect) = (lines[0].find("PROVES").unwrap(), lines[0].find("EFFECT").unwrap());
        for (line, fault) in lines[1..].iter().zip(Fault::ALL) {
            assert_eq!(line[..proves].trim_end(), fault.name());
            assert_eq!(line[proves..effect].trim_end(), fault.proves());
            assert_eq!(&line[effect..], fault.description());
        }
    }
}
