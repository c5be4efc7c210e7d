//! `replay`: re-sends one request of a JSON report, for the cases a curl line cannot reproduce
//! (an AK/SK-signed request must be signed afresh: a signature holds its time) and for a quick
//! "does it still fail?" after a fix. The report holds the request masked; the token comes back
//! from `CSE_AUTH_TOKEN` / `--token-file`, and a signed request is signed again with
//! `CSE_AK`/`CSE_SK`. The answer is printed as curl -i prints it, and the exit code says whether
//! the status is the one the report recorded.

use std::io::Write as _;

use base64::Engine as _;
use serde_json::Value;

use super::args::ReplayArgs;
use super::error::{CliError, CliResult};
use super::exit;
use super::target::{AKSK_MARKER, aksk_from_env};
use crate::client::{Client, ClientConfig, Request, Signer};
use crate::report::{Secrets, TOKEN_ENV};

/// What a masked secret looks like in a report.
const MASK: &str = "***";

/// Headers a signature is made of: dropped before signing afresh.
const SIGNATURE_HEADERS: [&str; 3] = ["Authorization", "X-Sdk-Date", "X-Security-Token"];

/// `replay`.
pub(crate) async fn replay(args: ReplayArgs) -> CliResult {
    let (request, recorded, signer, secrets) = prepare(&args).map_err(CliError::config)?;
    Ok(send(&args, request, recorded, signer, &secrets).await)
}

type Prepared = (Request, Option<u64>, Option<Signer>, Secrets);

/// Finds the case and rebuilds its request, credentials restored.
fn prepare(args: &ReplayArgs) -> Result<Prepared, String> {
    let path = args.report.display();
    let text = crate::files::read_text(&args.report, crate::files::REPORT_LIMIT)
        .map_err(|e| format!("cannot read the report `{path}`: {e}"))?;
    let report: Value = serde_json::from_str(&text).map_err(|e| format!("`{path}` is not a JSON report: {e}"))?;
    let cases = report["cases"].as_array().ok_or_else(|| format!("`{path}` has no `cases`"))?;
    let case = cases
        .iter()
        .find(|c| c["name"] == args.case.as_str())
        .ok_or_else(|| format!("no case named `{}` in `{path}` (`run --list` names them)", args.case))?;
    let (sent, recorded) = if args.minimal {
        let minimal = &case["minimal"];
        (&minimal["sent"], None)
    } else {
        (&case["sent"], case["status"].as_u64())
    };
    if sent.is_null() {
        let what = if args.minimal {
            "no minimal request (it was not shrunk)"
        } else {
            "no request (it passed, or could not be built)"
        };
        return Err(format!("case `{}` has {what} in `{path}`", args.case));
    }
    let mut request = request_of(sent, args.report.parent())?;
    if let Some(target) = &args.target {
        super::target::check_target(target)
            .map_err(|why| format!("--target `{}` {why}", crate::report::mask_url(target)))?;
        request.url = retarget(&request.url, target)?;
    }
    let mut secrets = Secrets::default();
    let given = super::settings::extra_headers(&args.headers, &[], None).map_err(|problems| problems.join("; "))?;
    for header in given {
        // Its value may be a secret the report masked: masked in what replay prints.
        secrets.add(&header.value);
        request.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&header.name));
        request.headers.push((header.name, header.value));
    }
    let signer = restore_credentials(&mut request, args, &mut secrets)?;
    let masked: Vec<&str> = request
        .headers
        .iter()
        .filter(|(n, v)| v.contains(MASK) && !n.eq_ignore_ascii_case(&args.token_header))
        .map(|(n, _)| n.as_str())
        .collect();
    if !masked.is_empty() {
        eprintln!(
            "note: {} still hold *** (a secret the report masked): give the value with -H 'Name: value' or -H @FILE",
            masked.join(", ")
        );
    }
    Ok((request, recorded, signer, secrets))
}

/// The request a report's `sent` object describes; a relative body file is looked for where the
/// run ran (the current directory), then beside the report.
fn request_of(sent: &Value, report_dir: Option<&std::path::Path>) -> Result<Request, String> {
    let text = |key: &str| sent[key].as_str().map(str::to_owned).ok_or_else(|| format!("`sent.{key}` is missing"));
    let headers = sent["headers"]
        .as_array()
        .ok_or("`sent.headers` is missing")?
        .iter()
        .map(|pair| match (pair[0].as_str(), pair[1].as_str()) {
            (Some(n), Some(v)) => Ok((n.to_owned(), v.to_owned())),
            _ => Err("`sent.headers` holds something other than [name, value] pairs".to_owned()),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let body = if let Some(size) = sent["body_omitted"].as_u64() {
        return Err(format!(
            "the body of this case ({size} bytes) was not kept: it was not told in full; replay its failure group's example"
        ));
    } else if let Some(file) = sent["body_file"].as_str() {
        let beside = report_dir.zip(std::path::Path::new(file).file_name()).map(|(d, f)| d.join("bodies").join(f));
        let read = |path: &std::path::Path| crate::files::read_bounded(path, crate::files::REPORT_LIMIT);
        read(std::path::Path::new(file))
            .or_else(|e| beside.map_or(Err(e), |b| read(&b)))
            .map_err(|e| format!("cannot read the body file `{file}`: {e}"))?
    } else if let Some(encoded) = sent["body_base64"].as_str() {
        base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|e| format!("`sent.body_base64`: {e}"))?
    } else {
        sent["body"].as_str().unwrap_or_default().as_bytes().to_vec()
    };
    Ok(Request { method: text("method")?, url: text("url")?, headers, body: body.into() })
}

/// `url` with its scheme and authority taken from `target`.
fn retarget(url: &str, target: &str) -> Result<String, String> {
    let path_at = |u: &str| u.split_once("://").map(|(s, rest)| s.len() + 3 + rest.find('/').unwrap_or(rest.len()));
    let at = path_at(url).ok_or_else(|| format!("the report's URL `{url}` has no scheme"))?;
    let base = target.trim_end_matches('/');
    path_at(base).ok_or_else(|| format!("--target `{target}` is not a URL (http://host:port)"))?;
    Ok(format!("{base}{}", &url[at..]))
}

/// Puts the token back where the report masked it, or prepares a fresh signature.
fn restore_credentials(
    request: &mut Request,
    args: &ReplayArgs,
    secrets: &mut Secrets,
) -> Result<Option<Signer>, String> {
    let signed = request.header("Authorization").is_some_and(|v| v.starts_with(crate::sign::ALGORITHM));
    if signed {
        let credentials = aksk_from_env()
            .ok()
            .flatten()
            .ok_or("this request was AK/SK-signed: set CSE_AK and CSE_SK to sign it afresh")?;
        secrets.add(&credentials.sk);
        let project_id =
            request.header("X-Project-Id").map(str::to_owned).or_else(|| std::env::var("CSE_PROJECT_ID").ok());
        request.headers.retain(|(n, _)| !SIGNATURE_HEADERS.iter().any(|h| n.eq_ignore_ascii_case(h)));
        request.headers.push((args.token_header.clone(), AKSK_MARKER.to_owned()));
        let fresh =
            Signer { credentials, project_id, token_header: args.token_header.clone(), marker: AKSK_MARKER.to_owned() };
        return Ok(Some(fresh));
    }
    // Only the token header's masked value is the token; `***` elsewhere is left as it is.
    let holds_token = |name: &str, value: &str| name.eq_ignore_ascii_case(&args.token_header) && value.contains(MASK);
    if !request.headers.iter().any(|(n, v)| holds_token(n, v)) {
        return Ok(None);
    }
    let token = token(args)?;
    secrets.add(&token);
    for (name, value) in &mut request.headers {
        if holds_token(name, value) {
            *value = value.replace(MASK, &token);
        }
    }
    Ok(None)
}

fn token(args: &ReplayArgs) -> Result<String, String> {
    if let Some(file) = &args.token_file {
        let text = crate::files::read_text(file, crate::files::SMALL_FILE_LIMIT)
            .map_err(|e| format!("cannot read --token-file `{}`: {e}", file.display()))?;
        return Ok(text.trim().to_owned());
    }
    std::env::var(TOKEN_ENV)
        .ok()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("the request's token was masked in the report: set {TOKEN_ENV} (or --token-file)"))
}

/// Sends the request and prints the answer (secrets masked); exit 0 when the status is the one
/// the report recorded (or none was recorded), 1 when it differs or nothing came back.
async fn send(
    args: &ReplayArgs,
    request: Request,
    recorded: Option<u64>,
    signer: Option<Signer>,
    secrets: &Secrets,
) -> u8 {
    let config = ClientConfig { timeout: args.timeout, signer, ..ClientConfig::default() };
    let exchange = Client::new(config).send(request).await;
    let response = match exchange.result {
        Ok(response) => response,
        Err(e) => {
            eprintln!("error: no answer: {}", secrets.mask(&e.to_string()));
            return exit::FAILURES;
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "HTTP/1.1 {}", response.status);
    for (name, value) in &response.headers {
        let _ = writeln!(out, "{name}: {}", secrets.mask(value));
    }
    let _ = writeln!(out);
    let _ = out.write_all(&secrets.mask_bytes(&response.body));
    let _ = writeln!(out);
    match recorded {
        Some(status) if status != u64::from(response.status) => {
            eprintln!("replay: status {}, the report recorded {status}", response.status);
            exit::FAILURES
        }
        Some(status) => {
            eprintln!("replay: status {status}, as the report recorded");
            exit::SUCCESS
        }
        None => exit::SUCCESS,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn retarget_keeps_path_and_query() {
        assert_eq!(super::retarget("http://127.0.0.1:1/v2/p?x=1", "http://h:9/").unwrap(), "http://h:9/v2/p?x=1");
        assert!(super::retarget("nope", "http://h").is_err());
        assert!(super::retarget("http://a/b", "h:9").is_err());
    }
}
