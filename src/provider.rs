//! The token lifecycle for one identity: a usable Management API token from the [`Tiers`], or
//! one obtained by the client-credentials grant — once per isolate however many logins wait
//! for it ([`crate::flight`]), with retries inside a budget ([`crate::http`]), a cool-down after
//! failures, and a background refresh before the token runs out.

use crate::broker::{self, Asked};
use crate::error::{Endpoint, Error, Result};
use crate::host::{Host, HttpRequest, Method};
use crate::http::{self, Retries};
use crate::log::LogRecord;
use crate::policy::RefreshPolicy;
use crate::retry::{FailureClass, RetryPolicy};
use crate::secrets::Secrets;
use crate::state::{Cooldown, Flight, RequestKey, TokenState};
use crate::tiers::Tiers;
use crate::token::{self, ManagementToken, Replacing};

pub use crate::tiers::Source;

/// Lifecycle settings.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Settings {
    /// When tokens are refreshed ahead of expiry.
    pub refresh: RefreshPolicy,
    /// Retries, budget and cool-downs.
    pub retry: RetryPolicy,
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

/// The token endpoint retries network errors and 5xx (the grant is idempotent) and 429s.
const TOKEN_RETRIES: Retries = Retries {
    max_attempts: 4,
    transient: true,
};

/// How soon a refresh that got nothing newer is tried again, at most.
const REFRESH_RETRY_MS: u64 = 30_000;

/// Lands a flight with an error if its leader is dropped before landing it.
struct Abandoned<'s> {
    state: &'s TokenState,
    flight: Option<std::rc::Rc<Flight>>,
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
                Err(Error::Transport {
                    endpoint: Endpoint::Token,
                    reason: "the token request was abandoned".into(),
                }),
            );
        }
    }
}

/// Finds or obtains the Management API token of one identity (its [`Secrets`]) for a host and
/// an isolate's memory.
#[derive(Debug)]
pub struct TokenProvider<'a, H> {
    host: &'a H,
    state: &'a TokenState,
    secrets: &'a Secrets,
    settings: Settings,
}

impl<'a, H: Host> TokenProvider<'a, H> {
    /// A provider with the default [`Settings`].
    pub fn new(host: &'a H, state: &'a TokenState, secrets: &'a Secrets) -> Self {
        TokenProvider {
            host,
            state,
            secrets,
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

    /// The secrets.
    pub fn secrets(&self) -> &'a Secrets {
        self.secrets
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn tiers(&self) -> Tiers<'a, H> {
        Tiers {
            host: self.host,
            state: self.state,
            secrets: self.secrets,
            refresh: self.settings.refresh,
        }
    }

    /// A token usable now. Waits on a token request only when no valid token exists at all.
    pub async fn acquire(&self) -> Result<Acquired> {
        if let Some(acquired) = self.cached() {
            return Ok(acquired);
        }
        let now = self.host.now_ms();
        let key = RequestKey::of(self.secrets);
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
        let token = self.fetch_as_leader(key, None).await?;
        Ok(Acquired {
            token,
            source: Source::Endpoint,
            refresh_due: false,
        })
    }

    /// The background refresh of a token in its refresh window. Never fails: if no new token
    /// can be had, the current one keeps serving until its own limit (static stability).
    pub async fn refresh(&self) {
        let key = RequestKey::of(self.secrets);
        let busy =
            |now| self.state.flight(&key).is_some() || self.state.cooling(&key, now).is_some();
        if busy(self.host.now_ms()) {
            return;
        }
        // Another isolate may have stored a newer token where the isolates share the cache.
        self.host.cache_reload().await;
        let now = self.host.now_ms();
        if busy(now) {
            return;
        }
        let current = self.state.held_for(self.secrets, now);
        let replacing = current
            .as_ref()
            .map(|c| Replacing::new(&c.fingerprint, c.token.expires_at_ms()));
        // Another isolate may have refreshed already: adopt its token instead of requesting.
        if let Some(newer) = self.tiers().read_cache(now, false)
            && replacing
                .as_ref()
                .is_none_or(|r| r.is_replaced_by(&newer.fingerprint, newer.token.expires_at_ms()))
            && now < newer.refresh_at_ms
        {
            self.host.log(
                LogRecord::info("refresh_adopted").field("fingerprint", newer.token.fingerprint()),
            );
            self.state.hold(newer);
            return;
        }
        self.host.log(LogRecord::info("refresh_started"));
        match self.fetch_as_leader(key.clone(), replacing.clone()).await {
            Ok(token) => {
                if replacing.as_ref().is_some_and(|r| r.is(&token)) {
                    // The broker had nothing newer (its own refresh failed): ask again later,
                    // not on the next login.
                    let now = self.host.now_ms();
                    let left = current.map_or(0, |c| c.use_until_ms.saturating_sub(now));
                    self.state
                        .postpone_refresh(now.saturating_add((left / 2).min(REFRESH_RETRY_MS)));
                    self.host.log(LogRecord::info("refresh_not_newer"));
                }
            }
            Err(error) => self.refresh_failed(&key, error),
        }
    }

    /// Logs a failed refresh; the held token keeps serving, and the next attempt waits for the
    /// cool-down.
    fn refresh_failed(&self, key: &RequestKey, error: Error) {
        let mut record = LogRecord::warn("refresh_failed")
            .field("error", error.kind())
            .field("message", error.to_string());
        if let Some(held) = self.state.held_for(self.secrets, self.host.now_ms()) {
            record = record
                .field("keeps_serving", held.token.fingerprint())
                .field(
                    "valid_for_s",
                    held.use_until_ms.saturating_sub(self.host.now_ms()) / 1000,
                );
        }
        self.host.log(record);
        if let Some(cooldown) = self.state.cooling(key, self.host.now_ms()) {
            self.state.postpone_refresh(cooldown.until_ms);
        }
    }

    /// Drops `rejected` (a token the Management API refused) from memory and from the trigger
    /// cache, so that the next [`TokenProvider::acquire`] requests a new one.
    pub fn discard(&self, rejected: &ManagementToken) {
        self.state.reject(Replacing::token(rejected));
        self.tiers().discard(rejected);
    }

    /// The token at hand without waiting: the one this isolate holds, else one from the
    /// trigger cache. Synchronous — the hot path of every login.
    pub fn cached(&self) -> Option<Acquired> {
        self.tiers()
            .lookup(true, ManagementToken::clone)
            .map(|(token, source, refresh_due)| Acquired {
                token,
                source,
                refresh_due,
            })
    }

    /// Like [`TokenProvider::cached`], for a caller that does not need the token itself (the
    /// Action only needs to know it is there): returns whether a background refresh is due.
    /// A miss is not logged: the caller goes on to [`TokenProvider::acquire`], which logs it.
    pub fn has_cached(&self) -> Option<bool> {
        self.tiers()
            .lookup(false, |_| ())
            .map(|((), _, refresh_due)| refresh_due)
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
    /// `replacing`: the token being replaced, for a refresh.
    async fn fetch_as_leader(
        &self,
        key: RequestKey,
        replacing: Option<Replacing>,
    ) -> Result<ManagementToken> {
        let flight = self.state.take_off(key.clone());
        // If this future is dropped mid-request, the waiting logins must not wait forever.
        let abandoned = Abandoned {
            state: self.state,
            flight: Some(flight.clone()),
        };
        let result = match self.obtain(replacing.clone()).await {
            Ok(token) => {
                self.state.clear_cooldown();
                // The broker answers with the very token being replaced when its own refresh
                // failed: memory and the cache hold it already, so it is not written again.
                if replacing.as_ref().is_none_or(|r| !r.is(&token)) {
                    self.state.clear_rejected();
                    self.tiers().store(&token);
                }
                Ok(token)
            }
            Err((error, class, until_ms)) => Err(self.cool_down(key, error, class, until_ms)),
        };
        abandoned.disarm();
        self.state.land(&flight, result.clone());
        result
    }

    /// A token from the fleet's broker; from the token endpoint when no broker is bound or it
    /// does not answer. A failure the broker reports is the fleet's: its cool-down end is
    /// returned, and the endpoint is not asked.
    async fn obtain(
        &self,
        replacing: Option<Replacing>,
    ) -> core::result::Result<ManagementToken, (Error, FailureClass, Option<u64>)> {
        // The broker's wait and the fallback share one budget: a slow broker never makes a
        // login wait longer than a token request alone may.
        let deadline = self
            .host
            .now_ms()
            .saturating_add(self.settings.retry.budget_ms);
        // A token the Management API refused must not come back from the broker's memory.
        let replacing = replacing.or_else(|| self.state.rejected());
        let timeout_ms = broker::BROKER_TIMEOUT_MS.min(self.settings.retry.budget_ms);
        match broker::ask(self.host, self.state, self.secrets, replacing, timeout_ms).await {
            Asked::Token(token) => Ok(token),
            Asked::CoolingDown {
                error,
                class,
                until_ms,
            } => Err((error, class, Some(until_ms))),
            Asked::Unbound | Asked::Unavailable(_) => self
                .request_token(deadline)
                .await
                .map_err(|(error, class)| (error, class, None)),
        }
    }

    /// Starts the identity's cool-down after a failed acquisition: until `until_ms` when the
    /// broker named the fleet's, else by the retry policy.
    fn cool_down(
        &self,
        key: RequestKey,
        error: Error,
        class: FailureClass,
        until_ms: Option<u64>,
    ) -> Error {
        let now = self.host.now_ms();
        let failures = self.state.failures(&key).saturating_add(1);
        let cooldown_ms = until_ms.map_or_else(
            || self.settings.retry.cooldown_ms(class, failures, now),
            |until| until.saturating_sub(now),
        );
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
        error
    }

    /// `POST /oauth/token` with retries; each answer validated as a token response.
    async fn request_token(
        &self,
        deadline: u64,
    ) -> core::result::Result<ManagementToken, (Error, FailureClass)> {
        let retry = self.settings.retry;
        let retries = Retries {
            max_attempts: retry.max_attempts,
            ..TOKEN_RETRIES
        };
        let url = self.secrets.domain().token_url();
        http::retrying(
            self.host,
            Endpoint::Token,
            &retry,
            retries,
            deadline,
            async |attempt, timeout_ms| {
                let request = HttpRequest {
                    method: Method::Post,
                    url: url.clone(),
                    bearer: None,
                    json_body: Some(self.secrets.token_request_body()),
                    timeout_ms,
                };
                let response = http::send(self.host, Endpoint::Token, &url, attempt, request)
                    .await
                    .map_err(|error| (error, None))?;
                if response.status != 200 {
                    let error =
                        Error::from_response(Endpoint::Token, response.status, &response.body);
                    return Err((error, Some(response)));
                }
                self.validate(&response.body)
                    .map_err(|e| (e, Some(response)))
            },
        )
        .await
    }

    fn validate(&self, body: &str) -> Result<ManagementToken> {
        let now = self.host.now_ms();
        let result = token::parse_token_response(body, self.secrets.audience(), now);
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
        result
    }
}
