//! `tenant_isolated`: an engine of another project is not reachable through this project's path.
//! A Retry or a read of it (its details, or a job of it) is refused as an unknown engine is (the state model's
//! `unknown_engine`: 400 with SVCSTG.00501116, or 403 or 404), never answered 2xx. A stateful
//! property.

use super::{Applies, Check, Run, TraceInput, Verdict, findings};
use crate::stateful::Role;

pub(super) const CHECK: Check = Check {
    summary: "a Retry and reads of another project's engine through this project's path are refused as an unknown engine, never 2xx",
    applies: Applies::Stateful,
    run: Run::Trace(check),
};

fn check(input: &TraceInput<'_>) -> Verdict {
    let (model, trace) = (input.model, input.trace);
    let refusals = &model.unknown_engine;
    let allowed: Vec<String> = refusals
        .iter()
        .map(|r| match &r.error_code {
            Some(code) => format!("{} {code}", r.status),
            None => r.status.to_string(),
        })
        .collect();
    let mut problems = Vec::new();
    let mut judged = 0;
    for (index, step) in trace.of(Role::Foreign) {
        let Some(status) = step.status else { continue };
        judged += 1;
        let code = step.field(&model.error_code).and_then(serde_json::Value::as_str);
        let conformant = if refusals.is_empty() {
            (400..500).contains(&status)
        } else {
            refusals.iter().any(|r| r.status == status && r.error_code.as_deref().is_none_or(|c| Some(c) == code))
        };
        if conformant {
            continue;
        }
        let at = trace.name(index);
        problems.push(if step.accepted() {
            format!("{at}: answered {status}: an engine of another project is reachable through this project's path")
        } else {
            format!("{at}: answered {status} with error code {}, not as an unknown engine", code.unwrap_or("none"))
        });
    }
    let expected = if allowed.is_empty() { "a 4xx".to_owned() } else { allowed.join(" or ") };
    findings(
        &format!("another project's engine refused as unknown ({expected})"),
        problems,
        judged,
        "no request named the foreign engine",
    )
}
