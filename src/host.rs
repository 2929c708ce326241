//! What the Action needs from its host, as small traits.
//!
//! In the Worker these are implemented over `Date.now`, the global `fetch`, the Actions runtime's
//! `api.cache` and `console` (the `wasm` module); in tests over a fake clock, a scripted token
//! endpoint and an in-memory cache.

use core::future::Future;

use crate::log::LogRecord;

/// Wall-clock time.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// An HTTP answer, reduced to what the Action reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Body as text.
    pub body: String,
}

/// Outbound HTTP.
pub trait HttpClient {
    /// `POST`s `body` as `application/json` to `url`. `Err` carries a description of a failure
    /// to get any answer (connection refused, timeout); it must not contain the body.
    fn post_json(
        &self,
        url: &str,
        body: String,
    ) -> impl Future<Output = Result<HttpResponse, String>>;
}

/// A record read from the trigger cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// The stored string.
    pub value: String,
    /// When the cache will drop it (ms since epoch).
    pub expires_at_ms: u64,
}

/// Why a cache operation did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheFault {
    /// The cache refused the write with one of Auth0's error codes (`CacheValueSizeExceeded`, …).
    Rejected(String),
    /// The cache implementation threw; the text describes it.
    Failed(String),
}

impl CacheFault {
    /// The code or description, for log lines.
    pub fn describe(&self) -> &str {
        match self {
            CacheFault::Rejected(code) | CacheFault::Failed(code) => code,
        }
    }
}

/// The trigger cache (`api.cache`): synchronous, string values, absolute expiry.
pub trait ActionCache {
    /// Reads `key`; `Ok(None)` when absent or expired.
    fn cache_get(&self, key: &str) -> Result<Option<CacheEntry>, CacheFault>;
    /// Stores `value` under `key` until `expires_at_ms`.
    fn cache_set(&self, key: &str, value: &str, expires_at_ms: u64) -> Result<(), CacheFault>;
}

/// Structured logging.
pub trait Logger {
    /// Emits one record.
    fn log(&self, record: LogRecord);
}
