//! A request as a curl command that sends the same bytes: headers curl would add on its own
//! (Accept, User-Agent, a form Content-Type) are cleared when the request has none, so the
//! reproducer does not quietly fix the case. Credential headers are shown as `***`.

use std::fmt::Write as _;

use crate::client::Request;

/// Bodies longer than this are cut in reproducers.
const MAX_BODY: usize = 4096;

/// The request as a shell command; `credential` says which headers to mask.
pub fn curl(request: &Request, credential: impl Fn(&str) -> bool) -> String {
    let mut cmd = String::from("curl -sS -i");
    if request.method != "GET" || !request.body.is_empty() {
        let _ = write!(cmd, " -X {}", quote(&request.method));
    }
    let _ = write!(cmd, " {}", quote(&request.url));
    for (name, value) in &request.headers {
        let value = if credential(name) { super::mask::MASK } else { value.as_str() };
        let _ = write!(cmd, " -H {}", quote(&format!("{name}: {value}")));
    }
    for default in ["Accept", "User-Agent"] {
        if request.header(default).is_none() {
            let _ = write!(cmd, " -H {}", quote(&format!("{default}:")));
        }
    }
    if request.body.is_empty() {
        return cmd;
    }
    if request.header("Content-Type").is_none() {
        cmd.push_str(" -H 'Content-Type:'");
    }
    let shown = &request.body[..request.body.len().min(MAX_BODY)];
    let cut = request.body.len() - shown.len();
    match std::str::from_utf8(shown) {
        Ok(text) if !text.contains('\0') => {
            let _ = write!(cmd, " --data-binary {}", quote(text));
        }
        _ => cmd = format!("printf '{}' | {cmd} --data-binary @-", printf_escape(shown)),
    }
    if cut > 0 {
        let _ = write!(cmd, "  # body cut: {cut} more bytes");
    }
    cmd
}

/// Single-quotes `text` for a POSIX shell.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn printf_escape(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        match b {
            b'\'' | b'\\' | b'%' => {
                let _ = write!(out, "\\x{b:02x}");
            }
            0x20..=0x7e => out.push(char::from(*b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &'static [u8], headers: &[(&str, &str)]) -> Request {
        Request {
            method: "PUT".into(),
            url: "http://h/x".into(),
            headers: headers.iter().map(|(n, v)| ((*n).into(), (*v).into())).collect(),
            body: bytes::Bytes::from_static(body),
        }
    }

    #[test]
    fn masks_credentials_and_clears_curl_defaults() {
        let r = request(b"{\"a\":\"it's\"}", &[("X-Auth-Token", "secret"), ("Content-Type", "application/json")]);
        let cmd = curl(&r, |n| n.eq_ignore_ascii_case("x-auth-token"));
        assert_eq!(
            cmd,
            r#"curl -sS -i -X 'PUT' 'http://h/x' -H 'X-Auth-Token: ***' -H 'Content-Type: application/json' -H 'Accept:' -H 'User-Agent:' --data-binary '{"a":"it'\''s"}'"#
        );
    }

    #[test]
    fn binary_bodies_go_through_printf() {
        let cmd = curl(&request(b"R\xffx", &[]), |_| false);
        assert!(cmd.starts_with(r"printf 'R\xffx' | curl"), "{cmd}");
        assert!(cmd.contains("-H 'Content-Type:'"));
    }
}
