//! `content_type`: a response with a body declares the manifest's JSON media type (or a
//! `+json` type), in any case, with any parameters.

use super::{Applies, Check, Run, CheckInput, Verdict};

pub(super) const CHECK: Check = Check {
    summary: "a response with a body declares a JSON media type",
    applies: Applies::Always,
    run: Run::Exchange(check),
};

fn check(input: &CheckInput<'_>) -> Verdict {
    if input.response.body.is_empty() {
        return Verdict::Passed;
    }
    let wanted = &input.operation.manifest.media_type;
    let expected = format!("Content-Type {wanted} (or */*+json)");
    let Some(header) = input.response.header("content-type") else {
        return Verdict::failed(expected, "no Content-Type header on a non-empty body");
    };
    let essence = header.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence == wanted.to_ascii_lowercase() || essence.ends_with("+json") {
        Verdict::Passed
    } else {
        Verdict::failed(expected, format!("Content-Type {header}"))
    }
}
