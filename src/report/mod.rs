//! Reporters: the console ([`console`]), the JSON report ([`json`]) and JUnit XML ([`junit`]).
//! They read outcomes only, and write as they go: a run's reports are assembled from
//! fragments [`spool`]ed case by case.
//! Everything they emit passes through [`Secrets::mask`], and credential headers are written as
//! `***` in curl reproducers, so no token reaches a terminal or a file.

pub mod console;
pub mod coverage;
mod curl;
pub mod html;
pub mod json;
pub mod junit;
mod mask;
pub mod spool;

pub use curl::curl;
pub use mask::{Secrets, install_panic_hook, register as register_secret};

/// What every report says about the run besides the outcomes.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The target URL, credentials in it masked.
    pub target: String,
    /// A word on the target, e.g. "embedded mock".
    pub target_note: Option<String>,
    /// The contract's hash.
    pub contract_hash: String,
    /// This tool's version.
    pub version: &'static str,
    /// The seed of generated cases, if any were generated.
    pub seed: Option<u64>,
    /// Headers whose values are secrets, shown as `***`.
    pub credential_headers: Vec<String>,
}

impl RunInfo {
    /// Whether header `name` carries credentials.
    pub fn is_credential(&self, name: &str) -> bool {
        self.credential_headers.iter().any(|h| h.eq_ignore_ascii_case(name))
    }
}

/// A URL with any `user:password@` replaced by `***@`.
pub fn mask_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn url_credentials_are_masked() {
        assert_eq!(super::mask_url("https://u:p@h:1/x@y"), "https://***@h:1/x@y");
        assert_eq!(super::mask_url("http://127.0.0.1:9"), "http://127.0.0.1:9");
    }
}
