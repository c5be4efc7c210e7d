//! A body that passes every frame through as it came and keeps a copy of its data, up to a cap,
//! for judging once it ended. The copy shares the frames' buffers (no byte is copied until the
//! end, and then only when the body came in several frames); past the cap the copy is dropped
//! and only the length is counted, while every frame still passes. When the body ends, fails or
//! is dropped unfinished, what it carried is sent once on a channel ([`Capture`]).

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::oneshot;

use crate::client::TransportError;

/// The error type of the bodies the proxy passes on.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How a body ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum End {
    /// Every frame passed.
    Complete,
    /// Its source failed, or stalled past the idle bound: why.
    Failed(TransportError),
    /// Dropped before its end: its reader went away (the client closed the connection, or the
    /// upstream answered before it read the whole request).
    Dropped,
    /// Not moved for this long while its reader held it: the client stopped taking it.
    Untaken(Duration),
}

/// What a body carried.
#[derive(Debug, Clone)]
pub(crate) struct Capture {
    /// Its bytes, when they were at most the cap.
    pub(crate) body: Option<Bytes>,
    /// How many bytes passed.
    pub(crate) len: u64,
    /// How it ended.
    pub(crate) end: End,
    /// When.
    pub(crate) at: Instant,
}

/// When a body last moved (a frame passed, or it ended), for bounds on how long it may stand
/// still: an upstream that stops reading a request, a client that stops taking an answer.
#[derive(Debug)]
pub(crate) struct Progress {
    origin: Instant,
    /// Microseconds from `origin` to the last move.
    last: AtomicU64,
}

impl Progress {
    pub(crate) fn new() -> Arc<Progress> {
        Arc::new(Progress { origin: Instant::now(), last: AtomicU64::new(0) })
    }

    fn touch(&self) {
        let now = u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.last.store(now, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.origin + Duration::from_micros(self.last.load(Ordering::Relaxed))
    }

    /// Resolves once the body has not moved for `quiet`.
    pub(crate) async fn stalled(&self, quiet: Duration) {
        loop {
            let last = self.last();
            tokio::time::sleep_until((last + quiet).into()).await;
            if self.last() == last {
                return;
            }
        }
    }
}

/// A body passed through, its data copied up to a cap.
pub(crate) struct Tee<B> {
    inner: B,
    cap: usize,
    kept: Vec<Bytes>,
    kept_len: usize,
    len: u64,
    over: bool,
    done: Option<oneshot::Sender<Capture>>,
    /// Told of every frame and of the end, however it came.
    progress: Option<Arc<Progress>>,
    /// At most this long between two frames, and the timer of the current wait.
    idle: Option<(Duration, Pin<Box<tokio::time::Sleep>>)>,
}

impl<B> Tee<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    /// Passes `inner` through, keeping up to `cap` bytes; `idle`: fail the body when no frame
    /// comes for that long. The capture comes on the receiver. Must run inside a tokio runtime
    /// when `idle` is given.
    pub(crate) fn new(inner: B, cap: usize, idle: Option<Duration>) -> (Tee<B>, oneshot::Receiver<Capture>) {
        let (done, capture) = oneshot::channel();
        let idle = idle.map(|after| (after, Box::pin(tokio::time::sleep(after))));
        let mut tee = Tee {
            inner,
            cap,
            kept: Vec::new(),
            kept_len: 0,
            len: 0,
            over: false,
            done: Some(done),
            progress: None,
            idle,
        };
        // A body that is empty from the start is never polled.
        if tee.inner.is_end_stream() {
            tee.finish(End::Complete);
        }
        (tee, capture)
    }

    /// Also tells `progress` of every frame and of the end.
    pub(crate) fn tell(mut self, progress: Arc<Progress>) -> Self {
        progress.touch();
        self.progress = Some(progress);
        self
    }

    fn keep(&mut self, data: &Bytes) {
        self.len += data.len() as u64;
        if self.over {
            return;
        }
        if self.kept_len + data.len() > self.cap {
            self.over = true;
            self.kept = Vec::new();
        } else {
            self.kept_len += data.len();
            self.kept.push(data.clone());
        }
    }

    fn rearm(&mut self) {
        if let Some((after, sleep)) = &mut self.idle {
            sleep.as_mut().reset(tokio::time::Instant::now() + *after);
        }
    }
}

impl<B> Tee<B> {
    /// Sends what passed, once.
    fn finish(&mut self, end: End) {
        let Some(done) = self.done.take() else { return };
        if let Some(progress) = &self.progress {
            progress.touch();
        }
        let body = (!self.over).then(|| match self.kept.as_slice() {
            [] => Bytes::new(),
            [one] => one.clone(),
            many => {
                let mut all = BytesMut::with_capacity(self.kept_len);
                for part in many {
                    all.extend_from_slice(part);
                }
                all.freeze()
            }
        });
        self.kept = Vec::new();
        let _ = done.send(Capture { body, len: self.len, end, at: Instant::now() });
    }
}

/// What a body's error was, as the transport errors the checks know.
fn transport(error: &BoxError) -> TransportError {
    match error.downcast_ref::<hyper::Error>() {
        Some(e) => crate::client::body_error(e),
        None => TransportError::Closed(error.to_string()),
    }
}

impl<B> Body for Tee<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => {
                let Some((after, sleep)) = &mut this.idle else { return Poll::Pending };
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                let error = TransportError::Timeout { phase: "waiting for the rest of the body", after: *after };
                let message = error.to_string();
                this.finish(End::Failed(error));
                Poll::Ready(Some(Err(message.into())))
            }
            Poll::Ready(None) => {
                this.finish(End::Complete);
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(e))) => {
                let e: BoxError = e.into();
                this.finish(End::Failed(transport(&e)));
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Some(Ok(frame))) => {
                this.rearm();
                if let Some(progress) = &this.progress {
                    progress.touch();
                }
                if let Some(data) = frame.data_ref() {
                    this.keep(data);
                }
                // The reader may stop here, without asking for the end; trailers are the last
                // frame of a body, and its reader stops after them.
                if frame.is_trailers() || this.inner.is_end_stream() {
                    this.finish(End::Complete);
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for Tee<B> {
    fn drop(&mut self) {
        self.finish(End::Dropped);
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures_util::stream;
    use http_body_util::{BodyExt as _, Full, StreamBody};

    use super::*;

    type Chunks = StreamBody<stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

    fn chunks(parts: &[&'static [u8]]) -> Chunks {
        let frames: Vec<_> = parts.iter().map(|p| Ok(Frame::data(Bytes::from_static(p)))).collect();
        StreamBody::new(stream::iter(frames))
    }

    #[tokio::test]
    async fn every_frame_passes_and_the_copy_is_the_body() {
        let (tee, capture) = Tee::new(chunks(&[b"{\"a\":", b"1}"]), 64, None);
        let passed = tee.collect().await.unwrap().to_bytes();
        assert_eq!(&passed[..], b"{\"a\":1}");
        let capture = capture.await.unwrap();
        assert_eq!(capture.body.as_deref(), Some(&b"{\"a\":1}"[..]));
        assert_eq!((capture.len, capture.end), (7, End::Complete));
    }

    #[tokio::test]
    async fn past_the_cap_everything_passes_and_only_the_length_is_kept() {
        let (tee, capture) = Tee::new(chunks(&[b"0123", b"4567", b"89"]), 5, None);
        assert_eq!(&tee.collect().await.unwrap().to_bytes()[..], b"0123456789");
        let capture = capture.await.unwrap();
        assert_eq!((capture.body, capture.len, capture.end), (None, 10, End::Complete));
    }

    /// A body whose length is known ends with its last frame: a reader need not poll again.
    #[tokio::test]
    async fn a_body_ends_with_its_last_frame_and_an_empty_one_at_once() {
        let (mut tee, capture) = Tee::new(Full::new(Bytes::from_static(b"xy")), 64, None);
        let frame = tee.frame().await.unwrap().unwrap();
        assert_eq!(frame.data_ref().map(|d| &d[..]), Some(&b"xy"[..]));
        let capture = capture.await.unwrap();
        assert_eq!((capture.body.as_deref(), capture.end), (Some(&b"xy"[..]), End::Complete));
        drop(tee);
        let (_tee, capture) = Tee::new(Full::new(Bytes::new()), 64, None);
        assert_eq!(capture.await.unwrap().end, End::Complete);
    }

    /// Trailers are a body's last frame: its reader stops after them, and the body is whole.
    #[tokio::test]
    async fn a_body_ends_with_its_trailers_and_tells_who_waits() {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-checksum", http::HeaderValue::from_static("c0ffee"));
        let frames = vec![Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"ab"))), Ok(Frame::trailers(trailers))];
        let progress = Progress::new();
        let (tee, capture) = Tee::new(StreamBody::new(stream::iter(frames)), 64, None);
        let mut tee = tee.tell(progress.clone());
        let told = progress.last();
        tee.frame().await.unwrap().unwrap();
        let last = tee.frame().await.unwrap().unwrap();
        assert_eq!(
            last.trailers_ref().and_then(|t| t.get("x-checksum")).map(http::HeaderValue::as_bytes),
            Some(&b"c0ffee"[..])
        );
        let capture = capture.await.unwrap();
        assert_eq!((capture.body.as_deref(), capture.end), (Some(&b"ab"[..]), End::Complete));
        assert!(progress.last() > told, "the frames and the end moved it");
        drop(tee);
    }

    #[tokio::test]
    async fn a_body_dropped_before_its_end_says_so() {
        let (mut tee, capture) = Tee::new(chunks(&[b"ab", b"cd"]), 64, None);
        tee.frame().await.unwrap().unwrap();
        drop(tee);
        let capture = capture.await.unwrap();
        assert_eq!((capture.body.as_deref(), capture.end), (Some(&b"ab"[..]), End::Dropped));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_body_fails_after_the_idle_bound() {
        let pending = StreamBody::new(stream::pending::<Result<Frame<Bytes>, Infallible>>());
        let (tee, capture) = Tee::new(pending, 64, Some(Duration::from_secs(3)));
        let error = tee.collect().await.unwrap_err();
        assert!(error.to_string().contains("timed out"), "{error}");
        let end = capture.await.unwrap().end;
        assert!(matches!(end, End::Failed(TransportError::Timeout { after, .. }) if after == Duration::from_secs(3)));
    }
}
