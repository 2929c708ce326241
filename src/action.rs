//! The post-login Action's token lifecycle: find a usable Management API token — in isolate
//! memory, then in the trigger cache — or obtain one by the client-credentials grant, once per
//! isolate however many logins wait for it, with retries inside a budget, a cool-down after
//! failures, and a background refresh before the token runs out.

use crate::error::{Error, Result};
use crate::host::{Host, HttpRequest, HttpResponse, Method};
use crate::log::LogRecord;
use crate::policy::{self, CACHE_KEY, CachedToken, RefreshPolicy};
use crate::retry::{FailureClass, RetryPolicy};
use crate::secrets::Secrets;
use crate::state::{Cooldown, Held, RequestKey, TokenIdentity, TokenState};
use crate::token::{self, ManagementToken};

/// The reason given to `api.access.deny` under [`OnTokenError::Deny`]. Deliberately generic: the
/// user sees it, the operator finds the cause in the logs.
pub const DENY_REASON: &str = "Login is temporarily unavailable. Please try again later.";

/// Longest single HTTP wait; Auth0 recommends outbound calls under 10 s.
const MAX_REQUEST_TIMEOUT_MS: u64 = 10_000;

/// What a login does when no Management API token can be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnTokenError {
    /// Log the error and let the login continue (the seed's behaviour).
    #[default]
    Continue,
    /// Log the error and deny the login with [`DENY_REASON`].
    Deny,
}

impl OnTokenError {
    /// Reads the setting. Unset or empty means `continue`; otherwise `continue` or `deny`, in
    /// any case. Any other value is a configuration error, reported as `Err` with the policy to
    /// apply anyway: `Deny`, because someone who set the variable wanted to be strict.
    pub fn parse(value: Option<&str>) -> core::result::Result<Self, Self> {
        match value.map(str::trim) {
            None | Some("") => Ok(OnTokenError::Continue),
            Some(v) if v.eq_ignore_ascii_case("continue") => Ok(OnTokenError::Continue),
            Some(v) if v.eq_ignore_ascii_case("deny") => Ok(OnTokenError::Deny),
            Some(_) => Err(OnTokenError::Deny),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            OnTokenError::Continue => "continue",
            OnTokenError::Deny => "deny",
        }
    }
}

/// Lifecycle settings.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Settings {
    /// When tokens are refreshed ahead of expiry.
    pub refresh: RefreshPolicy,
    /// Retries, budget and cool-downs.
    pub retry: RetryPolicy,
}

/// Where a login's token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Isolate memory: no cache read, no parse.
    Memory,
    /// The trigger cache (`api.cache`).
    Cache,
    /// A token request this login made.
    Endpoint,
    /// A token request another login of this isolate had in flight.
    Shared,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Memory => "memory",
            Source::Cache => "cache",
            Source::Endpoint => "endpoint",
            Source::Shared => "shared",
        }
    }
}

/// A token for one login.
#[derive(Debug, Clone)]
pub struct Acquired {
    /// The token.
    pub token: ManagementToken,
    /// Where it came from.
    pub source: Source,
    /// The token is in its refresh window: the host should run [`TokenProvider::refresh`] in
    /// the background (and keep the Worker alive for it).
    pub refresh_due: bool,
}

/// What the Action decided for one login.
#[derive(Debug)]
pub enum Outcome {
    /// A usable token; the login continues.
    Token(Acquired),
    /// No token; the login continues (the error was logged).
    Continue(Error),
    /// No token; the login must be denied with [`DENY_REASON`] (the error was logged).
    Deny(Error),
}

/// Lands a flight with an error if its leader is dropped before landing it.
struct Abandoned<'s> {
    state: &'s TokenState,
    flight: Option<std::rc::Rc<crate::state::Flight>>,
}

impl Abandoned<'_> {
    fn disarm(mut self) {
        self.flight = None;
    }
}

impl Drop for Abandoned<'_> {
    fn drop(&mut self) {
        if let Some(flight) = self.flight.take() {
            self.state.land(
                &flight,
                Err(Error::Transport("the token request was abandoned".into())),
            );
        }
    }
}

/// Finds or obtains the Management API token for a host and an isolate's memory.
#[derive(Debug)]
pub struct TokenProvider<'a, H> {
    host: &'a H,
    state: &'a TokenState,
    settings: Settings,
}

impl<'a, H: Host> TokenProvider<'a, H> {
    /// A provider with the default [`Settings`].
    pub fn new(host: &'a H, state: &'a TokenState) -> Self {
        TokenProvider {
            host,
            state,
            settings: Settings::default(),
        }
    }

    /// Replaces the settings.
    pub fn with_settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// The host.
    pub fn host(&self) -> &'a H {
        self.host
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Runs the Action for one login: get a token, and on failure log it and apply `on_error`.
    pub async fn on_execute_post_login(
        &self,
        secrets: Result<Secrets>,
        on_error: OnTokenError,
    ) -> Outcome {
        let result = match secrets {
            Ok(secrets) => self.acquire(&secrets).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(acquired) => Outcome::Token(acquired),
            Err(error) => {
                let mut record = LogRecord::error("token_error")
                    .field("error", error.kind())
                    .field("message", error.to_string())
                    .field("on_token_error", on_error.as_str());
                if let Some(cause) = error.likely_cause() {
                    record = record.field("likely_cause", cause);
                }
                self.host.log(record);
                match on_error {
                    OnTokenError::Continue => Outcome::Continue(error),
                    OnTokenError::Deny => Outcome::Deny(error),
                }
            }
        }
    }

    /// A token usable now. Blocks on a token request only when no valid token exists at all.
    pub async fn acquire(&self, secrets: &Secrets) -> Result<Acquired> {
        if let Some(acquired) = self.cached(secrets) {
            return Ok(acquired);
        }
        let now = self.host.now_ms();
        let key = RequestKey::of(secrets);
        if let Some(flight) = self.state.flight(&key) {
            self.host.log(LogRecord::info("token_request_joined"));
            let token = flight.wait().await?;
            return Ok(Acquired {
                token,
                source: Source::Shared,
                refresh_due: false,
            });
        }
        if let Some(cooldown) = self.state.cooling(&key, now) {
            return Err(self.suppressed(cooldown, now));
        }
        let token = self.fetch_as_leader(secrets, key).await?;
        Ok(Acquired {
            token,
            source: Source::Endpoint,
            refresh_due: false,
        })
    }

    /// The background refresh of a token in its refresh window. Never fails: if no new token
    /// can be had, the current one keeps serving until its own limit (static stability).
    pub async fn refresh(&self, secrets: &Secrets) {
        let now = self.host.now_ms();
        let key = RequestKey::of(secrets);
        if self.state.flight(&key).is_some() || self.state.cooling(&key, now).is_some() {
            return;
        }
        let current = self.state.held_for(secrets, now);
        // Another isolate may have refreshed already: adopt its token instead of requesting.
        if let Some(newer) = self.read_cache(secrets, now, false)
            && current
                .as_ref()
                .is_none_or(|c| newer.token.expires_at_ms() > c.token.expires_at_ms())
            && now < newer.refresh_at_ms
        {
            self.host.log(
                LogRecord::info("refresh_adopted").field("fingerprint", newer.token.fingerprint()),
            );
            self.state.hold(newer);
            return;
        }
        self.host.log(LogRecord::info("refresh_started"));
        if let Err(error) = self.fetch_as_leader(secrets, key.clone()).await {
            let mut record = LogRecord::warn("refresh_failed")
                .field("error", error.kind())
                .field("message", error.to_string());
            if let Some(held) = self.state.held_for(secrets, self.host.now_ms()) {
                record = record
                    .field("keeps_serving", held.token.fingerprint())
                    .field(
                        "valid_for_s",
                        held.use_until_ms.saturating_sub(self.host.now_ms()) / 1000,
                    );
            }
            self.host.log(record);
            if let Some(cooldown) = self.state.cooling(&key, self.host.now_ms()) {
                self.state.postpone_refresh(cooldown.until_ms);
            }
        }
    }

    /// Drops `rejected` (a token the Management API refused) from memory and from the trigger
    /// cache, so that the next [`TokenProvider::acquire`] requests a new one.
    pub fn discard(&self, secrets: &Secrets, rejected: &ManagementToken) {
        self.state.forget(rejected.access_token());
        let cached = self
            .host
            .cache_get(CACHE_KEY)
            .ok()
            .flatten()
            .and_then(|e| CachedToken::usable(&e.value, secrets, self.host.now_ms()).ok());
        if cached.is_some_and(|(t, _)| t.access_token() == rejected.access_token())
            && let Err(fault) = self.host.cache_delete(CACHE_KEY)
        {
            self.host
                .log(LogRecord::warn("cache_delete_failed").field("error", fault.describe()));
        }
        self.host
            .log(LogRecord::warn("token_discarded").field("fingerprint", rejected.fingerprint()));
    }

    /// Whether a login holding a token is served without waiting: the token this isolate
    /// holds, else one from the trigger cache. Synchronous — the hot path of every login.
    pub fn cached(&self, secrets: &Secrets) -> Option<Acquired> {
        self.cached_with(secrets, true, |token| token.clone()).map(
            |(token, source, refresh_due)| Acquired {
                token,
                source,
                refresh_due,
            },
        )
    }

    /// Like [`TokenProvider::cached`], for a caller that does not need the token itself (the
    /// Action only needs to know it is there): returns whether a background refresh is due.
    /// A miss is not logged: the caller goes on to [`TokenProvider::acquire`], which logs it.
    pub fn has_cached(&self, secrets: &Secrets) -> Option<bool> {
        self.cached_with(secrets, false, |_| ())
            .map(|((), _, refresh_due)| refresh_due)
    }

    fn cached_with<T>(
        &self,
        secrets: &Secrets,
        log_miss: bool,
        take: impl Fn(&ManagementToken) -> T,
    ) -> Option<(T, Source, bool)> {
        let now = self.host.now_ms();
        let from_memory = self.state.with_held(secrets, now, |held| {
            (
                take(&held.token),
                self.hit(held, Source::Memory, secrets, now),
            )
        });
        if let Some((token, refresh_due)) = from_memory {
            return Some((token, Source::Memory, refresh_due));
        }
        let held = self.read_cache(secrets, now, log_miss)?;
        let refresh_due = self.hit(&held, Source::Cache, secrets, now);
        let token = take(&held.token);
        self.state.hold(held);
        Some((token, Source::Cache, refresh_due))
    }

    /// Logs a hit and says whether a background refresh is due.
    fn hit(&self, held: &Held, source: Source, secrets: &Secrets, now: u64) -> bool {
        // The request key (a hash of the secret, three copies) is built only past the refresh
        // point, not on every hit.
        let refresh_due = now >= held.refresh_at_ms && {
            let key = RequestKey::of(secrets);
            self.state.flight(&key).is_none() && self.state.cooling(&key, now).is_none()
        };
        let mut record = LogRecord::info("cache_hit")
            .field("tier", source.as_str())
            .field("fingerprint", held.fingerprint.as_str())
            .field("expires_in_s", held.use_until_ms.saturating_sub(now) / 1000);
        if refresh_due {
            record = record.field("refresh", "due");
        }
        self.host.log(record);
        refresh_due
    }

    fn read_cache(&self, secrets: &Secrets, now: u64, log_miss: bool) -> Option<Held> {
        let entry = match self.host.cache_get(CACHE_KEY) {
            Ok(entry) => entry,
            Err(fault) => {
                self.host
                    .log(LogRecord::warn("cache_read_failed").field("error", fault.describe()));
                None
            }
        };
        let miss = match entry {
            None => policy::Miss::Empty,
            Some(entry) => match CachedToken::usable(&entry.value, secrets, now) {
                Ok((token, use_until)) => {
                    let use_until = use_until.min(entry.expires_at_ms);
                    return Some(self.held(secrets, token, use_until));
                }
                Err(miss) => miss,
            },
        };
        if log_miss {
            self.host
                .log(LogRecord::info("cache_miss").field("reason", miss.as_str()));
        }
        None
    }

    fn held(&self, secrets: &Secrets, token: ManagementToken, use_until_ms: u64) -> Held {
        let refresh_at_ms =
            self.settings
                .refresh
                .refresh_at_ms(&token, use_until_ms, self.host.random());
        Held {
            identity: TokenIdentity::of(secrets),
            fingerprint: token.fingerprint(),
            token,
            use_until_ms,
            refresh_at_ms,
        }
    }

    fn suppressed(&self, cooldown: Cooldown, now: u64) -> Error {
        let remaining_ms = cooldown.until_ms.saturating_sub(now);
        self.host.log(
            LogRecord::info("token_request_suppressed")
                .field("class", cooldown.class.as_str())
                .field("retry_in_ms", remaining_ms),
        );
        Error::CoolingDown {
            remaining_ms,
            last: Box::new(cooldown.error),
        }
    }

    /// Makes the request this isolate's other logins wait on, and records its outcome.
    async fn fetch_as_leader(&self, secrets: &Secrets, key: RequestKey) -> Result<ManagementToken> {
        let flight = self.state.take_off(key.clone());
        // If this future is dropped mid-request, the waiting logins must not wait forever.
        let abandoned = Abandoned {
            state: self.state,
            flight: Some(flight.clone()),
        };
        let outcome = self.request_with_retries(secrets).await;
        let result = match outcome {
            Ok(token) => {
                self.state.clear_cooldown();
                self.store(secrets, &token);
                Ok(token)
            }
            Err((error, class)) => {
                let now = self.host.now_ms();
                let failures = self.state.failures(&key).saturating_add(1);
                let cooldown_ms = self.settings.retry.cooldown_ms(class, failures, now);
                self.host.log(
                    LogRecord::warn("cooldown_started")
                        .field("class", class.as_str())
                        .field("failures", failures)
                        .field("cooldown_ms", cooldown_ms),
                );
                self.state.cool_down(Cooldown {
                    key,
                    until_ms: now.saturating_add(cooldown_ms),
                    failures,
                    class,
                    error: error.clone(),
                });
                Err(error)
            }
        };
        abandoned.disarm();
        self.state.land(&flight, result.clone());
        result
    }

    async fn request_with_retries(
        &self,
        secrets: &Secrets,
    ) -> core::result::Result<ManagementToken, (Error, FailureClass)> {
        let retry = self.settings.retry;
        let deadline = self.host.now_ms().saturating_add(retry.budget_ms);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_sub(self.host.now_ms());
            let (result, response) = self
                .request_once(secrets, attempt, remaining.min(MAX_REQUEST_TIMEOUT_MS))
                .await;
            let error = match result {
                Ok(token) => return Ok(token),
                Err(error) => error,
            };
            let now = self.host.now_ms();
            let class = FailureClass::of(&error, response.as_ref(), now);
            let wait = match class {
                _ if attempt >= retry.max_attempts => None,
                FailureClass::Transient => Some(retry.backoff_ms(attempt - 1, self.host.random())),
                FailureClass::RateLimited {
                    reset_at_ms: Some(reset),
                } => Some(reset.saturating_sub(now)),
                _ => None,
            };
            match wait {
                Some(wait) if now.saturating_add(wait) < deadline => {
                    self.host.log(
                        LogRecord::info("token_retry")
                            .field("attempt", attempt)
                            .field("class", class.as_str())
                            .field("wait_ms", wait),
                    );
                    self.host.sleep(wait).await;
                }
                _ => return Err((error, class)),
            }
        }
    }

    async fn request_once(
        &self,
        secrets: &Secrets,
        attempt: u32,
        timeout_ms: u64,
    ) -> (Result<ManagementToken>, Option<HttpResponse>) {
        let url = secrets.domain().token_url();
        let started = self.host.now_ms();
        let answer = self
            .host
            .send(HttpRequest {
                method: Method::Post,
                url: url.clone(),
                bearer: None,
                json_body: Some(secrets.token_request_body()),
                timeout_ms,
            })
            .await;
        let now = self.host.now_ms();
        let duration_ms = now.saturating_sub(started);
        let response = match answer {
            Ok(response) => response,
            Err(reason) => {
                self.host.log(
                    LogRecord::error("token_request")
                        .field("url", url)
                        .field("attempt", attempt)
                        .field("outcome", "no_response")
                        .field("error", reason.clone())
                        .field("duration_ms", duration_ms),
                );
                return (Err(Error::Transport(reason)), None);
            }
        };
        let level = if response.status == 200 {
            LogRecord::info
        } else {
            LogRecord::error
        };
        self.host.log(
            level("token_request")
                .field("url", url)
                .field("attempt", attempt)
                .field("status", response.status)
                .field("duration_ms", duration_ms),
        );
        if response.status != 200 {
            let error = token::endpoint_error(response.status, &response.body);
            return (Err(error), Some(response));
        }
        let result = token::parse_token_response(&response.body, secrets.audience(), now);
        match &result {
            Ok(token) => self.host.log(
                LogRecord::info("token_valid")
                    .field("fingerprint", token.fingerprint())
                    .field(
                        "expires_in_s",
                        token.expires_at_ms().saturating_sub(now) / 1000,
                    ),
            ),
            Err(error) => self
                .host
                .log(LogRecord::error("token_invalid").field("message", error.to_string())),
        }
        (result, Some(response))
    }

    /// Keeps a new token in memory and in the trigger cache.
    fn store(&self, secrets: &Secrets, token: &ManagementToken) {
        let now = self.host.now_ms();
        let Some(use_until) = policy::use_until_ms(token, now) else {
            self.host.log(
                LogRecord::warn("cache_write_skipped")
                    .field("reason", "token lifetime shorter than its safety margin"),
            );
            return;
        };
        self.state
            .hold(self.held(secrets, token.clone(), use_until));
        let record = CachedToken::new(secrets, token, use_until).to_json();
        match self.host.cache_set(CACHE_KEY, &record, use_until) {
            Ok(()) => self.host.log(
                LogRecord::info("cache_write")
                    .field("fingerprint", token.fingerprint())
                    .field("expires_at", use_until)
                    .field("ttl_s", (use_until - now) / 1000),
            ),
            Err(fault) => self.host.log(
                LogRecord::warn("cache_write_failed")
                    .field("error", fault.describe())
                    .field("value_bytes", record.len()),
            ),
        }
    }
}
