//! HTTP/1 request framing, read ahead of hyper. Every request head is held until it is whole,
//! checked against the mock's limits and the message-framing rules of RFC 9112 §6, and only then
//! handed on; bodies are counted through (Content-Length, or chunked as hyper decodes it) so that
//! the next head of a pipelined stream is found.
//!
//! hyper has no hook for the answers it gives to heads it cannot parse (an empty 400, 414 or 431),
//! so the mock must see them first: a head hyper would refuse is refused here, the mock answers it
//! in JSON like any other error, and hyper never sees it. This parser is at least as strict as
//! hyper's (both use httparse; the method, target and header names pass the same `http` checks).

use bytes::{Buf as _, BytesMut};

/// Longest request line (method, target, version), in bytes: the buffer nginx gives it by
/// default. Past it, 414.
pub(crate) const MAX_REQUEST_LINE: usize = 8 * 1024;
/// Largest head (request line and header fields), in bytes: the cloud gateway's bound
/// (schemas/FACTS.md §6). Past it, 431.
pub(crate) const MAX_HEAD: usize = 128 * 1024;
/// Most header fields in a head: Apache's default (`LimitRequestFields`). Past it, 431.
pub(crate) const MAX_HEADERS: usize = 100;
/// The chunk extensions a body may carry in all, in bytes: hyper's own bound.
const MAX_CHUNK_EXTENSIONS: u64 = 16 * 1024;

/// HTTP/2 with prior knowledge starts with this; such a connection is not framed here.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Why a request is refused before it is routed; the mock answers each (`handlers::refused`)
/// and closes the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// 400: the head breaks HTTP/1.1's syntax or its framing rules.
    Malformed(&'static str),
    /// 414: a request line over [`MAX_REQUEST_LINE`].
    RequestLineTooLong,
    /// 431: a head over [`MAX_HEAD`].
    HeadTooLarge,
    /// 431: more than [`MAX_HEADERS`] fields.
    TooManyHeaders,
    /// 501: a transfer coding other than chunked (RFC 9112 §6.1), named.
    UnsupportedCoding(String),
    /// 408: the head was begun but not finished within the idle timeout.
    TimedOut,
}

/// Where the stream stopped making sense.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// A head refused: no byte of it reaches hyper.
    Refuse(Refusal),
    /// A chunked body broken: the bytes before the break are handed on, then the stream ends, so
    /// hyper's body fails and the handler reading it answers 400.
    Cut,
}

impl From<Refusal> for Stop {
    fn from(refusal: Refusal) -> Stop {
        Stop::Refuse(refusal)
    }
}

/// What the connection waits for, which decides the timeout that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Waiting {
    /// A request head (the connection is new, or between requests).
    Head,
    /// The rest of a request body.
    Body,
    /// Anything: an HTTP/2 connection, whose frames are not followed here.
    Stream,
}

#[derive(Debug)]
enum State {
    /// The connection's first bytes: maybe HTTP/2's preface.
    Start,
    /// Before or inside a request head.
    Head,
    /// Content-Length bytes still to come.
    Length(u64),
    /// Inside a chunked body.
    Chunked(Chunked),
    /// HTTP/2: bytes pass unframed.
    Tunnel,
}

/// The framing of one connection's incoming bytes.
#[derive(Debug)]
pub(crate) struct Framing {
    state: State,
    /// How far the current head has been searched.
    scan: Scan,
    /// Counts completed heads and bodies, so a timer armed in one phase is not carried into the
    /// next.
    phase: u64,
}

impl Framing {
    pub(crate) fn new() -> Framing {
        Framing { state: State::Start, scan: Scan::default(), phase: 0 }
    }

    /// Moves what can be framed from `input` to `out`: bodies as they come, a head once it is
    /// whole and acceptable. A head still incomplete stays in `input`.
    pub(crate) fn feed(&mut self, input: &mut BytesMut, out: &mut BytesMut) -> Result<(), Stop> {
        while !input.is_empty() {
            match &mut self.state {
                State::Start => {
                    let n = input.len().min(H2_PREFACE.len());
                    if input[..n] != H2_PREFACE[..n] {
                        self.state = State::Head;
                    } else if n == H2_PREFACE.len() {
                        self.state = State::Tunnel;
                    } else {
                        return Ok(());
                    }
                }
                State::Head => {
                    let Some((len, body)) = head(input, &mut self.scan)? else { return Ok(()) };
                    out.extend_from_slice(&input[..len]);
                    input.advance(len);
                    self.scan = Scan::default();
                    self.enter(body);
                }
                State::Length(left) => {
                    let n = usize::try_from(*left).unwrap_or(usize::MAX).min(input.len());
                    out.extend_from_slice(&input[..n]);
                    input.advance(n);
                    *left -= n as u64;
                    if *left == 0 {
                        self.enter(State::Head);
                    }
                }
                State::Chunked(chunked) => {
                    let (used, step) = chunked.advance(input);
                    out.extend_from_slice(&input[..used]);
                    input.advance(used);
                    match step {
                        Step::More => {}
                        Step::Done => self.enter(State::Head),
                        Step::Broken => return Err(Stop::Cut),
                    }
                }
                State::Tunnel => {
                    out.extend_from_slice(input);
                    input.clear();
                }
            }
        }
        Ok(())
    }

    fn enter(&mut self, state: State) {
        self.state = state;
        self.phase += 1;
    }

    /// What the connection now waits for.
    pub(crate) fn waiting(&self) -> Waiting {
        match self.state {
            State::Start | State::Head => Waiting::Head,
            State::Length(_) | State::Chunked(_) => Waiting::Body,
            State::Tunnel => Waiting::Stream,
        }
    }

    /// Changes whenever a head or a body is complete.
    pub(crate) fn phase(&self) -> u64 {
        self.phase
    }
}

/// How far a head has been searched, so the search stays linear however the head trickles in.
#[derive(Debug, Default)]
struct Scan {
    /// Where to search on from.
    from: usize,
    /// The request line is whole (and within bounds).
    line_done: bool,
}

/// A complete, acceptable head at the start of `input`: its length and the state its body puts
/// the framing in. `None` while it is incomplete.
fn head(input: &mut BytesMut, scan: &mut Scan) -> Result<Option<(usize, State)>, Refusal> {
    // Empty lines before a request line are skipped (RFC 9112 §2.2), as httparse skips them.
    if !scan.line_done {
        while let Some(n) = [&b"\r\n"[..], b"\n"].iter().find(|nl| input.starts_with(nl)).map(|nl| nl.len()) {
            input.advance(n);
            scan.from = 0;
        }
        if input.is_empty() || input[..] == b"\r"[..] {
            return Ok(None);
        }
        let Some(offset) = input[scan.from..].iter().position(|&b| b == b'\n') else {
            scan.from = input.len();
            let too_long = input.len() > MAX_REQUEST_LINE + 1;
            return if too_long { Err(Refusal::RequestLineTooLong) } else { Ok(None) };
        };
        let newline = scan.from + offset;
        if newline - usize::from(input[newline - 1] == b'\r') > MAX_REQUEST_LINE {
            return Err(Refusal::RequestLineTooLong);
        }
        *scan = Scan { from: newline, line_done: true };
    }
    let end = match find_end(input, scan.from) {
        Ok(end) => end,
        Err(resume) => {
            scan.from = resume;
            return if input.len() > MAX_HEAD { Err(Refusal::HeadTooLarge) } else { Ok(None) };
        }
    };
    if end > MAX_HEAD {
        return Err(Refusal::HeadTooLarge);
    }
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut fields);
    match request.parse(&input[..end]) {
        Ok(httparse::Status::Complete(len)) => Ok(Some((len, body_of(&request)?))),
        Ok(httparse::Status::Partial) => {
            scan.from = end;
            Ok(None)
        }
        Err(httparse::Error::TooManyHeaders) => Err(Refusal::TooManyHeaders),
        Err(e) => Err(Refusal::Malformed(syntax_error(e))),
    }
}

/// The end of the head (just past its empty line) in `input`, searching from `from`; or where
/// to search from once more bytes have come.
fn find_end(input: &[u8], from: usize) -> Result<usize, usize> {
    let mut at = from;
    while let Some(offset) = input[at..].iter().position(|&b| b == b'\n') {
        let newline = at + offset;
        match (input.get(newline + 1), input.get(newline + 2)) {
            (Some(b'\n'), _) => return Ok(newline + 2),
            (Some(b'\r'), Some(b'\n')) => return Ok(newline + 3),
            (None, _) | (Some(b'\r'), None) => return Err(newline),
            _ => at = newline + 1,
        }
    }
    Err(input.len())
}

fn syntax_error(error: httparse::Error) -> &'static str {
    match error {
        httparse::Error::Token => "the method is not a token",
        httparse::Error::Version => "the version is not HTTP/1.0 or HTTP/1.1",
        httparse::Error::HeaderName => "a header name is not a token",
        httparse::Error::HeaderValue => "a header value holds a control character",
        httparse::Error::NewLine | httparse::Error::Status => "a line is not ended by CRLF",
        httparse::Error::TooManyHeaders => "too many header fields",
    }
}

/// How the body of a parsed head is framed (RFC 9112 §6.3), or why it cannot be.
fn body_of(request: &httparse::Request<'_, '_>) -> Result<State, Refusal> {
    let method = request.method.unwrap_or_default();
    if http::Method::from_bytes(method.as_bytes()).is_err() {
        return Err(Refusal::Malformed("the method is not a token"));
    }
    if http::Uri::try_from(request.path.unwrap_or_default().as_bytes()).is_err() {
        return Err(Refusal::Malformed("the request target is not a URI"));
    }
    let mut length: Option<u64> = None;
    let mut codings: Vec<&[u8]> = Vec::new();
    let mut has_codings = false;
    for field in request.headers.iter() {
        if http::HeaderName::from_bytes(field.name.as_bytes()).is_err() {
            return Err(Refusal::Malformed("a header name is not a token"));
        }
        if field.name.eq_ignore_ascii_case("content-length") {
            let n = digits(field.value).ok_or(Refusal::Malformed("Content-Length is not a number"))?;
            if length.is_some_and(|before| before != n) {
                return Err(Refusal::Malformed("two Content-Length fields disagree"));
            }
            length = Some(n);
        } else if field.name.eq_ignore_ascii_case("transfer-encoding") {
            has_codings = true;
            codings.extend(field.value.split(|&b| b == b',').map(<[u8]>::trim_ascii));
        }
    }
    if !has_codings {
        return Ok(length.filter(|&n| n > 0).map_or(State::Head, State::Length));
    }
    if request.version == Some(0) {
        return Err(Refusal::Malformed("HTTP/1.0 has no Transfer-Encoding"));
    }
    if length.is_some() {
        return Err(Refusal::Malformed("Transfer-Encoding beside Content-Length"));
    }
    chunked_codings(&codings)?;
    Ok(State::Chunked(Chunked::default()))
}

/// The Transfer-Encoding list accepted: `chunked`, once. RFC 9112 §6.3: chunked not last
/// leaves the length unknown (400); §6.1: a coding the server does not implement is 501.
fn chunked_codings(codings: &[&[u8]]) -> Result<(), Refusal> {
    let chunked = |c: &&[u8]| c.eq_ignore_ascii_case(b"chunked");
    if codings.iter().any(|c| c.is_empty()) {
        return Err(Refusal::Malformed("an empty transfer coding"));
    }
    if !codings.last().is_some_and(chunked) {
        return Err(Refusal::Malformed("chunked is not the final transfer coding"));
    }
    if let Some(other) = codings.iter().find(|c| !chunked(c)) {
        let name: String = String::from_utf8_lossy(other).chars().take(64).collect();
        return Err(Refusal::UnsupportedCoding(name));
    }
    if codings.len() > 1 {
        return Err(Refusal::Malformed("chunked is applied more than once"));
    }
    Ok(())
}

/// A Content-Length value: digits only, as hyper reads it (no sign, no list).
fn digits(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |n, &b| match b {
        b'0'..=b'9' => n.checked_mul(10)?.checked_add(u64::from(b - b'0')),
        _ => None,
    })
}

/// Where a chunked body is, byte by byte as hyper's decoder (`proto/h1/decode.rs`) walks it, so
/// both agree on where the body ends.
#[derive(Debug, Default)]
struct Chunked {
    at: ChunkAt,
    size: u64,
    extensions: u64,
    trailer_bytes: usize,
    trailers: usize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkAt {
    #[default]
    Start,
    Size,
    SizeSpace,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    Trailer,
    TrailerLf,
    EndCr,
    EndLf,
}

enum Step {
    More,
    Done,
    Broken,
}

impl Chunked {
    /// How many bytes of `input` belong to the body, and whether it is done or broken there.
    fn advance(&mut self, input: &[u8]) -> (usize, Step) {
        let mut used = 0;
        while used < input.len() {
            if self.at == ChunkAt::Data {
                let n = usize::try_from(self.size).unwrap_or(usize::MAX).min(input.len() - used);
                used += n;
                self.size -= n as u64;
                if self.size == 0 {
                    self.at = ChunkAt::DataCr;
                }
                continue;
            }
            match self.byte(input[used]) {
                Some(Step::Done) => return (used + 1, Step::Done),
                Some(_) => return (used, Step::Broken),
                None => used += 1,
            }
        }
        (used, Step::More)
    }

    /// One byte outside chunk data: `None` to go on.
    fn byte(&mut self, b: u8) -> Option<Step> {
        let hex = |b: u8| char::from(b).to_digit(16).map(u64::from);
        self.at = match (self.at, b) {
            (ChunkAt::Start | ChunkAt::Size, _) if hex(b).is_some() => {
                let digit = hex(b).unwrap_or_default();
                let Some(size) = self.size.checked_mul(16).and_then(|s| s.checked_add(digit)) else {
                    return Some(Step::Broken);
                };
                self.size = size;
                ChunkAt::Size
            }
            (ChunkAt::Size | ChunkAt::SizeSpace, b'\t' | b' ') => ChunkAt::SizeSpace,
            (ChunkAt::Size | ChunkAt::SizeSpace, b';') => ChunkAt::Extension,
            (ChunkAt::Size | ChunkAt::SizeSpace | ChunkAt::Extension, b'\r') => ChunkAt::SizeLf,
            (ChunkAt::Extension, b'\n') => return Some(Step::Broken),
            (ChunkAt::Extension, _) => {
                self.extensions += 1;
                if self.extensions >= MAX_CHUNK_EXTENSIONS {
                    return Some(Step::Broken);
                }
                ChunkAt::Extension
            }
            (ChunkAt::SizeLf, b'\n') if self.size == 0 => ChunkAt::EndCr,
            (ChunkAt::SizeLf, b'\n') => ChunkAt::Data,
            (ChunkAt::DataCr, b'\r') => ChunkAt::DataLf,
            (ChunkAt::DataLf, b'\n') => ChunkAt::Start,
            (ChunkAt::EndCr, b'\r') => ChunkAt::EndLf,
            (ChunkAt::EndLf, b'\n') => return Some(Step::Done),
            (ChunkAt::TrailerLf, b'\n') => {
                self.trailers += 1;
                if self.trailers > MAX_HEADERS {
                    return Some(Step::Broken);
                }
                ChunkAt::EndCr
            }
            (ChunkAt::EndCr | ChunkAt::Trailer, _) => {
                self.trailer_bytes += 1;
                if self.trailer_bytes > MAX_HEAD {
                    return Some(Step::Broken);
                }
                if b == b'\r' { ChunkAt::TrailerLf } else { ChunkAt::Trailer }
            }
            _ => return Some(Step::Broken),
        };
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` in pieces of `step`; what was handed on, and how it stopped.
    fn frame(bytes: &[u8], step: usize) -> (Vec<u8>, Result<(), Stop>, Waiting) {
        let mut framing = Framing::new();
        let (mut input, mut out) = (BytesMut::new(), BytesMut::new());
        for piece in bytes.chunks(step) {
            input.extend_from_slice(piece);
            if let Err(stop) = framing.feed(&mut input, &mut out) {
                return (out.to_vec(), Err(stop), framing.waiting());
            }
        }
        (out.to_vec(), Ok(()), framing.waiting())
    }

    const GET: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";

    #[test]
    fn pipelined_requests_pass_whole_whatever_the_pieces() {
        let chunked = b"PUT /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n";
        let sized = b"PUT /c HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
        let stream = [GET, chunked, sized, GET].concat();
        for step in [1, 2, 7, 4096] {
            assert_eq!(frame(&stream, step), (stream.clone(), Ok(()), Waiting::Head), "pieces of {step}");
        }
        // Empty lines between requests are dropped, as hyper would skip them.
        assert_eq!(frame(&[GET, b"\r\n\n", GET].concat(), 1).0, [GET, GET].concat());
        // A head not yet whole is held back; a body passes as it comes.
        assert_eq!(frame(&GET[..20], 1).0, b"");
        assert_eq!(frame(&sized[..40], 1), (sized[..40].to_vec(), Ok(()), Waiting::Body));
    }

    #[test]
    fn heads_past_the_limits_are_refused() {
        let line = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_REQUEST_LINE));
        assert_eq!(frame(line.as_bytes(), 4096).1, Err(Stop::Refuse(Refusal::RequestLineTooLong)));
        // Known too long before the line ends.
        assert_eq!(frame(&line.as_bytes()[..MAX_REQUEST_LINE + 10], 4096).1, Err(Refusal::RequestLineTooLong.into()));
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n", "b".repeat(MAX_HEAD));
        assert_eq!(frame(big.as_bytes(), 65536).1, Err(Refusal::HeadTooLarge.into()));
        let fields = |n: usize| format!("GET / HTTP/1.1\r\n{}\r\n", "X: 1\r\n".repeat(n));
        assert_eq!(frame(fields(MAX_HEADERS).as_bytes(), 4096).1, Ok(()));
        assert_eq!(frame(fields(MAX_HEADERS + 1).as_bytes(), 4096).1, Err(Refusal::TooManyHeaders.into()));
    }

    #[test]
    fn framing_rules_of_rfc_9112() {
        let refused = |head: &str| match frame(head.as_bytes(), 4096).1 {
            Err(Stop::Refuse(refusal)) => refusal,
            other => panic!("{head:?}: {other:?}"),
        };
        let te = |codings: &str| refused(&format!("PUT / HTTP/1.1\r\nTransfer-Encoding: {codings}\r\n\r\n"));
        assert_eq!(te("gzip, chunked"), Refusal::UnsupportedCoding("gzip".into()));
        assert_eq!(te("gzip"), Refusal::Malformed("chunked is not the final transfer coding"));
        assert_eq!(te("chunked, chunked"), Refusal::Malformed("chunked is applied more than once"));
        assert_eq!(te("chunked,"), Refusal::Malformed("an empty transfer coding"));
        assert!(matches!(refused("PUT / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), Refusal::Malformed(_)));
        assert!(matches!(
            refused("PUT / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Refusal::Malformed(_)
        ));
        for length in ["+3", "3, 3", "", "99999999999999999999"] {
            assert!(matches!(
                refused(&format!("PUT / HTTP/1.1\r\nContent-Length: {length}\r\n\r\n")),
                Refusal::Malformed(_)
            ));
        }
        assert_eq!(frame(b"PUT / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 9).1, Ok(()));
        assert!(matches!(refused("GET /a<b> HTTP/1.1\r\n\r\n"), Refusal::Malformed(_)));
        assert!(matches!(frame(b"GET /\xff HTTP/1.1\r\n\r\n", 64).1, Err(Stop::Refuse(Refusal::Malformed(_)))));
    }

    #[test]
    fn a_broken_chunked_body_is_cut_where_it_breaks() {
        let head = b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (body, kept) in [(&b"3\r\nabcX"[..], 6), (b"zz\r\n", 0), (b"3\nabc", 1), (b"FFFFFFFFFFFFFFFFF\r\n", 16)] {
            let (out, stop, _) = frame(&[&head[..], body].concat(), 1);
            assert_eq!((out.len() - head.len(), stop), (kept, Err(Stop::Cut)), "{body:?}");
        }
    }

    #[test]
    fn http2_prior_knowledge_passes_unframed() {
        let stream = [H2_PREFACE, b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"].concat();
        assert_eq!(frame(&stream, 3), (stream.clone(), Ok(()), Waiting::Stream));
        assert_eq!(frame(&H2_PREFACE[..10], 1), (Vec::new(), Ok(()), Waiting::Head));
    }

    #[test]
    fn a_trickled_head_is_searched_once() {
        // 100 KiB of header one byte at a time: linear, not quadratic (this took minutes otherwise).
        let head = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "v".repeat(100 * 1024));
        let started = std::time::Instant::now();
        assert_eq!(frame(head.as_bytes(), 1).1, Ok(()));
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }
}
