//! What the Action needs from its host, as small traits.
//!
//! In the Worker these are implemented over `Date.now`, `setTimeout`, `Math.random`, the global
//! `fetch`, the Actions runtime's `api.cache` and `console` (the `wasm` module); in tests over a
//! fake clock, a scripted server, an in-memory cache and a log recorder.

use core::fmt;
use core::future::Future;

use crate::log::LogRecord;

/// Wall-clock time and waiting.
pub trait Clock {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// Resolves after `ms` milliseconds.
    fn sleep(&self, ms: u64) -> impl Future<Output = ()>;
}

/// Randomness for jitter (not for secrets).
pub trait Rng {
    /// A number in `[0, 1)`.
    fn random(&self) -> f64;
}

/// HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PATCH
    Patch,
}

impl Method {
    /// The method's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        }
    }
}

/// An outbound request. `Debug` hides the body and the `Authorization` header: the body of a
/// token request holds the client secret, and the header holds the Management API token.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Bearer token for `Authorization`, if any.
    pub bearer: Option<String>,
    /// JSON body, if any (sent with `content-type: application/json`).
    pub json_body: Option<String>,
    /// Give up after this long.
    pub timeout_ms: u64,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .field("json_body", &self.json_body.as_ref().map(|_| "<redacted>"))
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// Response headers the Action reads (rate limiting).
pub const READ_HEADERS: [&str; 4] = [
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

/// An HTTP answer, reduced to what the Action reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Body as text.
    pub body: String,
    /// The [`READ_HEADERS`] that were present, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl HttpResponse {
    /// A header's value by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Outbound HTTP.
pub trait HttpClient {
    /// Sends `request`. `Err` describes a failure to get any answer (connection refused,
    /// timeout); it must not contain the request body or headers.
    fn send(&self, request: HttpRequest) -> impl Future<Output = Result<HttpResponse, String>>;
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
    /// The cache refused with one of Auth0's error codes (`CacheValueSizeExceeded`, …).
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
    /// Removes `key`.
    fn cache_delete(&self, key: &str) -> Result<(), CacheFault>;
    /// Re-reads the cache from where it is shared (KV), past this isolate's copy: before a
    /// refresh, another isolate may have stored a newer token. Never fails (a fault is the
    /// host's to log); a host with nothing shared does nothing.
    fn cache_reload(&self) -> impl Future<Output = ()>;
}

/// The fleet's token broker (a Durable Object, see [`crate::broker`]), as an isolate reaches it.
pub trait BrokerClient {
    /// Sends the JSON `body` to the broker instance `name` and returns its JSON answer; `None`
    /// when no broker is bound (or it is turned off). `Err` describes why no answer came
    /// (timeout, unreachable, a non-2xx status); it never contains the body.
    fn call_broker(
        &self,
        name: &str,
        body: &str,
        timeout_ms: u64,
    ) -> impl Future<Output = Option<Result<String, String>>>;
}

/// Structured logging.
pub trait Logger {
    /// Emits one record.
    fn log(&self, record: LogRecord);
}

/// Everything the Action needs, in one bound.
pub trait Host: Clock + Rng + HttpClient + ActionCache + BrokerClient + Logger {}

impl<T: Clock + Rng + HttpClient + ActionCache + BrokerClient + Logger> Host for T {}

// A host shared by reference counting (the binding's background work, tests) is a host.
impl<T: Clock + ?Sized> Clock for std::rc::Rc<T> {
    fn now_ms(&self) -> u64 {
        (**self).now_ms()
    }
    fn sleep(&self, ms: u64) -> impl Future<Output = ()> {
        (**self).sleep(ms)
    }
}

impl<T: Rng + ?Sized> Rng for std::rc::Rc<T> {
    fn random(&self) -> f64 {
        (**self).random()
    }
}

impl<T: HttpClient + ?Sized> HttpClient for std::rc::Rc<T> {
    fn send(&self, request: HttpRequest) -> impl Future<Output = Result<HttpResponse, String>> {
        (**self).send(request)
    }
}

impl<T: ActionCache + ?Sized> ActionCache for std::rc::Rc<T> {
    fn cache_get(&self, key: &str) -> Result<Option<CacheEntry>, CacheFault> {
        (**self).cache_get(key)
    }
    fn cache_set(&self, key: &str, value: &str, expires_at_ms: u64) -> Result<(), CacheFault> {
        (**self).cache_set(key, value, expires_at_ms)
    }
    fn cache_delete(&self, key: &str) -> Result<(), CacheFault> {
        (**self).cache_delete(key)
    }
    fn cache_reload(&self) -> impl Future<Output = ()> {
        (**self).cache_reload()
    }
}

impl<T: BrokerClient + ?Sized> BrokerClient for std::rc::Rc<T> {
    fn call_broker(
        &self,
        name: &str,
        body: &str,
        timeout_ms: u64,
    ) -> impl Future<Output = Option<Result<String, String>>> {
        (**self).call_broker(name, body, timeout_ms)
    }
}

impl<T: Logger + ?Sized> Logger for std::rc::Rc<T> {
    fn log(&self, record: LogRecord) {
        (**self).log(record)
    }
}
