//! Reporters: the console ([`console`]), the JSON report ([`json`]), JUnit XML ([`junit`]) and
//! the HTML page ([`html`]), each a reporter of the run's events ([`reporter`]). They read
//! outcomes only, and write as they go: a run's reports are assembled from fragments
//! [`spool`]ed case by case, and failures are grouped by what went wrong.
//! Outcomes are masked ([`Secrets::mask_outcome`]) before any of them renders one, and the curl
//! reproducers read the token from the environment, so no secret reaches a terminal or a file.

mod atomic;
pub mod console;
pub mod coverage;
mod curl;
pub mod html;
pub mod json;
pub mod junit;
mod mask;
pub mod reporter;
pub mod spool;

pub(crate) use atomic::replace_file;
pub use curl::{MAX_INLINE, TOKEN_ENV, body_file, curl, curl_with};
pub use mask::{SECRET_HEADERS, Secrets, install_panic_hook, register as register_secret, set_cookie_values};

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
    /// The header that carries the token (`${token}`): a curl line gets it back from
    /// `$CSE_AUTH_TOKEN`; other secret headers stay `***`.
    pub token_header: String,
    /// Where request bodies too large for a curl line are written (beside the reports).
    pub bodies: Option<std::path::PathBuf>,
    /// Requests are AK/SK-signed: curl cannot reproduce them, `replay` can.
    pub signed: bool,
    /// The shard (`--partition`) this run is, or the shards a merged report holds.
    pub partition: Option<ShardOf>,
}

/// The shards of a partitioned run that a report holds: one for a shard's own report, several
/// for a merged one (`cse-contract merge`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardOf {
    /// `hash` or `count`.
    pub strategy: String,
    /// The shards held, from 1.
    pub shards: Vec<usize>,
    /// How many shards the run was split into.
    pub total: usize,
    /// How many cases the filters selected before partitioning (all shards together).
    pub selected: usize,
}

impl ShardOf {
    /// `hash:2/4`, or `hash:1,2,4/4` for several.
    pub fn label(&self) -> String {
        let shards: Vec<String> = self.shards.iter().map(ToString::to_string).collect();
        format!("{}:{}/{}", self.strategy, shards.join(","), self.total)
    }
}

impl RunInfo {
    /// A run's facts for unit tests: a loopback target, the token header a credential.
    #[cfg(test)]
    pub(crate) fn for_tests() -> RunInfo {
        RunInfo {
            target: "http://127.0.0.1:1".into(),
            target_note: None,
            contract_hash: "0123456789abcdef".into(),
            version: "0.1.0",
            seed: None,
            credential_headers: vec!["X-Auth-Token".into()],
            token_header: "X-Auth-Token".into(),
            bodies: None,
            signed: false,
            partition: None,
        }
    }

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
