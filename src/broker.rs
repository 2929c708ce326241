//! The fleet's token broker: one Durable Object instance per token identity (domain, client id,
//! audience) that is the only caller of `/oauth/token` while it is reachable.
//!
//! An isolate asks it only when neither its memory nor the trigger cache has a usable token, or
//! when its own refresh point has come (in the background). The broker answers from its memory
//! or its storage, or makes the one request every caller of the fleet waits on. It runs the same
//! [`TokenProvider`] as an isolate — single-flight, retries, cool-downs, validation — over a host
//! whose cache is the object's storage, so a failure cools the whole fleet down at once and a
//! recycled broker does not request again.
//!
//! This module is the protocol (what an isolate sends and what the broker answers, both written
//! here once) and both sides of it: [`Broker::serve`] in the object, [`ask`] in an isolate.
//! The Durable Object class that hosts it is in the `wasm` module.
//!
//! ```
//! use post_login_action::broker::{BrokerReply, BrokerRequest};
//! let reply: BrokerReply = serde_json::from_str(
//!     r#"{"type":"cooling_down","retry_in_ms":30000,"class":"configuration","kind":"token_endpoint","status":401,
//!         "code":"access_denied","message":"Unauthorized"}"#,
//! ).unwrap();
//! assert!(matches!(reply, BrokerReply::CoolingDown { retry_in_ms: 30_000, .. }));
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Endpoint, Error};
use crate::host::Host;
use crate::log::LogRecord;
use crate::policy::RefreshPolicy;
use crate::provider::{Settings, TokenProvider};
use crate::retry::FailureClass;
use crate::secrets::{self, Secrets};
use crate::state::{Cooldown, RequestKey, TokenState};
use crate::token::{ManagementToken, Replacing};

/// How long an isolate waits for the broker before it requests a token itself. A broker that
/// holds a token answers in milliseconds; one that is requesting waits on Auth0 (typically a few
/// hundred milliseconds). Past this, a slow or hung broker costs one login this long, once per
/// isolate and [`BROKER_PAUSE_MS`].
pub const BROKER_TIMEOUT_MS: u64 = 3_000;

/// After the broker could not be reached, an isolate goes to the token endpoint itself for this
/// long before it tries the broker again, so a broken broker does not slow every cold login.
pub const BROKER_PAUSE_MS: u64 = 30_000;

/// The path the isolate calls on the broker's stub.
pub const BROKER_URL: &str = "https://token-broker/token";

/// The broker instance that serves `secrets`: one per domain, client id and audience, so a
/// rotation of any of them addresses a new instance (and a new token).
pub fn instance_name(secrets: &Secrets) -> String {
    format!(
        "{} {} {}",
        secrets.domain().base_url(),
        secrets.client_id(),
        secrets.audience()
    )
}

/// What an isolate sends. It carries the Action's secrets: the broker is a Durable Object of the
/// same Worker, reached only through its binding, and reads no variables of its own (so the
/// per-Action naming of secrets lives only in the runtime).
#[derive(Serialize, Deserialize)]
pub struct BrokerRequest {
    /// `AUTH0_CUSTOM_DOMAIN`.
    pub domain: String,
    /// `CLIENT_ID`.
    pub client_id: String,
    /// `CLIENT_SECRET`.
    pub client_secret: String,
    /// `ACCOUNT_API`.
    pub audience: String,
    /// The token the caller holds and wants replaced (a refresh, or one the Management API
    /// refused). `None`: the caller has no token.
    pub replacing: Option<Replacing>,
}

impl core::fmt::Debug for BrokerRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BrokerRequest")
            .field("domain", &self.domain)
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .field("replacing", &self.replacing)
            .finish_non_exhaustive()
    }
}

impl BrokerRequest {
    /// The request for `secrets`.
    pub fn new(secrets: &Secrets, replacing: Option<Replacing>) -> Self {
        BrokerRequest {
            domain: secrets.domain().base_url().to_owned(),
            client_id: secrets.client_id().to_owned(),
            client_secret: secrets.client_secret().to_owned(),
            audience: secrets.audience().to_owned(),
            replacing,
        }
    }

    /// The secrets it carries, validated as the Action validates its own.
    pub fn secrets(&self) -> crate::Result<Secrets> {
        Secrets::from_lookup(|name| {
            Some(
                match name {
                    secrets::DOMAIN => &self.domain,
                    secrets::CLIENT_ID => &self.client_id,
                    secrets::CLIENT_SECRET => &self.client_secret,
                    _ => &self.audience,
                }
                .clone(),
            )
        })
    }
}

/// What the broker answers.
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BrokerReply {
    /// A usable token (the newest the broker has).
    Token {
        /// The bearer token.
        access_token: String,
        /// When it was issued (ms since epoch).
        issued_at: u64,
        /// Its expiry (ms since epoch).
        expires_at: u64,
    },
    /// No token: the last request failed and the fleet waits `retry_in_ms` before the next.
    CoolingDown {
        /// Time left in the cool-down.
        retry_in_ms: u64,
        /// `transient`, `rate_limited` or `configuration`.
        class: String,
        /// The [`Error::kind`] of the failure.
        kind: String,
        /// HTTP status of the failed answer, if there was one.
        status: Option<u16>,
        /// Auth0's error code, if any.
        code: Option<String>,
        /// What went wrong (never a credential).
        message: String,
    },
    /// The request could not be served (malformed, or secrets that do not validate).
    Refused {
        /// Why.
        message: String,
    },
}

impl core::fmt::Debug for BrokerReply {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BrokerReply::Token { expires_at, .. } => f
                .debug_struct("Token")
                .field("expires_at", expires_at)
                .finish_non_exhaustive(),
            BrokerReply::CoolingDown {
                retry_in_ms,
                class,
                message,
                ..
            } => f
                .debug_struct("CoolingDown")
                .field("retry_in_ms", retry_in_ms)
                .field("class", class)
                .field("message", message)
                .finish_non_exhaustive(),
            BrokerReply::Refused { message } => {
                f.debug_struct("Refused").field("message", message).finish()
            }
        }
    }
}

impl BrokerReply {
    fn token(token: &ManagementToken) -> Self {
        BrokerReply::Token {
            access_token: token.access_token().to_owned(),
            issued_at: token.issued_at_ms(),
            expires_at: token.expires_at_ms(),
        }
    }

    /// The reply for a failed acquisition; `cooldown` is the fleet's pause it started.
    fn failed(error: &Error, cooldown: Option<&Cooldown>, now: u64) -> Self {
        let last = match error {
            Error::CoolingDown { last, .. } => &**last,
            other => other,
        };
        let (status, code, message) = match last {
            Error::Status {
                status,
                code,
                message,
                ..
            } => (Some(*status), code.clone(), message.clone()),
            _ => (None, None, None),
        };
        BrokerReply::CoolingDown {
            retry_in_ms: cooldown.map_or(0, |c| c.until_ms.saturating_sub(now)),
            class: cooldown
                .map_or(FailureClass::Transient, |c| c.class)
                .as_str()
                .to_owned(),
            kind: last.kind().to_owned(),
            status,
            code,
            message: message.unwrap_or_else(|| last.to_string()),
        }
    }
}

/// The broker's refresh policy: the window is the last tenth of the token's life and the broker
/// refreshes at its start (no jitter: it is the only requester). Isolates place their own refresh
/// points after it, so the first isolate to ask past this point finds the broker refreshing.
pub fn settings(mut settings: Settings) -> Settings {
    settings.refresh = RefreshPolicy {
        jitter: 0.0,
        ..settings.refresh
    };
    settings
}

/// One broker instance's memory: the token it holds, its request in flight, its cool-down.
#[derive(Debug, Default)]
pub struct Broker {
    state: TokenState,
    /// Whether the stored failure streak was looked for (once per instance).
    streak_read: core::cell::Cell<bool>,
    /// Whether storage holds a failure streak (to delete after a success).
    streak_stored: core::cell::Cell<bool>,
}

/// The storage key of the broker's failure streak. The streak is kept beside the token so that a
/// broker evicted during a cool-down (nobody calls it until the cool-down ends) continues it: the
/// next failure doubles the cool-down instead of starting again at its first step.
pub const STREAK_KEY: &str = "broker-failure-streak";

/// How long after its cool-down ended a stored streak is kept (a failure later than this starts
/// a new streak).
const STREAK_KEPT_MS: u64 = 10 * 60 * 1000;

/// A cool-down as stored: the reply it gives, and what it takes to go on from it.
#[derive(Serialize, Deserialize)]
struct StoredStreak {
    failures: u32,
    until_ms: u64,
    /// [`crate::token::fingerprint`] of the client secret: a streak never outlives a new secret.
    secret: String,
    reply: BrokerReply,
}

impl Broker {
    /// An empty broker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers one isolate. `host`'s cache is the object's storage.
    pub async fn serve<H: Host>(&self, host: &H, request: &BrokerRequest) -> BrokerReply {
        let secrets = match request.secrets() {
            Ok(secrets) => secrets,
            Err(error) => {
                return BrokerReply::Refused {
                    message: error.to_string(),
                };
            }
        };
        let provider = TokenProvider::new(host, &self.state, &secrets)
            .with_settings(settings(Settings::default()));
        self.read_streak(host, &secrets);
        let wants_newer = |token: &ManagementToken| {
            request
                .replacing
                .as_ref()
                .is_some_and(|held| !held.is_replaced_by_token(token))
        };
        match provider.cached() {
            Some(acquired) if !acquired.refresh_due && !wants_newer(&acquired.token) => {
                host.log(
                    LogRecord::info("broker_served").field("source", acquired.source.as_str()),
                );
                BrokerReply::token(&acquired.token)
            }
            Some(acquired) => {
                // Past the refresh point, or the caller holds this very token and its own
                // refresh point has come: refresh once, for everyone (single-flight, cool-down).
                match self.state.flight(&RequestKey::of(&secrets)) {
                    Some(flight) => drop(flight.wait().await),
                    None => provider.refresh().await,
                }
                let token = provider
                    .cached()
                    .map_or(acquired.token, |newest| newest.token);
                host.log(LogRecord::info("broker_served").field("source", "refresh"));
                BrokerReply::token(&token)
            }
            None => match provider.acquire().await {
                Ok(acquired) => {
                    host.log(
                        LogRecord::info("broker_served").field("source", acquired.source.as_str()),
                    );
                    self.forget_streak(host);
                    BrokerReply::token(&acquired.token)
                }
                Err(error) => {
                    host.log(LogRecord::warn("broker_failed").field("error", error.kind()));
                    let now = host.now_ms();
                    let cooldown = self.state.cooling(&RequestKey::of(&secrets), now);
                    let reply = BrokerReply::failed(&error, cooldown.as_ref(), now);
                    if let Some(cooldown) = &cooldown {
                        self.store_streak(host, &secrets, cooldown, &reply);
                    }
                    reply
                }
            },
        }
    }

    /// Takes up the failure streak a previous instance stored, once per instance.
    fn read_streak<H: Host>(&self, host: &H, secrets: &Secrets) {
        if self.streak_read.replace(true) {
            return;
        }
        let Ok(Some(entry)) = host.cache_get(STREAK_KEY) else {
            return;
        };
        self.streak_stored.set(true);
        let Ok(stored) = serde_json::from_str::<StoredStreak>(&entry.value) else {
            return;
        };
        let key = RequestKey::of(secrets);
        if stored.secret != crate::token::fingerprint(secrets.client_secret())
            || self.state.failures(&key) > 0
        {
            return;
        }
        let now = host.now_ms();
        if let Asked::CoolingDown { error, class, .. } = from_reply(stored.reply, now) {
            self.state.cool_down(Cooldown {
                key,
                until_ms: stored.until_ms,
                failures: stored.failures,
                class,
                error,
            });
            host.log(
                LogRecord::info("broker_streak_restored")
                    .field("failures", stored.failures)
                    .field("retry_in_ms", stored.until_ms.saturating_sub(now)),
            );
        }
    }

    fn store_streak<H: Host>(
        &self,
        host: &H,
        secrets: &Secrets,
        cooldown: &Cooldown,
        reply: &BrokerReply,
    ) {
        let stored = StoredStreak {
            failures: cooldown.failures,
            until_ms: cooldown.until_ms,
            secret: crate::token::fingerprint(secrets.client_secret()),
            reply: reply.clone(),
        };
        let text = serde_json::to_string(&stored).unwrap_or_default();
        let until = cooldown.until_ms.saturating_add(STREAK_KEPT_MS);
        if host.cache_set(STREAK_KEY, &text, until).is_ok() {
            self.streak_stored.set(true);
        }
    }

    fn forget_streak<H: Host>(&self, host: &H) {
        if self.streak_stored.replace(false) {
            let _ = host.cache_delete(STREAK_KEY);
        }
    }

    /// [`Broker::serve`] over JSON, as the Durable Object receives and answers it.
    pub async fn serve_json<H: Host>(&self, host: &H, body: &str) -> String {
        let reply = match serde_json::from_str::<BrokerRequest>(body) {
            Ok(request) => self.serve(host, &request).await,
            Err(_) => BrokerReply::Refused {
                message: "the request is not a broker request".into(),
            },
        };
        // Serializing strings and integers cannot fail.
        serde_json::to_string(&reply).unwrap_or_default()
    }
}

/// What an isolate got from the broker.
#[derive(Debug)]
pub enum Asked {
    /// A token.
    Token(ManagementToken),
    /// The fleet is cooling down after `error`; no request until `until_ms`.
    CoolingDown {
        /// The failure the broker saw.
        error: Error,
        /// Its class.
        class: FailureClass,
        /// When requests may be made again.
        until_ms: u64,
    },
    /// No broker is bound: the isolate requests tokens itself.
    Unbound,
    /// The broker did not answer usefully; the isolate requests the token itself.
    Unavailable(String),
}

/// Asks the broker for a token for `secrets` (one replacing `replacing`, for a refresh or after
/// a refused token), waiting at most `timeout_ms`.
pub async fn ask<H: Host>(
    host: &H,
    state: &TokenState,
    secrets: &Secrets,
    replacing: Option<Replacing>,
    timeout_ms: u64,
) -> Asked {
    let now = host.now_ms();
    if state.broker_paused(now) {
        return Asked::Unavailable("paused after an earlier failure".into());
    }
    let body = serde_json::to_string(&BrokerRequest::new(secrets, replacing)).unwrap_or_default();
    let started = host.now_ms();
    let answer = host
        .call_broker(&instance_name(secrets), &body, timeout_ms)
        .await;
    let Some(answer) = answer else {
        return Asked::Unbound;
    };
    let asked = match answer.map(|text| serde_json::from_str::<BrokerReply>(&text)) {
        Err(reason) => Asked::Unavailable(reason),
        Ok(Err(_)) => Asked::Unavailable("the broker answered something other than a reply".into()),
        Ok(Ok(reply)) => from_reply(reply, host.now_ms()),
    };
    let duration_ms = host.now_ms().saturating_sub(started);
    match &asked {
        Asked::Token(token) => host.log(
            LogRecord::info("broker_token")
                .field("fingerprint", token.fingerprint())
                .field("duration_ms", duration_ms),
        ),
        Asked::CoolingDown { until_ms, .. } => host.log(
            LogRecord::warn("broker_cooling_down")
                .field("retry_in_ms", until_ms.saturating_sub(host.now_ms()))
                .field("duration_ms", duration_ms),
        ),
        Asked::Unavailable(reason) => {
            state.pause_broker(host.now_ms().saturating_add(BROKER_PAUSE_MS));
            host.log(
                LogRecord::warn("broker_unavailable")
                    .field("reason", reason.as_str())
                    .field("duration_ms", duration_ms)
                    .field("fallback", "token_endpoint"),
            );
        }
        Asked::Unbound => {}
    }
    asked
}

fn from_reply(reply: BrokerReply, now: u64) -> Asked {
    match reply {
        BrokerReply::Token {
            access_token,
            issued_at,
            expires_at,
        } if !access_token.is_empty() && expires_at > now => Asked::Token(
            ManagementToken::from_parts(access_token, issued_at, expires_at),
        ),
        BrokerReply::Token { .. } => Asked::Unavailable("the broker's token has expired".into()),
        BrokerReply::CoolingDown {
            retry_in_ms,
            class,
            kind,
            status,
            code,
            message,
        } => {
            let error = match (status, kind.as_str()) {
                (Some(status), _) => Error::Status {
                    endpoint: Endpoint::Token,
                    status,
                    code,
                    message: Some(message),
                },
                (None, "transport") => Error::Transport {
                    endpoint: Endpoint::Token,
                    reason: message,
                },
                (None, kind) => Error::Brokered {
                    kind: match kind {
                        "invalid_token" => "invalid_token",
                        "secret" => "secret",
                        _ => "broker",
                    },
                    message,
                },
            };
            let class = match class.as_str() {
                "transient" => FailureClass::Transient,
                "rate_limited" => FailureClass::RateLimited {
                    reset_at_ms: Some(now.saturating_add(retry_in_ms)),
                },
                _ => FailureClass::Configuration,
            };
            Asked::CoolingDown {
                error,
                class,
                until_ms: now.saturating_add(retry_in_ms),
            }
        }
        BrokerReply::Refused { message } => Asked::Unavailable(format!("refused: {message}")),
    }
}
