//! `name_consistent`: an accepted Retry's answer names the engine as the engine's own details
//! do: its `name` and `id` equal what `show_engine` says. A stateful property.

use super::{Applies, Check, Run, TraceInput, Verdict, findings};

pub(super) const CHECK: Check = Check {
    summary: "an accepted Retry's name and id equal what show_engine says of the engine",
    applies: Applies::Stateful,
    run: Run::Trace(check),
};

fn check(input: &TraceInput<'_>) -> Verdict {
    let (model, trace) = (input.model, input.trace);
    let mut problems = Vec::new();
    let mut judged = 0;
    for accepted in trace.accepted(model) {
        let answered = [
            ("name", &model.accepted_engine_name, &model.engine.name),
            ("id", &model.accepted_engine_id, &model.engine.id),
        ];
        for (index, read) in trace.engine_reads(accepted.step.role).filter(|(_, s)| s.status == Some(200)) {
            judged += 1;
            for (what, in_answer, in_read) in answered {
                let (said, shown) = (accepted.step.field(in_answer), read.field(in_read));
                if said != shown {
                    problems.push(format!(
                        "{} answered {what} {}, but {} shows {}",
                        trace.name(accepted.index),
                        display(said),
                        trace.name(index),
                        display(shown)
                    ));
                }
            }
        }
    }
    findings(
        "the name and id of an accepted Retry's answer equal show_engine's",
        problems,
        judged,
        "no accepted Retry of an engine whose details were read",
    )
}

fn display(value: Option<&serde_json::Value>) -> String {
    value.map_or_else(|| "absent".to_owned(), ToString::to_string)
}
