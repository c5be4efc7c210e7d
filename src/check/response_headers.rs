//! `response_headers`: the headers the manifest requires for the status are present; an `Allow`
//! header must list the operation's method.

use super::{Applies, Check, Run, CheckInput, Verdict};

pub(super) const CHECK: Check = Check {
    summary: "headers the manifest requires for the status are present (Allow on 405)",
    applies: Applies::Always,
    run: Run::Exchange(check),
};

fn check(input: &CheckInput<'_>) -> Verdict {
    let Some(spec) = input.response_spec() else {
        return Verdict::Skipped("undocumented status: no header requirements".into());
    };
    let method = &input.operation.manifest.method;
    for name in &spec.required_headers {
        match input.response.header(name) {
            None => {
                return Verdict::failed(format!("header {name} on a {}", spec.status), "no such header");
            }
            Some(value) if name.eq_ignore_ascii_case("allow") => {
                if !value.split(',').any(|m| m.trim().eq_ignore_ascii_case(method)) {
                    return Verdict::failed(format!("Allow listing {method}"), format!("Allow: {value}"));
                }
            }
            Some(_) => {}
        }
    }
    Verdict::Passed
}
