//! The post-login Action: find a usable Management API token in the trigger cache, or request
//! one by the client-credentials grant, validate it, and cache it.

use crate::error::{Error, Result};
use crate::host::{ActionCache, Clock, HttpClient, Logger};
use crate::log::LogRecord;
use crate::policy::{self, CACHE_KEY, CachedToken};
use crate::secrets::Secrets;
use crate::token::{self, ManagementToken};

/// Name of the setting that decides what a login does when no token can be had.
pub const ON_TOKEN_ERROR: &str = "ON_TOKEN_ERROR";

/// The reason given to `api.access.deny` under [`OnTokenError::Deny`]. Deliberately generic: the
/// user sees it, the operator finds the cause in the logs.
pub const DENY_REASON: &str = "Login is temporarily unavailable. Please try again later.";

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

/// What the Action decided for one login.
#[derive(Debug)]
pub enum Outcome {
    /// A usable token; the login continues.
    Token(ManagementToken),
    /// No token; the login continues (the error was logged).
    Continue(Error),
    /// No token; the login must be denied with [`DENY_REASON`] (the error was logged).
    Deny(Error),
}

/// Finds or obtains the Management API token over a host.
#[derive(Debug)]
pub struct TokenProvider<'h, H> {
    host: &'h H,
}

impl<'h, H> TokenProvider<'h, H>
where
    H: Clock + HttpClient + ActionCache + Logger,
{
    /// A provider over `host`.
    pub fn new(host: &'h H) -> Self {
        TokenProvider { host }
    }

    /// Runs the Action for one login: get a token, and on failure log it and apply `on_error`.
    pub async fn on_execute_post_login(
        &self,
        secrets: Result<Secrets>,
        on_error: OnTokenError,
    ) -> Outcome {
        let result = match secrets {
            Ok(secrets) => self.token(&secrets).await,
            Err(error) => Err(error),
        };
        match result {
            Ok(token) => Outcome::Token(token),
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

    /// A token usable now: from the cache when a record for these secrets is fresh, otherwise
    /// from the token endpoint (then cached). Every step is logged.
    pub async fn token(&self, secrets: &Secrets) -> Result<ManagementToken> {
        if let Some(token) = self.cached(secrets) {
            return Ok(token);
        }
        let token = self.request(secrets).await?;
        self.store(secrets, &token);
        Ok(token)
    }

    fn cached(&self, secrets: &Secrets) -> Option<ManagementToken> {
        let now = self.host.now_ms();
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
                Ok(token) => {
                    self.host.log(
                        LogRecord::info("cache_hit")
                            .field("fingerprint", token.fingerprint())
                            .field(
                                "expires_in_s",
                                entry
                                    .expires_at_ms
                                    .min(token.expires_at_ms())
                                    .saturating_sub(now)
                                    / 1000,
                            ),
                    );
                    return Some(token);
                }
                Err(miss) => miss,
            },
        };
        self.host
            .log(LogRecord::info("cache_miss").field("reason", miss.as_str()));
        None
    }

    async fn request(&self, secrets: &Secrets) -> Result<ManagementToken> {
        let url = secrets.domain().token_url();
        let started = self.host.now_ms();
        let answer = self
            .host
            .post_json(&url, secrets.token_request_body())
            .await;
        let now = self.host.now_ms();
        let duration_ms = now.saturating_sub(started);
        let response = match answer {
            Ok(response) => response,
            Err(reason) => {
                self.host.log(
                    LogRecord::error("token_request")
                        .field("url", url)
                        .field("outcome", "no_response")
                        .field("error", reason.clone())
                        .field("duration_ms", duration_ms),
                );
                return Err(Error::Transport(reason));
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
                .field("status", response.status)
                .field("duration_ms", duration_ms),
        );
        if response.status != 200 {
            return Err(token::endpoint_error(response.status, &response.body));
        }
        match token::parse_token_response(&response.body, secrets.audience(), now) {
            Ok(token) => {
                self.host.log(
                    LogRecord::info("token_valid")
                        .field("fingerprint", token.fingerprint())
                        .field(
                            "expires_in_s",
                            token.expires_at_ms().saturating_sub(now) / 1000,
                        ),
                );
                Ok(token)
            }
            Err(error) => {
                self.host
                    .log(LogRecord::error("token_invalid").field("message", error.to_string()));
                Err(error)
            }
        }
    }

    fn store(&self, secrets: &Secrets, token: &ManagementToken) {
        let now = self.host.now_ms();
        let Some(use_until) = policy::use_until_ms(token, now) else {
            self.host.log(
                LogRecord::warn("cache_write_skipped")
                    .field("reason", "token lifetime shorter than its safety margin"),
            );
            return;
        };
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
