//! Isolate memory: what one Worker isolate remembers between logins.
//!
//! - the token it holds (the memory tier: a hit costs no cache read and no JSON parse),
//! - the request in flight (single-flight: concurrent misses share one token request),
//! - the cool-down after a failure (the negative cache),
//! - whether the fleet's token broker answered lately.
//!
//! All of it is best-effort, like module scope in Auth0's Node 22 runtime: an isolate can be
//! evicted at any time, and the trigger cache (KV) stays the shared tier.

use core::cell::RefCell;
use std::rc::Rc;

pub use crate::flight::Flight;

use crate::error::Result;
use crate::retry::FailureClass;
use crate::secrets::Secrets;
use crate::token::{ManagementToken, Replacing};

/// What a token was issued for. A held token serves only the same domain, client and audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity {
    domain: String,
    client_id: String,
    audience: String,
}

impl TokenIdentity {
    /// The identity the secrets ask for.
    pub fn of(secrets: &Secrets) -> Self {
        TokenIdentity {
            domain: secrets.domain().base_url().to_owned(),
            client_id: secrets.client_id().to_owned(),
            audience: secrets.audience().to_owned(),
        }
    }

    fn matches(&self, secrets: &Secrets) -> bool {
        self.domain == secrets.domain().base_url()
            && self.client_id == secrets.client_id()
            && self.audience == secrets.audience()
    }
}

/// What a token *request* is made with: the identity plus the client secret's fingerprint, so a
/// rotated secret ends a cool-down at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    identity: TokenIdentity,
    secret_fingerprint: String,
}

impl RequestKey {
    /// The key for these secrets.
    pub fn of(secrets: &Secrets) -> Self {
        RequestKey {
            identity: TokenIdentity::of(secrets),
            secret_fingerprint: crate::token::fingerprint(secrets.client_secret()),
        }
    }
}

/// The token this isolate holds.
#[derive(Debug, Clone)]
pub struct Held {
    /// What it was issued for.
    pub identity: TokenIdentity,
    /// The token.
    pub token: ManagementToken,
    /// The token's fingerprint, computed once (it is logged on every hit).
    pub fingerprint: String,
    /// Last instant it may serve a login.
    pub use_until_ms: u64,
    /// When this isolate starts refreshing it.
    pub refresh_at_ms: u64,
}

/// A failure that suppresses token requests until `until_ms`.
#[derive(Debug, Clone)]
pub struct Cooldown {
    /// Whose requests are suppressed.
    pub key: RequestKey,
    /// End of the cool-down.
    pub until_ms: u64,
    /// Consecutive failures so far (the cool-down doubles with each).
    pub failures: u32,
    /// The kind of the last failure.
    pub class: FailureClass,
    /// The last failure, repeated to logins that are turned away.
    pub error: crate::Error,
}

/// One isolate's memory. Interior mutability: no borrow is ever held across an `.await`.
#[derive(Debug, Default)]
pub struct TokenState {
    held: RefCell<Option<Held>>,
    flight: RefCell<Option<(RequestKey, Rc<Flight>)>>,
    cooldown: RefCell<Option<Cooldown>>,
    /// Until when the broker is skipped after it could not be reached (ms since epoch).
    broker_paused_until: core::cell::Cell<u64>,
    /// The last token the Management API refused, until a new one is obtained.
    rejected: RefCell<Option<Replacing>>,
}

impl TokenState {
    /// Empty memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the broker is skipped at `now_ms` (it failed to answer recently).
    pub fn broker_paused(&self, now_ms: u64) -> bool {
        now_ms < self.broker_paused_until.get()
    }

    /// Remembers that `token` was refused.
    pub fn reject(&self, token: Replacing) {
        *self.rejected.borrow_mut() = Some(token);
    }

    /// The refused token, if no new one was obtained since.
    pub fn rejected(&self) -> Option<Replacing> {
        self.rejected.borrow().clone()
    }

    /// Forgets the refused token (a new one was obtained).
    pub fn clear_rejected(&self) {
        *self.rejected.borrow_mut() = None;
    }

    /// Skips the broker until `until_ms`.
    pub fn pause_broker(&self, until_ms: u64) {
        self.broker_paused_until.set(until_ms);
    }

    /// The held token, if it serves `secrets` at `now_ms`.
    pub fn held_for(&self, secrets: &Secrets, now_ms: u64) -> Option<Held> {
        self.with_held(secrets, now_ms, Held::clone)
    }

    /// Calls `f` with the held token if it serves `secrets` at `now_ms`, without copying it.
    pub fn with_held<T>(
        &self,
        secrets: &Secrets,
        now_ms: u64,
        f: impl FnOnce(&Held) -> T,
    ) -> Option<T> {
        self.held
            .borrow()
            .as_ref()
            .filter(|h| h.identity.matches(secrets) && now_ms < h.use_until_ms)
            .map(f)
    }

    /// Remembers a token.
    pub fn hold(&self, held: Held) {
        *self.held.borrow_mut() = Some(held);
    }

    /// Forgets the held token if it is `access_token` (it was rejected by the Management API).
    /// Returns whether it was held.
    pub fn forget(&self, access_token: &str) -> bool {
        let mut held = self.held.borrow_mut();
        if held
            .as_ref()
            .is_some_and(|h| h.token.access_token() == access_token)
        {
            *held = None;
            return true;
        }
        false
    }

    /// Pushes the held token's refresh point to `at_ms` (after a refresh attempt failed, so the
    /// next login does not retry at once; the cool-down decides when it may).
    pub fn postpone_refresh(&self, at_ms: u64) {
        if let Some(held) = self.held.borrow_mut().as_mut() {
            held.refresh_at_ms = held.refresh_at_ms.max(at_ms);
        }
    }

    /// The cool-down in force for `key` at `now_ms`, if any.
    pub fn cooling(&self, key: &RequestKey, now_ms: u64) -> Option<Cooldown> {
        self.cooldown
            .borrow()
            .as_ref()
            .filter(|c| &c.key == key && now_ms < c.until_ms)
            .cloned()
    }

    /// Consecutive failures recorded for `key` (0 when the last outcome was a success or the
    /// identity changed).
    pub fn failures(&self, key: &RequestKey) -> u32 {
        self.cooldown
            .borrow()
            .as_ref()
            .filter(|c| &c.key == key)
            .map_or(0, |c| c.failures)
    }

    /// Records a failure's cool-down.
    pub fn cool_down(&self, cooldown: Cooldown) {
        *self.cooldown.borrow_mut() = Some(cooldown);
    }

    /// Clears the cool-down after a success.
    pub fn clear_cooldown(&self) {
        *self.cooldown.borrow_mut() = None;
    }

    /// The request in flight for `key`, to wait on.
    pub fn flight(&self, key: &RequestKey) -> Option<Rc<Flight>> {
        self.flight
            .borrow()
            .as_ref()
            .filter(|(k, _)| k == key)
            .map(|(_, f)| f.clone())
    }

    /// Registers a new request in flight; the caller must [`TokenState::land`] it.
    pub fn take_off(&self, key: RequestKey) -> Rc<Flight> {
        let flight = Rc::new(Flight::default());
        *self.flight.borrow_mut() = Some((key, flight.clone()));
        flight
    }

    /// Completes a flight: every waiter gets `outcome`.
    pub fn land(&self, flight: &Rc<Flight>, outcome: Result<ManagementToken>) {
        let mut current = self.flight.borrow_mut();
        if current.as_ref().is_some_and(|(_, f)| Rc::ptr_eq(f, flight)) {
            *current = None;
        }
        drop(current);
        flight.complete(outcome);
    }
}
