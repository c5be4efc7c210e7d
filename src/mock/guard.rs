//! The socket as hyper sees it. [`Guarded`] reads ahead of hyper through the [`Framing`]: a
//! request head hyper would answer on its own, without the mock's JSON, is answered by the mock
//! instead, after the answers to the requests before it.
//!
//! It also bounds how long a connection may hold the mock, whatever it speaks: waiting for a
//! request head (the idle timeout, counted from when the mock starts to wait, so a head that
//! trickles in cannot stretch it), for the rest of a body (the body timeout), or for the client
//! to take an answer (the idle timeout again). hyper's own header timeout is off: it does not
//! cover a connection that sends nothing at all, nor bodies.
//!
//! And it closes gently: when the client may still be sending (a refused head, an unread body),
//! the mock shuts its side, then reads and drops what comes for a moment, so that the kernel does
//! not answer those bytes with a reset that would destroy the answer in flight.

use std::io::{self, Write as _};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::response::Response;
use bytes::{Buf as _, Bytes, BytesMut};
use futures_util::FutureExt as _;
use http_body_util::BodyExt as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::App;
use super::connections::Slot;
use super::framing::{Framing, Refusal, Stop, Waiting};
use super::handlers;

/// How long a closing connection is read on, at most, while the client may still be sending.
const LINGER: Duration = Duration::from_secs(2);
/// Bytes taken from the socket per read.
const READ_CHUNK: usize = 16 * 1024;
/// A buffer holding more than this once empty is given back.
const KEEP_CAPACITY: usize = 64 * 1024;

/// What every guarded connection of a mock shares.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) app: Arc<App>,
    /// Bound on waiting for a request head, and for a client to take an answer.
    pub(crate) idle: Duration,
    /// Bound on waiting for the rest of a request body.
    pub(crate) body: Duration,
    /// Log refused requests to stderr, as the request log does.
    pub(crate) log: bool,
}

/// A connection's socket, framed and timed.
#[derive(Debug)]
pub(crate) struct Guarded {
    io: TcpStream,
    settings: Arc<Settings>,
    slot: Arc<Slot>,
    framing: Framing,
    /// Read but not yet framed: a head not yet whole.
    incoming: BytesMut,
    /// Framed and accepted, for hyper.
    ready: BytesMut,
    /// hyper's read side is over: once `ready` is taken, it reads the end of the stream.
    ended: bool,
    /// The client has shut its side.
    client_closed: bool,
    /// The mock's own answer to a refused head, written when hyper closes the connection.
    answer: Bytes,
    answered: bool,
    reading: Timer,
    writing: Timer,
    closing: Closing,
}

#[derive(Debug, Clone, Copy)]
enum Closing {
    Answering,
    Shutting,
    Lingering,
    Closed,
}

impl Guarded {
    pub(crate) fn new(io: TcpStream, settings: Arc<Settings>, slot: Arc<Slot>) -> Guarded {
        Guarded {
            io,
            settings,
            slot,
            framing: Framing::new(),
            incoming: BytesMut::new(),
            ready: BytesMut::new(),
            ended: false,
            client_closed: false,
            answer: Bytes::new(),
            answered: false,
            reading: Timer::default(),
            writing: Timer::default(),
            closing: Closing::Answering,
        }
    }

    /// Reads the socket once and frames what came. Ready when there may be something new for
    /// hyper: bytes, or the end of its stream.
    fn fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.slot.evicted() {
            self.end();
            return Poll::Ready(Ok(()));
        }
        let mut chunk = [0u8; READ_CHUNK];
        let mut buf = ReadBuf::new(&mut chunk);
        match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
            Poll::Pending => self.wait(cx),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                // A head cut short by the end of the stream is dropped unanswered, as hyper does.
                self.client_closed = true;
                self.end();
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Ok(())) => {
                if !self.slot.wake() {
                    // Closed to make room just as the request came: it is not begun.
                    self.end();
                    return Poll::Ready(Ok(()));
                }
                self.incoming.extend_from_slice(buf.filled());
                match self.framing.feed(&mut self.incoming, &mut self.ready) {
                    Ok(()) => {}
                    Err(Stop::Refuse(refusal)) => self.refuse(&refusal),
                    Err(Stop::Cut) => self.end(),
                }
                if self.framing.waiting() == Waiting::Stream {
                    // HTTP/2 is not followed frame by frame: its timeout counts silence.
                    self.reading.disarm();
                }
                shrink(&mut self.incoming);
                Poll::Ready(Ok(()))
            }
        }
    }

    /// Nothing to read: wait, within the bound of what the connection waits for.
    fn wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let waiting = self.framing.waiting();
        let begun = !self.incoming.is_empty();
        if waiting == Waiting::Head && !begun {
            self.slot.rest(cx.waker());
        }
        let bound = if waiting == Waiting::Body { self.settings.body } else { self.settings.idle };
        ready!(self.reading.poll(cx, self.framing.phase(), bound));
        if waiting == Waiting::Head && begun {
            self.refuse(&Refusal::TimedOut);
        } else {
            // Quietly between requests; mid-body, hyper's body fails and the handler answers.
            self.end();
        }
        Poll::Ready(Ok(()))
    }

    fn refuse(&mut self, refusal: &Refusal) {
        let response = handlers::refused(&self.settings.app, refusal);
        if self.settings.log {
            eprintln!("(refused before routing: {refusal:?}) -> {}", response.status().as_u16());
        }
        self.answer = encode(response);
        self.answered = true;
        self.end();
    }

    fn end(&mut self) {
        self.ended = true;
        self.incoming = BytesMut::new();
    }

    /// A write's result, failed once the client has taken nothing for the idle timeout.
    fn stalled<T>(&mut self, cx: &mut Context<'_>, result: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if result.is_ready() {
            self.writing.disarm();
            return result;
        }
        ready!(self.writing.poll(cx, 0, self.settings.idle));
        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the client took no answer within the idle timeout")))
    }

    /// The client may still be sending: closing now would make the kernel reset the connection.
    fn lingers(&self) -> bool {
        !self.client_closed
            && (self.answered
                || self.framing.waiting() != Waiting::Head
                || !self.incoming.is_empty()
                || !self.ready.is_empty())
    }

    /// Reads and drops what the client still sends, until it closes or [`LINGER`] has passed.
    fn linger(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut chunk = [0u8; READ_CHUNK];
        for _ in 0..64 {
            if self.reading.poll(cx, u64::MAX, LINGER).is_ready() {
                return Poll::Ready(());
            }
            let mut buf = ReadBuf::new(&mut chunk);
            match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {}
                Poll::Ready(_) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
        // A client sending without pause: let others run, then go on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// hyper is done with the connection: the mock's own answer, if any, then a gentle close.
    fn close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match self.closing {
                Closing::Answering => {
                    while !self.answer.is_empty() {
                        let result = Pin::new(&mut self.io).poll_write(cx, &self.answer);
                        match ready!(self.stalled(cx, result)) {
                            Ok(n) if n > 0 => self.answer.advance(n),
                            _ => self.answer.clear(),
                        }
                    }
                    self.closing = Closing::Shutting;
                }
                Closing::Shutting => {
                    let _ = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
                    self.closing = if self.lingers() { Closing::Lingering } else { Closing::Closed };
                }
                Closing::Lingering => {
                    ready!(self.linger(cx));
                    self.closing = Closing::Closed;
                }
                Closing::Closed => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl AsyncRead for Guarded {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            if !this.ready.is_empty() {
                let n = this.ready.len().min(buf.remaining());
                buf.put_slice(&this.ready[..n]);
                this.ready.advance(n);
                shrink(&mut this.ready);
                return Poll::Ready(Ok(()));
            }
            if this.ended {
                return Poll::Ready(Ok(()));
            }
            ready!(this.fill(cx))?;
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write(cx, data);
        this.stalled(cx, result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.stalled(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().close(cx)
    }
}

/// A deadline armed for one phase of the connection: polled in the same phase it keeps its
/// deadline; polled in another, it is armed afresh.
#[derive(Debug, Default)]
struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
    phase: Option<u64>,
}

impl Timer {
    /// Ready once `after` has passed since it was first polled in `phase`.
    fn poll(&mut self, cx: &mut Context<'_>, phase: u64, after: Duration) -> Poll<()> {
        if self.phase != Some(phase) {
            let deadline = Instant::now() + after;
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(deadline),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline))),
            }
            self.phase = Some(phase);
        }
        match &mut self.sleep {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }

    fn disarm(&mut self) {
        self.phase = None;
    }
}

fn shrink(buffer: &mut BytesMut) {
    if buffer.is_empty() && buffer.capacity() > KEEP_CAPACITY {
        *buffer = BytesMut::new();
    }
}

/// An answer as HTTP/1.1 bytes, closing the connection, as hyper would have written it.
fn encode(response: Response) -> Bytes {
    let (parts, body) = response.into_parts();
    // The mock's error bodies are in memory: collecting them completes at once.
    let body =
        body.collect().now_or_never().and_then(Result::ok).map(http_body_util::Collected::to_bytes).unwrap_or_default();
    let mut out = Vec::with_capacity(256 + body.len());
    let reason = parts.status.canonical_reason().unwrap_or_default();
    let _ = write!(out, "HTTP/1.1 {} {reason}\r\n", parts.status.as_u16());
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let date = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT");
    let _ = write!(out, "content-length: {}\r\nconnection: close\r\ndate: {date}\r\n\r\n", body.len());
    out.extend_from_slice(&body);
    Bytes::from(out)
}
