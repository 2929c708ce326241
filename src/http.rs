//! The one way the Action talks to Auth0: [`send`] makes one request and logs it, [`retrying`]
//! repeats an attempt inside a time budget. The token endpoint and the Management API both go
//! through here; they differ only in what [`Retries`] allows.

use crate::error::{Endpoint, Error, Result};
use crate::host::{Host, HttpRequest, HttpResponse};
use crate::log::LogRecord;
use crate::retry::{FailureClass, RetryPolicy};

/// Longest single HTTP wait; Auth0 recommends outbound calls under 10 s.
pub const MAX_REQUEST_TIMEOUT_MS: u64 = 10_000;

impl Endpoint {
    fn request_event(self) -> &'static str {
        match self {
            Endpoint::Token => "token_request",
            Endpoint::Management => "management_request",
        }
    }

    fn retry_event(self) -> &'static str {
        match self {
            Endpoint::Token => "token_retry",
            Endpoint::Management => "management_retry",
        }
    }

    /// The log field naming what was called: the token URL, or the Management API path.
    fn target_field(self) -> &'static str {
        match self {
            Endpoint::Token => "url",
            Endpoint::Management => "path",
        }
    }
}

/// Sends `request` and logs the exchange under `target` (no body, no header: they hold
/// credentials). A request that gets no answer is [`Error::Transport`]; any answer is `Ok`.
pub async fn send<H: Host>(
    host: &H,
    endpoint: Endpoint,
    target: &str,
    attempt: u32,
    request: HttpRequest,
) -> Result<HttpResponse> {
    let method = request.method.as_str();
    let started = host.now_ms();
    let answer = host.send(request).await;
    let duration_ms = host.now_ms().saturating_sub(started);
    let record = |level: fn(&'static str) -> LogRecord| {
        level(endpoint.request_event())
            .field("method", method)
            .field(endpoint.target_field(), target)
            .field("attempt", attempt)
    };
    match answer {
        Ok(response) => {
            let ok = (200..300).contains(&response.status);
            host.log(
                record(if ok {
                    LogRecord::info
                } else {
                    LogRecord::error
                })
                .field("status", response.status)
                .field("duration_ms", duration_ms),
            );
            Ok(response)
        }
        Err(reason) => {
            host.log(
                record(LogRecord::error)
                    .field("outcome", "no_response")
                    .field("error", reason.clone())
                    .field("duration_ms", duration_ms),
            );
            Err(Error::Transport { endpoint, reason })
        }
    }
}

/// Which failures an endpoint retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retries {
    /// Attempts at most, the first included.
    pub max_attempts: u32,
    /// Whether network errors and 5xx are retried (with backoff). The token request is
    /// idempotent; a Management API write that got no answer may have been applied.
    pub transient: bool,
}

/// A failed attempt: the error, and the answer it came from (rate-limit headers), if any.
pub type Failure = (Error, Option<HttpResponse>);

/// Runs `attempt(n, timeout_ms)` until it succeeds, or fails in a way [`Retries`] does not
/// retry, or the next try cannot start before `deadline_ms`. Transient failures wait a
/// full-jitter backoff; a 429 waits for its reset. Returns the last error and its class.
pub async fn retrying<H: Host, T>(
    host: &H,
    endpoint: Endpoint,
    policy: &RetryPolicy,
    retries: Retries,
    deadline_ms: u64,
    mut attempt: impl AsyncFnMut(u32, u64) -> core::result::Result<T, Failure>,
) -> core::result::Result<T, (Error, FailureClass)> {
    let mut number = 0;
    loop {
        number += 1;
        let remaining = deadline_ms.saturating_sub(host.now_ms()).max(1);
        let (error, response) = match attempt(number, remaining.min(MAX_REQUEST_TIMEOUT_MS)).await {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        let now = host.now_ms();
        let class = FailureClass::of(&error, response.as_ref(), now);
        let wait = match class {
            _ if number >= retries.max_attempts => None,
            FailureClass::Transient if retries.transient => {
                Some(policy.backoff_ms(number - 1, host.random()))
            }
            FailureClass::RateLimited {
                reset_at_ms: Some(reset),
            } => Some(reset.saturating_sub(now)),
            _ => None,
        };
        match wait {
            Some(wait) if now.saturating_add(wait) < deadline_ms => {
                host.log(
                    LogRecord::info(endpoint.retry_event())
                        .field("attempt", number)
                        .field("class", class.as_str())
                        .field("wait_ms", wait),
                );
                host.sleep(wait).await;
            }
            _ => return Err((error, class)),
        }
    }
}
