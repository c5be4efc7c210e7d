//! Content codings (RFC 9110 section 8.4): a body sent with `Content-Encoding: gzip` is judged
//! for what it encodes, not for its compressed bytes. Clients such as python-requests (and so the
//! Huawei Python SDK) send `Accept-Encoding: gzip, deflate`, and a conforming server may then
//! compress its answer; the validation proxy decodes such a body to judge it.
//!
//! Decoding is bounded: it stops one byte past the cap it is given, so a small body that would
//! decode to gigabytes (a "zip bomb") costs at most the cap. gzip and deflate are decoded with
//! flate2 (its pure-Rust backend), br with brotli-decompressor (pure Rust too: no C build).

use std::fmt;
use std::io::Read;

use super::{Request, Response};

/// The codings this tool decodes, as a message names them.
pub const DECODED: &str = "gzip, deflate and br";

/// Why a body's content coding could not be undone for judging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodingError {
    /// The request's Accept-Encoding does not accept the coding the answer came in.
    NotAccepted {
        /// The coding.
        coding: String,
        /// The request's Accept-Encoding, as sent.
        accept: String,
    },
    /// A coding this tool does not decode.
    Unknown {
        /// The coding.
        coding: String,
    },
    /// Decoded, the body is over the cap.
    OverCap {
        /// The codings, as Content-Encoding lists them.
        codings: String,
        /// The cap, in bytes.
        cap: usize,
    },
    /// The body is not a valid stream of its coding.
    Corrupt {
        /// The coding.
        coding: String,
        /// What the decoder said.
        reason: String,
    },
}

impl fmt::Display for CodingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodingError::NotAccepted { coding, accept } => write!(
                f,
                "it was sent with Content-Encoding: {coding}, which the request's Accept-Encoding ({accept}) does not accept"
            ),
            CodingError::Unknown { coding } => {
                write!(
                    f,
                    "it was sent with Content-Encoding: {coding}, which this tool does not decode (it decodes {DECODED})"
                )
            }
            CodingError::OverCap { codings, cap } => {
                write!(f, "decoded from Content-Encoding: {codings}, it is over {cap} bytes")
            }
            CodingError::Corrupt { coding, reason } => {
                write!(f, "it was sent with Content-Encoding: {coding}, and is not a valid {coding} stream ({reason})")
            }
        }
    }
}

/// The content codings of `response`'s body, in the order they were applied (`identity`, which
/// changes nothing, left out), lowercase; `x-gzip` is gzip (RFC 9110 section 8.4.1.3).
pub fn content_codings(response: &Response) -> Vec<String> {
    values(&response.headers, "content-encoding")
        .map(str::to_ascii_lowercase)
        .filter(|c| c != "identity")
        .map(|c| if c == "x-gzip" { "gzip".to_owned() } else { c })
        .collect()
}

/// The comma-separated elements of every field `name` in `headers`, trimmed, empty ones left out.
fn values<'a>(headers: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Whether `request` accepts an answer in `coding` (RFC 9110 section 12.5.3): without
/// Accept-Encoding, any coding; with it, a coding it lists with a weight above 0, or one it does
/// not list when `*` has a weight above 0.
pub fn accepts(request: &Request, coding: &str) -> bool {
    if !request.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("accept-encoding")) {
        return true;
    }
    let mut star = None;
    for element in values(&request.headers, "accept-encoding") {
        let mut parts = element.split(';');
        let name = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let weight = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let name = if name == "x-gzip" { "gzip".to_owned() } else { name };
        if name == coding {
            return weight > 0.0;
        }
        if name == "*" {
            star = Some(weight > 0.0);
        }
    }
    star.unwrap_or(false)
}

/// `response`'s body with its content codings undone, at most `cap` bytes, when `request`
/// accepted each of them; `Ok(None)`: the body has no content coding.
pub fn decode(request: &Request, response: &Response, cap: usize) -> Result<Option<Vec<u8>>, CodingError> {
    let codings = content_codings(response);
    // An empty body has nothing to undo: the answer to a HEAD, a 204 or a 304 names the coding
    // of a representation it does not carry.
    if codings.is_empty() || response.body.is_empty() {
        return Ok(None);
    }
    let accept = || values(&request.headers, "accept-encoding").collect::<Vec<_>>().join(", ");
    if let Some(coding) = codings.iter().find(|c| !accepts(request, c)) {
        return Err(CodingError::NotAccepted { coding: coding.clone(), accept: accept() });
    }
    let mut body = response.body.to_vec();
    // The last coding applied is the first to undo.
    for coding in codings.iter().rev() {
        body = decode_one(coding, &body, cap).map_err(|e| match e {
            Step::OverCap => CodingError::OverCap { codings: codings.join(", "), cap },
            Step::Unknown => CodingError::Unknown { coding: coding.clone() },
            Step::Corrupt(reason) => CodingError::Corrupt { coding: coding.clone(), reason },
        })?;
    }
    Ok(Some(body))
}

enum Step {
    OverCap,
    Unknown,
    Corrupt(String),
}

/// Undoes one coding, reading at most `cap + 1` bytes of its output.
fn decode_one(coding: &str, bytes: &[u8], cap: usize) -> Result<Vec<u8>, Step> {
    let reader: Box<dyn Read + '_> = match coding {
        // Several gzip members one after another are one body, as zcat reads them.
        "gzip" => Box::new(flate2::read::MultiGzDecoder::new(bytes)),
        // HTTP's deflate is the zlib format (RFC 9110 section 8.4.1.2), but some servers send a
        // raw deflate stream, which browsers accept too: a zlib header says which.
        "deflate" if is_zlib(bytes) => Box::new(flate2::read::ZlibDecoder::new(bytes)),
        "deflate" => Box::new(flate2::read::DeflateDecoder::new(bytes)),
        "br" => Box::new(brotli_decompressor::Decompressor::new(bytes, 4096)),
        _ => return Err(Step::Unknown),
    };
    let mut out = Vec::new();
    reader.take(cap as u64 + 1).read_to_end(&mut out).map_err(|e| Step::Corrupt(e.to_string()))?;
    if out.len() > cap {
        return Err(Step::OverCap);
    }
    Ok(out)
}

/// A zlib header (RFC 1950): the method deflate, and a check value that makes the first two
/// bytes a multiple of 31.
fn is_zlib(bytes: &[u8]) -> bool {
    match bytes {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use bytes::Bytes;

    use super::*;

    const JSON: &[u8] = br#"{"id":"e-1","name":"cse-x","status":"Available"}"#;
    /// `{"br":true}` as node's zlib.brotliCompressSync writes it.
    const BROTLI: [u8; 15] = [11, 5, 128, 123, 34, 98, 114, 34, 58, 116, 114, 117, 101, 125, 3];

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn request(accept: Option<&str>) -> Request {
        let headers = accept.map(|a| vec![("Accept-Encoding".to_owned(), a.to_owned())]).unwrap_or_default();
        Request { method: "GET".into(), url: "http://x/".into(), headers, body: Bytes::new() }
    }

    fn response(coding: &str, body: Vec<u8>) -> Response {
        Response { status: 200, headers: vec![("Content-Encoding".into(), coding.into())], body: Bytes::from(body) }
    }

    #[test]
    fn each_coding_is_undone() {
        let python = request(Some("gzip, deflate"));
        let decoded = |coding: &str, body: Vec<u8>| decode(&python, &response(coding, body), 1 << 20);
        assert_eq!(decoded("gzip", gzip(JSON)), Ok(Some(JSON.to_vec())));
        assert_eq!(decoded("X-GZIP", gzip(JSON)), Ok(Some(JSON.to_vec())));
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        zlib.write_all(JSON).unwrap();
        assert_eq!(decoded("deflate", zlib.finish().unwrap()), Ok(Some(JSON.to_vec())));
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        raw.write_all(JSON).unwrap();
        assert_eq!(decoded("deflate", raw.finish().unwrap()), Ok(Some(JSON.to_vec())));
        let both = [gzip(JSON), gzip(b"")].concat();
        assert_eq!(decoded("gzip", both), Ok(Some(JSON.to_vec())), "two members");
        let br = decode(&request(Some("br")), &response("br", BROTLI.to_vec()), 64);
        assert_eq!(br, Ok(Some(br#"{"br":true}"#.to_vec())));
        // Applied in order: gzip first, then gzip again.
        assert_eq!(decoded("gzip, gzip", gzip(&gzip(JSON))), Ok(Some(JSON.to_vec())));
        assert_eq!(decoded("identity", JSON.to_vec()), Ok(None));
        assert_eq!(decoded("gzip", Vec::new()), Ok(None), "a HEAD's answer");
        let plain = Response { status: 200, headers: Vec::new(), body: Bytes::from_static(JSON) };
        assert_eq!(decode(&python, &plain, 1), Ok(None));
    }

    #[test]
    fn accept_encoding_is_read_as_rfc_9110_says() {
        assert!(accepts(&request(None), "br"), "no Accept-Encoding: any coding");
        assert!(accepts(&request(Some("gzip, deflate")), "gzip"));
        assert!(!accepts(&request(Some("gzip, deflate")), "br"));
        assert!(!accepts(&request(Some("gzip;q=0, *")), "gzip"));
        assert!(accepts(&request(Some("deflate, *;q=0.1")), "br"));
        assert!(!accepts(&request(Some("*;q=0")), "gzip"));
        assert!(!accepts(&request(Some("")), "gzip"), "empty: no coding wanted");
        assert!(accepts(&request(Some("x-gzip")), "gzip"));
        let error = decode(&request(Some("identity")), &response("gzip", gzip(JSON)), 1 << 20).unwrap_err();
        assert_eq!(
            error.to_string(),
            "it was sent with Content-Encoding: gzip, which the request's Accept-Encoding (identity) does not accept"
        );
    }

    /// 4 MiB of zeros compress to about 4 KiB; decoding stops just past the 1 MiB cap.
    #[test]
    fn decoding_stops_at_the_cap() {
        let bomb = gzip(&vec![0; 4 << 20]);
        assert!(bomb.len() < 8 << 10, "{}", bomb.len());
        let error = decode(&request(None), &response("gzip", bomb), 1 << 20).unwrap_err();
        assert_eq!(error, CodingError::OverCap { codings: "gzip".into(), cap: 1 << 20 });
        assert_eq!(error.to_string(), "decoded from Content-Encoding: gzip, it is over 1048576 bytes");
        let exact = decode(&request(None), &response("gzip", gzip(JSON)), JSON.len());
        assert_eq!(exact, Ok(Some(JSON.to_vec())), "a body of exactly the cap");
    }

    #[test]
    fn a_corrupt_or_unknown_coding_says_which() {
        let mut cut = gzip(JSON);
        cut.truncate(cut.len() - 6);
        let corrupt = |body: Vec<u8>| match decode(&request(None), &response("gzip", body), 1 << 20) {
            Err(CodingError::Corrupt { coding, reason }) => (coding, reason),
            other => panic!("{other:?}"),
        };
        assert_eq!(corrupt(cut).0, "gzip", "a stream cut short");
        assert_eq!(corrupt(JSON.to_vec()).0, "gzip", "plain JSON labelled gzip");
        let mut flipped = gzip(JSON);
        let crc = flipped.len() - 8;
        flipped[crc] ^= 0xff;
        assert_eq!(corrupt(flipped).0, "gzip", "a wrong checksum");
        let error = decode(&request(None), &response("zstd", JSON.to_vec()), 1 << 20).unwrap_err();
        assert_eq!(
            error.to_string(),
            "it was sent with Content-Encoding: zstd, which this tool does not decode (it decodes gzip, deflate and br)"
        );
    }
}
