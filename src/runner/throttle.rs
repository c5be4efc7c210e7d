//! Throttling, both ways: a rate limiter that spaces requests across all workers (`--rate`),
//! and the handling of a 429 — wait as `Retry-After` says (or back off exponentially), retry a
//! bounded number of times, and judge the final answer. A request still throttled at the end is
//! a transport error (`throttled`), not a contract failure.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::client::{Client, Exchange, Request, Response, TransportError};

/// Retries of one request answered 429.
pub const MAX_RETRIES: u32 = 3;
/// The longest wait honoured between them.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// The first backoff when no Retry-After is given; doubled each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// Hands out evenly spaced sending slots, `rate` per second, to all workers.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// A limiter of `rate` requests per second.
    pub fn per_second(rate: f64) -> RateLimiter {
        RateLimiter { interval: Duration::from_secs_f64(1.0 / rate.max(0.001)), next: Mutex::new(None) }
    }

    /// Waits for the next free slot.
    pub async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// How long a 429 asks to wait: `Retry-After` in seconds (an HTTP date is not honoured and
/// falls back to the backoff), capped.
fn retry_after(response: &Response, attempt: u32) -> Duration {
    let asked = response.header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
    asked.unwrap_or(FIRST_BACKOFF * 2u32.saturating_pow(attempt)).min(MAX_WAIT)
}

/// Sends `request` within the rate, retrying 429s; returns the final exchange and how many
/// times it was throttled.
pub async fn send(client: &Client, request: Request, limiter: Option<&RateLimiter>) -> (Exchange, u32) {
    let mut throttled = 0;
    let mut request = request;
    loop {
        if let Some(limiter) = limiter {
            limiter.wait().await;
        }
        // A signed request is signed anew on each attempt, from the request as planned; an
        // unsigned one is sent again as it was, so it is copied only when signing.
        let original = client.signs().then(|| request.clone());
        let exchange = client.send(request).await;
        let Ok(response) = &exchange.result else { return (exchange, throttled) };
        if response.status != 429 {
            return (exchange, throttled);
        }
        if throttled == MAX_RETRIES {
            let result = Err(TransportError::Throttled(throttled + 1));
            return (Exchange { result, ..exchange }, throttled);
        }
        tokio::time::sleep(retry_after(response, throttled)).await;
        request = original.unwrap_or(exchange.request);
        throttled += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(retry_after: Option<&str>) -> Response {
        let headers = retry_after.map(|v| vec![("retry-after".to_owned(), v.to_owned())]).unwrap_or_default();
        Response { status: 429, headers, body: bytes::Bytes::new() }
    }

    #[test]
    fn retry_after_seconds_backoff_and_cap() {
        assert_eq!(retry_after(&response(Some("2")), 0), Duration::from_secs(2));
        assert_eq!(retry_after(&response(Some("3600")), 0), MAX_WAIT);
        assert_eq!(retry_after(&response(None), 0), Duration::from_millis(250));
        assert_eq!(retry_after(&response(Some("Wed, 21 Oct 2015 07:28:00 GMT")), 2), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn slots_are_evenly_spaced() {
        let limiter = RateLimiter::per_second(10.0);
        let start = Instant::now();
        for _ in 0..11 {
            limiter.wait().await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }
}
