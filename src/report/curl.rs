//! A request as a curl command that sends the same bytes, so that pasting it reproduces the case:
//! - headers curl would add on its own (Accept, User-Agent, Expect, a form Content-Type) are
//!   cleared when the request has none, so the reproducer does not quietly fix the case;
//! - an empty header is written `-H 'Name;'`, curl's form for "send it empty" (`'Name:'` would
//!   remove it, and a case about an empty header would reproduce as one about a missing header);
//! - the token is read from the environment, `-H "X-Auth-Token: $CSE_AUTH_TOKEN"`: the report
//!   holds no secret, and the line still works against an endpoint that checks its token;
//! - a body longer than [`MAX_INLINE`] is written to a file beside the reports and sent with
//!   `--data-binary @FILE`; without reports it is cut, and the line says so;
//! - an AK/SK-signed request cannot be signed by curl: the line says to use `cse-contract replay`.
//!
//! The request it renders is already masked, so a secret anywhere in it is `***`; only the
//! token in a credential header can be restored (from the environment).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::RunInfo;
use super::mask::MASK;
use crate::client::Request;

/// Bodies longer than this go to a file rather than into the command line.
pub const MAX_INLINE: usize = 4096;

/// The environment variable the reproducer reads the token from (the one `run` reads too).
pub const TOKEN_ENV: &str = "CSE_AUTH_TOKEN";

/// The request as a shell command, for a run described by `info`.
pub fn curl(request: &Request, info: &RunInfo) -> String {
    curl_with(request, info, info.bodies.as_deref())
}

/// [`curl`], writing a large body to `bodies` (`None`: the body is cut, and the line says so).
pub fn curl_with(request: &Request, info: &RunInfo, bodies: Option<&Path>) -> String {
    let mut cmd = String::from("curl -sS -i");
    if request.method != "GET" || !request.body.is_empty() {
        let _ = write!(cmd, " -X {}", quote(&request.method));
    }
    let _ = write!(cmd, " {}", quote(&request.url));
    let mut masked_headers = Vec::new();
    for (name, value) in &request.headers {
        let token = name.eq_ignore_ascii_case(&info.token_header) && !info.signed;
        if !token && value.contains(MASK) {
            masked_headers.push(name.as_str());
        }
        cmd.push_str(" -H ");
        cmd.push_str(&header(name, value, token));
    }
    for default in ["Accept", "User-Agent"] {
        if request.header(default).is_none() {
            let _ = write!(cmd, " -H {}", quote(&format!("{default}:")));
        }
    }
    let mut notes = Vec::new();
    if !masked_headers.is_empty() {
        // Only the token comes back from the environment: another secret is not the token.
        notes.push(format!("*** in {} stands for a secret value: give it again", masked_headers.join(", ")));
    }
    if request.url.contains(MASK) {
        notes.push("*** in the URL stands for a secret".to_owned());
    }
    if !request.body.is_empty() {
        for default in ["Content-Type", "Expect"] {
            if request.header(default).is_none() {
                let _ = write!(cmd, " -H '{default}:'");
            }
        }
        body(&mut cmd, &request.body, bodies, &mut notes);
    }
    if info.signed {
        notes.push("AK/SK-signed: curl cannot sign, `cse-contract replay` signs afresh".to_owned());
    }
    if !notes.is_empty() {
        let _ = write!(cmd, "  # {}", notes.join("; "));
    }
    cmd
}

/// `-H` argument for one header. The token's header, its value masked, gets it back from
/// `$CSE_AUTH_TOKEN`, in double quotes (the only quoting where the shell expands it).
fn header(name: &str, value: &str, token: bool) -> String {
    if value.is_empty() {
        return quote(&format!("{name};"));
    }
    if !(token && value.contains(MASK)) {
        return quote(&format!("{name}: {value}"));
    }
    let parts: Vec<String> = format!("{name}: {value}").split(MASK).map(double_quote_escape).collect();
    format!("\"{}\"", parts.join(&format!("${{{TOKEN_ENV}}}")))
}

/// Appends the body: inline, from a file beside the reports, or cut when there is no file.
fn body(cmd: &mut String, body: &[u8], dir: Option<&Path>, notes: &mut Vec<String>) {
    if body.windows(MASK.len()).any(|w| w == MASK.as_bytes()) {
        notes.push("*** in the body stands for a secret".to_owned());
    }
    if body.len() > MAX_INLINE {
        if let Some(path) = dir.and_then(|dir| body_file(dir, body).ok()) {
            let _ = write!(cmd, " --data-binary {}", quote(&format!("@{}", path.display())));
            return;
        }
    }
    let shown = &body[..body.len().min(MAX_INLINE)];
    match std::str::from_utf8(shown) {
        Ok(text) if !text.contains('\0') => {
            let _ = write!(cmd, " --data-binary {}", quote(text));
        }
        _ => *cmd = format!("printf '{}' | {cmd} --data-binary @-", printf_escape(shown)),
    }
    if shown.len() < body.len() {
        notes.push(format!(
            "body cut: {} more bytes not shown (no reports to write it beside)",
            body.len() - shown.len()
        ));
    }
}

/// Writes `body` to `DIR/body-HASH.bin` (once: the name is the content's hash, so workers
/// rendering the same body at once write the same bytes) and returns its path.
pub fn body_file(dir: &Path, body: &[u8]) -> std::io::Result<PathBuf> {
    let hash = body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let path = dir.join(format!("body-{hash:016x}-{}.bin", body.len()));
    if !path.exists() {
        std::fs::create_dir_all(dir)?;
        let temp = dir.join(format!(".{}.{:?}.tmp", std::process::id(), std::thread::current().id()));
        std::fs::write(&temp, body)?;
        std::fs::rename(&temp, &path)?;
    }
    Ok(path)
}

/// Single-quotes `text` for a POSIX shell.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Escapes `text` for the inside of a double-quoted shell word.
fn double_quote_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '"' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Bytes for `printf`'s format, escaped in octal (`\377`): POSIX, so dash (Debian's `sh`) reads
/// them as bash does; dash prints `\xff` as it stands.
fn printf_escape(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        match b {
            b'\'' | b'\\' | b'%' => {
                let _ = write!(out, "\\{b:03o}");
            }
            0x20..=0x7e => out.push(char::from(*b)),
            _ => {
                let _ = write!(out, "\\{b:03o}");
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &[u8], headers: &[(&str, &str)]) -> Request {
        Request {
            method: "PUT".into(),
            url: "http://h/x".into(),
            headers: headers.iter().map(|(n, v)| ((*n).into(), (*v).into())).collect(),
            body: bytes::Bytes::copy_from_slice(body),
        }
    }

    fn info(bodies: Option<PathBuf>) -> RunInfo {
        RunInfo { bodies, ..RunInfo::for_tests() }
    }

    #[test]
    fn the_token_comes_from_the_environment_and_curl_defaults_are_cleared() {
        let r = request(b"{\"a\":\"it's\"}", &[("X-Auth-Token", "***"), ("Content-Type", "application/json")]);
        assert_eq!(
            curl(&r, &info(None)),
            r#"curl -sS -i -X 'PUT' 'http://h/x' -H "X-Auth-Token: ${CSE_AUTH_TOKEN}" -H 'Content-Type: application/json' -H 'Accept:' -H 'User-Agent:' -H 'Expect:' --data-binary '{"a":"it'\''s"}'"#
        );
        // Around the token, what the shell would expand is escaped.
        let r = request(b"", &[("X-Auth-Token", "$x\"***`")]);
        assert!(curl(&r, &info(None)).contains(r#"-H "X-Auth-Token: \$x\"${CSE_AUTH_TOKEN}\`""#));
        // A value that is not the token is sent as it is, even in a credential header.
        let r = request(b"", &[("X-Auth-Token", "invalid")]);
        assert!(curl(&r, &info(None)).contains("-H 'X-Auth-Token: invalid'"));
    }

    #[test]
    fn only_the_token_comes_back_from_the_environment() {
        // A secret -H header is not the token: it stays `***`, and the line says so.
        let mut info = info(None);
        info.credential_headers.push("Authorization".into());
        let r = request(b"", &[("X-Auth-Token", "***"), ("Authorization", "Bearer ***")]);
        let cmd = curl(&r, &info);
        assert!(cmd.contains(r#"-H "X-Auth-Token: ${CSE_AUTH_TOKEN}""#), "{cmd}");
        assert!(cmd.contains("-H 'Authorization: Bearer ***'"), "{cmd}");
        assert!(cmd.ends_with("# *** in Authorization stands for a secret value: give it again"), "{cmd}");
    }

    #[test]
    fn empty_headers_are_sent_empty() {
        let r = request(b"{}", &[("Content-Type", ""), ("X-Auth-Token", "")]);
        let cmd = curl(&r, &info(None));
        assert!(cmd.contains("-H 'Content-Type;' -H 'X-Auth-Token;'"), "{cmd}");
        assert!(!cmd.contains("-H 'Content-Type:'"), "{cmd}");
    }

    #[test]
    fn large_bodies_go_to_a_file_or_are_said_to_be_cut() {
        let big = vec![b'a'; MAX_INLINE + 10];
        let dir = tempfile::tempdir().unwrap();
        let cmd = curl(&request(&big, &[]), &info(Some(dir.path().to_path_buf())));
        let at = cmd.find("--data-binary '@").unwrap() + "--data-binary '@".len();
        let path = &cmd[at..cmd[at..].find('\'').unwrap() + at];
        assert_eq!(std::fs::read(path).unwrap(), big);
        let cmd = curl(&request(&big, &[]), &info(None));
        assert!(cmd.contains("# body cut: 10 more bytes not shown"), "{cmd}");
    }

    #[test]
    fn binary_bodies_go_through_printf() {
        let cmd = curl(&request(b"R\xffx", &[]), &info(None));
        assert!(cmd.starts_with(r"printf 'R\377x' | curl"), "{cmd}");
        // dash, the sh of Debian, and bash both read the octal escapes.
        let out = std::process::Command::new("sh").args(["-c", r"printf 'R\377\047\045x'"]).output().unwrap();
        assert_eq!(out.stdout, b"R\xff'%x");
        assert!(cmd.contains("-H 'Content-Type:'"));
    }

    #[test]
    fn signed_requests_point_to_replay() {
        let r = request(b"", &[("Authorization", "SDK-HMAC-SHA256 Access=***, Signature=ab")]);
        let cmd = curl(&r, &RunInfo { signed: true, ..info(None) });
        assert!(cmd.contains("-H 'Authorization: SDK-HMAC-SHA256 Access=***, Signature=ab'"), "{cmd}");
        assert!(cmd.ends_with("cse-contract replay` signs afresh"), "{cmd}");
    }
}
