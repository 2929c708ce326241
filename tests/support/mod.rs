//! A fake host for the Action: a settable clock, a scripted token endpoint, an in-memory
//! trigger cache with Auth0's expiry behaviour, and a log recorder.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use base64::Engine as _;
use post_login_action::host::{
    ActionCache, CacheEntry, CacheFault, Clock, HttpClient, HttpResponse, Logger,
};
use post_login_action::log::LogRecord;
use serde_json::{Value, json};

pub const NOW: u64 = 1_700_000_000_000;
pub const DOMAIN: &str = "tenant.eu.auth0.com";
pub const CLIENT_ID: &str = "m2m-client";
pub const CLIENT_SECRET: &str = "m2m-secret-value-123";
pub const AUDIENCE: &str = "https://tenant.eu.auth0.com/api/v2/";

/// Drives a future whose every await is ready (the fake host never waits).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub url: String,
    pub body: Value,
}

#[derive(Default)]
pub struct FakeHost {
    pub now: Cell<u64>,
    /// Answers for successive token requests; an empty queue is a transport error.
    pub answers: RefCell<VecDeque<Result<HttpResponse, String>>>,
    /// Time the token endpoint takes to answer.
    pub latency_ms: Cell<u64>,
    pub requests: RefCell<Vec<Request>>,
    pub cache: RefCell<HashMap<String, CacheEntry>>,
    pub cache_read_fault: RefCell<Option<CacheFault>>,
    pub cache_write_fault: RefCell<Option<CacheFault>>,
    pub logs: RefCell<Vec<LogRecord>>,
}

impl FakeHost {
    pub fn new() -> Self {
        let host = FakeHost::default();
        host.now.set(NOW);
        host
    }

    pub fn advance(&self, ms: u64) {
        self.now.set(self.now.get() + ms);
    }

    pub fn answer(&self, status: u16, body: impl Into<String>) -> &Self {
        self.answers.borrow_mut().push_back(Ok(HttpResponse {
            status,
            body: body.into(),
        }));
        self
    }

    /// A good token response for `AUDIENCE` with `lifetime_s`, as Auth0 sends it.
    pub fn answer_token(&self, lifetime_s: u64) -> String {
        let token = jwt(json!({
            "iss": format!("https://{DOMAIN}/"),
            "sub": format!("{CLIENT_ID}@clients"),
            "aud": AUDIENCE,
            "iat": self.now.get() / 1000,
            "exp": self.now.get() / 1000 + lifetime_s,
            "scope": "read:users",
            "jti": format!("jti-{}", self.requests.borrow().len() + self.answers.borrow().len()),
        }));
        let body = json!({"access_token": token, "token_type": "Bearer", "expires_in": lifetime_s, "scope": "read:users"});
        self.answer(200, body.to_string());
        token
    }

    pub fn events(&self) -> Vec<&'static str> {
        self.logs.borrow().iter().map(LogRecord::event).collect()
    }

    pub fn log_lines(&self) -> String {
        self.logs
            .borrow()
            .iter()
            .map(LogRecord::to_json_line)
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn request_count(&self) -> usize {
        self.requests.borrow().len()
    }
}

pub fn jwt(claims: Value) -> String {
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(&json!({"alg": "RS256", "typ": "JWT", "kid": "k1"})),
        b64(&claims)
    )
}

impl Clock for FakeHost {
    fn now_ms(&self) -> u64 {
        self.now.get()
    }
}

impl HttpClient for FakeHost {
    async fn post_json(&self, url: &str, body: String) -> Result<HttpResponse, String> {
        self.requests.borrow_mut().push(Request {
            url: url.to_owned(),
            body: serde_json::from_str(&body).expect("the Action sends JSON"),
        });
        self.advance(self.latency_ms.get());
        self.answers
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| Err("connection refused".into()))
    }
}

impl ActionCache for FakeHost {
    fn cache_get(&self, key: &str) -> Result<Option<CacheEntry>, CacheFault> {
        if let Some(fault) = self.cache_read_fault.borrow().clone() {
            return Err(fault);
        }
        let now = self.now.get();
        Ok(self
            .cache
            .borrow()
            .get(key)
            .filter(|e| e.expires_at_ms > now)
            .cloned())
    }

    fn cache_set(&self, key: &str, value: &str, expires_at_ms: u64) -> Result<(), CacheFault> {
        if let Some(fault) = self.cache_write_fault.borrow().clone() {
            return Err(fault);
        }
        self.cache.borrow_mut().insert(
            key.to_owned(),
            CacheEntry {
                value: value.to_owned(),
                expires_at_ms,
            },
        );
        Ok(())
    }
}

impl Logger for FakeHost {
    fn log(&self, record: LogRecord) {
        self.logs.borrow_mut().push(record);
    }
}
