//! Strings for strategies and their descriptions: a printable [`preview`] of a value, strings
//! drawn from a regex, and long strings drawn by length. Lengths are drawn as integers and
//! strings built from them, so that shrinking a long value is a binary search on its length, not
//! one character at a time.

use proptest::prelude::*;

/// A short, printable preview of a value for descriptions.
pub(super) fn preview(text: &str) -> String {
    let chars = text.chars().count();
    let shown: String = text.chars().take(24).collect();
    let quoted = serde_json::to_string(&shown).unwrap_or_default();
    if chars > 24 { format!("{quoted}… ({chars} chars)") } else { quoted }
}

/// Strings matching `pattern`.
pub(super) fn regex(pattern: &str) -> SBoxedStrategy<String> {
    proptest::string::string_regex(pattern).expect("generator regex compiles").sboxed()
}

/// A length from `min` to `max`, log-uniform: every order of magnitude is as likely as any
/// other (16-32 KiB as often as 256-512 KiB), so buffer boundaries at every scale get hit, and
/// the mean stays well below `max`. Shrinks towards `min`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
fn length(min: usize, max: usize) -> impl Strategy<Value = usize> {
    const STEPS: u32 = 1 << 20;
    let (low, high) = ((min.max(1) as f64).ln(), (max.max(1) as f64).ln());
    (0..=STEPS).prop_map(move |step| {
        let len = (low + (high - low) * f64::from(step) / f64::from(STEPS)).exp().round();
        (len as usize).clamp(min, max)
    })
}

/// A string of `len` characters cycling through `unit`: shrinks by length. Built by repeating
/// the unit (ASCII, so bytes are characters) rather than character by character, which was 46 %
/// of the harness's instructions in a callgrind profile.
pub(super) fn long_string(min: usize, max: usize) -> SBoxedStrategy<String> {
    (length(min, max), regex("[A-Za-z0-9 ]{1,4}"))
        .prop_map(|(len, unit)| {
            let mut text = unit.repeat(len / unit.len().max(1) + 1);
            text.truncate(len);
            text
        })
        .sboxed()
}
