//! `mock`: the reference server as a process. The first line on stdout is its base URL, printed
//! once it accepts connections; SIGINT and SIGTERM stop it cleanly.

use std::io::Write as _;
use std::sync::Arc;

use super::args::MockArgs;
use super::{exit, report_error};
use crate::contract::Contract;
use crate::files::FileSource;
use crate::mock::{self, Fault, Faults, Fixture, MockConfig};

pub(crate) async fn mock(args: MockArgs) -> u8 {
    if args.list_faults {
        for fault in Fault::ALL {
            println!("{:<26} {}", fault.name(), fault.description());
        }
        return exit::SUCCESS;
    }
    let mut faults = Vec::new();
    for name in &args.faults {
        match Fault::from_name(name) {
            Some(f) => faults.push(f),
            None => {
                eprintln!("error: unknown fault `{name}` (see --list-faults)");
                return exit::USAGE;
            }
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
                eprintln!("error: engines file `{}`: {e}", path.display());
                return exit::USAGE;
            }
        },
    };
    let source = args.schemas.clone().map_or(FileSource::Embedded, FileSource::Dir);
    let contract = match Contract::load(&source) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            report_error(&e);
            return exit::USAGE;
        }
    };
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
    let handle = match mock::spawn(contract, config).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: failed to listen on {}: {e}", args.listen);
            return exit::USAGE;
        }
    };
    println!("{}", handle.base_url);
    let _ = std::io::stdout().flush();
    wait_for_signal().await;
    eprintln!("shutting down");
    handle.shutdown().await;
    exit::SUCCESS
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
