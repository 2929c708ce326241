//! A fake host for the Action: a settable clock whose `sleep` advances it, scripted randomness,
//! a scripted tenant (token endpoint and Management API) that can hold requests until released,
//! an in-memory trigger cache with Auth0's expiry behaviour, and a log recorder.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use base64::Engine as _;
use post_login_action::broker::Broker;
use post_login_action::host::{
    ActionCache, BrokerClient, CacheEntry, CacheFault, Clock, HttpClient, HttpRequest,
    HttpResponse, Logger, Rng,
};
use post_login_action::isolate::{Background, BackgroundWork};
use post_login_action::log::LogRecord;
use post_login_action::post_login::{self, Config, Effects, Inputs, OnTokenError, Outcome};
use post_login_action::provider::TokenProvider;
use post_login_action::secrets::{self, Secrets};
use post_login_action::state::TokenState;
use serde_json::{Value, json};

pub const NOW: u64 = 1_700_000_000_000;
pub const DOMAIN: &str = "tenant.eu.auth0.com";
pub const CLIENT_ID: &str = "m2m-client";
pub const CLIENT_SECRET: &str = "m2m-secret-value-123";
pub const AUDIENCE: &str = "https://tenant.eu.auth0.com/api/v2/";

/// Drives a future whose awaits are all ready (nothing is held at the gate).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..10_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("future did not complete: is a request held at the gate?");
}

/// Polls all `futures` until every one is done. When none can progress, `on_stall` runs (it
/// should open the gate); a second stall in a row is a deadlock and panics.
pub fn drive_all<T>(
    mut futures: Vec<Pin<Box<dyn Future<Output = T> + '_>>>,
    mut on_stall: impl FnMut(),
) -> Vec<T> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut results: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    let mut stalled = false;
    loop {
        let mut progressed = false;
        for (i, future) in futures.iter_mut().enumerate() {
            if results[i].is_none()
                && let Poll::Ready(out) = future.as_mut().poll(&mut cx)
            {
                results[i] = Some(out);
                progressed = true;
            }
        }
        if results.iter().all(Option::is_some) {
            return results.into_iter().map(Option::unwrap).collect();
        }
        if progressed {
            stalled = false;
            continue;
        }
        assert!(!stalled, "deadlock: no future can progress");
        stalled = true;
        on_stall();
    }
}

/// Holds requests while closed.
#[derive(Default)]
pub struct Gate {
    closed: Cell<bool>,
}

impl Gate {
    pub fn close(&self) {
        self.closed.set(true);
    }
    pub fn open(&self) {
        self.closed.set(false);
    }
}

struct GateWait(Rc<Gate>);

impl Future for GateWait {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0.closed.get() {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

/// One request the Action sent.
#[derive(Debug, Clone)]
pub struct Sent {
    pub method: &'static str,
    pub url: String,
    pub bearer: Option<String>,
    pub body: Option<Value>,
    pub timeout_ms: u64,
    pub at: u64,
}

pub type Answer = Result<HttpResponse, String>;

pub struct FakeHost {
    pub now: Cell<u64>,
    /// Successive values of `random()`; 0.5 when empty.
    pub randoms: RefCell<VecDeque<f64>>,
    /// Answers of the token endpoint; an empty queue is a transport error.
    pub token_answers: RefCell<VecDeque<Answer>>,
    /// Answers of the Management API; an empty queue is a transport error.
    pub management_answers: RefCell<VecDeque<Answer>>,
    /// Time each request takes.
    pub latency_ms: Cell<u64>,
    pub gate: Rc<Gate>,
    pub sent: RefCell<Vec<Sent>>,
    pub sleeps: RefCell<Vec<u64>>,
    pub cache: RefCell<HashMap<String, CacheEntry>>,
    /// Where the isolates share the cache (KV): `cache_reload` copies it over `cache`.
    pub shared_cache: RefCell<HashMap<String, CacheEntry>>,
    pub cache_reloads: Cell<u32>,
    pub cache_reads: Cell<u32>,
    pub cache_read_fault: RefCell<Option<CacheFault>>,
    pub cache_write_fault: RefCell<Option<CacheFault>>,
    pub logs: RefCell<Vec<LogRecord>>,
    /// Work handed to `wait_until`, not run until `run_background`.
    pub background: RefCell<Vec<BackgroundWork>>,
    /// The fleet's broker this isolate reaches, if bound.
    pub broker: RefCell<Option<Rc<FakeBroker>>>,
    /// When set, the broker does not answer: the call fails with this after its timeout.
    pub broker_fault: RefCell<Option<String>>,
    /// Calls made to the broker.
    pub broker_calls: Cell<u32>,
    issued: Cell<u32>,
}

/// The fleet's token broker: a [`Broker`] over its own host (its storage, its requests).
pub struct FakeBroker {
    pub broker: Broker,
    pub host: FakeHost,
}

impl FakeBroker {
    pub fn new() -> Rc<Self> {
        Rc::new(FakeBroker {
            broker: Broker::new(),
            host: FakeHost::new(),
        })
    }
}

impl Default for FakeHost {
    fn default() -> Self {
        FakeHost {
            now: Cell::new(NOW),
            randoms: RefCell::default(),
            token_answers: RefCell::default(),
            management_answers: RefCell::default(),
            latency_ms: Cell::new(0),
            gate: Rc::default(),
            sent: RefCell::default(),
            sleeps: RefCell::default(),
            cache: RefCell::default(),
            shared_cache: RefCell::default(),
            cache_reloads: Cell::new(0),
            cache_reads: Cell::new(0),
            cache_read_fault: RefCell::default(),
            cache_write_fault: RefCell::default(),
            logs: RefCell::default(),
            background: RefCell::default(),
            broker: RefCell::default(),
            broker_fault: RefCell::default(),
            broker_calls: Cell::new(0),
            issued: Cell::new(0),
        }
    }
}

impl FakeHost {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn advance(&self, ms: u64) {
        self.now.set(self.now.get() + ms);
    }

    pub fn answer(&self, status: u16, body: impl Into<String>) -> &Self {
        self.answer_with(status, body, &[])
    }

    pub fn answer_with(
        &self,
        status: u16,
        body: impl Into<String>,
        headers: &[(&str, &str)],
    ) -> &Self {
        self.token_answers
            .borrow_mut()
            .push_back(Ok(response(status, body, headers)));
        self
    }

    pub fn fail_transport(&self, reason: &str) -> &Self {
        self.token_answers
            .borrow_mut()
            .push_back(Err(reason.to_owned()));
        self
    }

    /// Queues a good token response for `AUDIENCE` with `lifetime_s`, issued at the time it is
    /// queued, and returns the token.
    pub fn answer_token(&self, lifetime_s: u64) -> String {
        let n = self.issued.get() + 1;
        self.issued.set(n);
        let token = jwt(json!({
            "iss": format!("https://{DOMAIN}/"),
            "sub": format!("{CLIENT_ID}@clients"),
            "aud": AUDIENCE,
            "iat": self.now.get() / 1000,
            "exp": self.now.get() / 1000 + lifetime_s,
            "scope": "read:users read:roles",
            "jti": format!("jti-{n}"),
        }));
        let body = json!({"access_token": token, "token_type": "Bearer", "expires_in": lifetime_s, "scope": "read:users read:roles"});
        self.answer(200, body.to_string());
        token
    }

    pub fn answer_management(
        &self,
        status: u16,
        body: impl Into<String>,
        headers: &[(&str, &str)],
    ) -> &Self {
        self.management_answers
            .borrow_mut()
            .push_back(Ok(response(status, body, headers)));
        self
    }

    pub fn events(&self) -> Vec<&'static str> {
        self.logs.borrow().iter().map(LogRecord::event).collect()
    }

    pub fn last(&self, event: &str) -> Option<LogRecord> {
        self.logs
            .borrow()
            .iter()
            .rev()
            .find(|r| r.event() == event)
            .cloned()
    }

    pub fn count(&self, event: &str) -> usize {
        self.logs
            .borrow()
            .iter()
            .filter(|r| r.event() == event)
            .count()
    }

    pub fn log_lines(&self) -> String {
        self.logs
            .borrow()
            .iter()
            .map(LogRecord::to_json_line)
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn token_requests(&self) -> usize {
        self.sent
            .borrow()
            .iter()
            .filter(|s| s.url.ends_with("/oauth/token"))
            .count()
    }

    pub fn management_requests(&self) -> Vec<Sent> {
        self.sent
            .borrow()
            .iter()
            .filter(|s| s.url.contains("/api/v2/"))
            .cloned()
            .collect()
    }

    /// Asserts that no log line holds the client secret, any of `tokens`, or any part of one.
    pub fn assert_logs_hide_credentials(&self, tokens: &[String]) {
        let lines = self.log_lines();
        assert!(!lines.is_empty(), "the scenario logged nothing to check");
        assert!(
            !lines.contains(CLIENT_SECRET),
            "a log line holds the secret"
        );
        for token in tokens {
            assert!(!lines.contains(token.as_str()), "a log line holds a token");
            for part in token.split('.') {
                assert!(!lines.contains(part), "a log line holds a token part");
            }
        }
    }

    /// Queues a good token response for `audience` (see [`FakeHost::answer_token`]).
    pub fn answer_token_for(&self, audience: &str, lifetime_s: u64) -> String {
        let token = jwt(json!({
            "sub": format!("{CLIENT_ID}@clients"),
            "aud": audience,
            "iat": self.now.get() / 1000,
            "exp": self.now.get() / 1000 + lifetime_s,
        }));
        let body = json!({"access_token": token, "token_type": "Bearer", "expires_in": lifetime_s});
        self.answer(200, body.to_string());
        token
    }

    pub fn cached(&self) -> Option<CacheEntry> {
        self.cache.borrow().get("M2M").cloned()
    }
}

pub fn response(status: u16, body: impl Into<String>, headers: &[(&str, &str)]) -> HttpResponse {
    HttpResponse {
        status,
        body: body.into(),
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
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

/// The default secrets, with `overrides`.
pub fn secrets_with(overrides: &[(&'static str, &str)]) -> post_login_action::Result<Secrets> {
    Secrets::from_lookup(|name| {
        if let Some((_, v)) = overrides.iter().find(|(k, _)| *k == name) {
            return Some((*v).to_owned());
        }
        Some(
            match name {
                secrets::DOMAIN => DOMAIN,
                secrets::CLIENT_ID => CLIENT_ID,
                secrets::CLIENT_SECRET => CLIENT_SECRET,
                _ => AUDIENCE,
            }
            .to_owned(),
        )
    })
}

pub fn secrets() -> Secrets {
    secrets_with(&[]).unwrap()
}

/// A provider over `host` with a fresh isolate memory each call would lose state; keep one
/// `TokenState` per simulated isolate and build providers from it.
pub fn provider<'a>(
    host: &'a FakeHost,
    state: &'a TokenState,
    secrets: &'a Secrets,
) -> TokenProvider<'a, FakeHost> {
    TokenProvider::new(host, state, secrets)
}

/// The error the token endpoint's answer `status` with `body` becomes.
pub fn token_error(status: u16, body: &str) -> post_login_action::Error {
    post_login_action::Error::from_response(post_login_action::error::Endpoint::Token, status, body)
}

/// The token decision of one login (`post_login::login_token`) with default settings.
pub async fn login_outcome(
    host: &FakeHost,
    state: &TokenState,
    secrets: post_login_action::Result<Secrets>,
    on_error: OnTokenError,
) -> Outcome {
    let config = Config {
        on_error,
        ..Config::default()
    };
    post_login::login_token(host, state, &secrets, &config).await
}

/// One execution of the Action (`post_login::execute`).
pub async fn execute(
    host: &FakeHost,
    state: &TokenState,
    secrets: &post_login_action::Result<Secrets>,
    config: &Config,
    user_id: Option<&str>,
) -> Effects {
    let inputs = Inputs {
        secrets: secrets.clone(),
        config: config.clone(),
    };
    post_login::execute(host, state, &inputs, user_id).await
}

impl Background for FakeHost {
    fn wait_until(&self, work: BackgroundWork) {
        self.background.borrow_mut().push(work);
    }
}

impl FakeHost {
    /// Runs every piece of background work handed to `wait_until` so far; returns how many.
    pub fn run_background(&self) -> usize {
        let work: Vec<_> = self.background.borrow_mut().drain(..).collect();
        let count = work.len();
        for future in work {
            block_on(future);
        }
        count
    }
}

impl Clock for FakeHost {
    fn now_ms(&self) -> u64 {
        self.now.get()
    }

    async fn sleep(&self, ms: u64) {
        self.sleeps.borrow_mut().push(ms);
        self.advance(ms);
    }
}

impl Rng for FakeHost {
    fn random(&self) -> f64 {
        self.randoms.borrow_mut().pop_front().unwrap_or(0.5)
    }
}

impl HttpClient for FakeHost {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        self.sent.borrow_mut().push(Sent {
            method: request.method.as_str(),
            url: request.url.clone(),
            bearer: request.bearer.clone(),
            body: request
                .json_body
                .as_deref()
                .map(|b| serde_json::from_str(b).expect("the Action sends JSON")),
            timeout_ms: request.timeout_ms,
            at: self.now.get(),
        });
        GateWait(self.gate.clone()).await;
        let latency = self.latency_ms.get();
        if latency > request.timeout_ms {
            self.advance(request.timeout_ms);
            return Err("TimeoutError: The operation was aborted due to timeout".into());
        }
        self.advance(latency);
        let queue = if request.url.ends_with("/oauth/token") {
            &self.token_answers
        } else {
            &self.management_answers
        };
        queue
            .borrow_mut()
            .pop_front()
            .unwrap_or_else(|| Err("TypeError: fetch failed (connection refused)".into()))
    }
}

impl ActionCache for FakeHost {
    fn cache_get(&self, key: &str) -> Result<Option<CacheEntry>, CacheFault> {
        self.cache_reads.set(self.cache_reads.get() + 1);
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

    async fn cache_reload(&self) {
        self.cache_reloads.set(self.cache_reloads.get() + 1);
        let shared = self.shared_cache.borrow();
        self.cache
            .borrow_mut()
            .extend(shared.iter().map(|(k, v)| (k.clone(), v.clone())));
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

    fn cache_delete(&self, key: &str) -> Result<(), CacheFault> {
        match self.cache.borrow_mut().remove(key) {
            Some(_) => Ok(()),
            None => Err(CacheFault::Rejected("CacheKeyDoesNotExist".into())),
        }
    }
}

impl BrokerClient for FakeHost {
    async fn call_broker(
        &self,
        _name: &str,
        body: &str,
        timeout_ms: u64,
    ) -> Option<Result<String, String>> {
        let broker = self.broker.borrow().clone()?;
        self.broker_calls.set(self.broker_calls.get() + 1);
        if let Some(fault) = self.broker_fault.borrow().clone() {
            self.advance(timeout_ms);
            return Some(Err(fault));
        }
        // The broker's clock follows the isolate's: one fleet, one time.
        broker.host.now.set(self.now.get());
        // Boxed: the broker's own host is a `FakeHost` too (its `call_broker` answers `None`).
        let serving: Pin<Box<dyn Future<Output = String> + '_>> =
            Box::pin(broker.broker.serve_json(&broker.host, body));
        let reply = serving.await;
        self.now.set(self.now.get().max(broker.host.now.get()));
        Some(Ok(reply))
    }
}

impl Logger for FakeHost {
    fn log(&self, record: LogRecord) {
        self.logs.borrow_mut().push(record);
    }
}
