//! One execution of the Action: its inputs (secrets and configuration), the token, what a
//! login does without one (continue or deny), the optional roles claim, and what the host must
//! do afterwards (deny, set claims, refresh in the background).

use crate::error::{Error, Result};
use crate::host::Host;
use crate::log::LogRecord;
use crate::management::{ManagementClient, role_names};
use crate::provider::{Acquired, Settings, TokenProvider};
use crate::secrets::Secrets;
use crate::state::TokenState;

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

/// What the Action decided about the token for one login.
#[derive(Debug)]
pub enum Outcome {
    /// A usable token; the login continues.
    Token(Acquired),
    /// No token; the login continues (the error was logged).
    Continue(Error),
    /// No token; the login must be denied with [`DENY_REASON`] (the error was logged).
    Deny(Error),
}

/// What the Action reads from `event.secrets` and `event.configuration`, decoded once per
/// settings object (see [`crate::isolate::Isolate::inputs`]).
#[derive(Debug)]
pub struct Inputs {
    /// The secrets, or why they are unusable.
    pub secrets: Result<Secrets>,
    /// The configuration (invalid values already replaced by defaults and logged).
    pub config: Config,
}

/// The login's token: on failure, the error is logged and `on_error` applied.
pub async fn login_token<H: Host>(
    host: &H,
    state: &TokenState,
    secrets: &Result<Secrets>,
    config: &Config,
) -> Outcome {
    let result = match secrets {
        Ok(secrets) => {
            TokenProvider::new(host, state, secrets)
                .with_settings(config.settings)
                .acquire()
                .await
        }
        Err(error) => Err(error.clone()),
    };
    let error = match result {
        Ok(acquired) => return Outcome::Token(acquired),
        Err(error) => error,
    };
    let on_error = config.on_error;
    let mut record = LogRecord::error("token_error")
        .field("error", error.kind())
        .field("message", error.to_string())
        .field("on_token_error", on_error.as_str());
    if let Some(cause) = error.likely_cause() {
        record = record.field("likely_cause", cause);
    }
    host.log(record);
    match on_error {
        OnTokenError::Continue => Outcome::Continue(error),
        OnTokenError::Deny => Outcome::Deny(error),
    }
}

/// Configuration names (`event.configuration`).
pub mod names {
    /// `continue` or `deny`.
    pub const ON_TOKEN_ERROR: &str = "ON_TOKEN_ERROR";
    /// Claim name for the user's roles, e.g. `https://example.com/roles`; unset = off.
    pub const ROLES_CLAIM: &str = "ROLES_CLAIM";
    /// Refresh window as a percentage of the token lifetime.
    pub const TOKEN_REFRESH_WINDOW_PERCENT: &str = "TOKEN_REFRESH_WINDOW_PERCENT";
    /// Smallest refresh window, in seconds.
    pub const TOKEN_REFRESH_MIN_SECONDS: &str = "TOKEN_REFRESH_MIN_SECONDS";
    /// Time budget of one token acquisition (all retries), in milliseconds.
    pub const TOKEN_REQUEST_BUDGET_MS: &str = "TOKEN_REQUEST_BUDGET_MS";
    /// Every name the Action reads from `event.configuration`.
    pub const ALL: [&str; 5] = [
        ON_TOKEN_ERROR,
        ROLES_CLAIM,
        TOKEN_REFRESH_WINDOW_PERCENT,
        TOKEN_REFRESH_MIN_SECONDS,
        TOKEN_REQUEST_BUDGET_MS,
    ];
}

/// The Action's non-secret configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// What a login does when no token can be had.
    pub on_error: OnTokenError,
    /// Claim that receives the user's role names, if enabled.
    pub roles_claim: Option<String>,
    /// Token lifecycle settings.
    pub settings: Settings,
}

impl Config {
    /// Reads the configuration. Invalid values are logged as `config_invalid` and replaced by
    /// their default (for `ON_TOKEN_ERROR`: `deny`, see [`OnTokenError::parse`]).
    pub fn from_lookup(
        mut lookup: impl FnMut(&'static str) -> Option<String>,
        log: impl Fn(LogRecord),
    ) -> Self {
        let mut config = Config::default();
        let invalid = |name: &'static str, expected: &'static str| {
            log(LogRecord::error("config_invalid")
                .field("setting", name)
                .field("message", expected));
        };
        config.on_error = OnTokenError::parse(lookup(names::ON_TOKEN_ERROR).as_deref())
            .unwrap_or_else(|fallback| {
                invalid(
                    names::ON_TOKEN_ERROR,
                    "must be \"continue\" or \"deny\"; applying \"deny\"",
                );
                fallback
            });
        config.roles_claim = lookup(names::ROLES_CLAIM)
            .map(|claim| claim.trim().to_owned())
            .filter(|claim| !claim.is_empty());
        let mut number = |name: &'static str, range: core::ops::RangeInclusive<u64>| {
            let value = lookup(name)?;
            match value.trim().parse::<u64>() {
                Ok(n) if range.contains(&n) => Some(n),
                _ => {
                    invalid(name, "must be a whole number in range; using the default");
                    None
                }
            }
        };
        if let Some(percent) = number(names::TOKEN_REFRESH_WINDOW_PERCENT, 1..=50) {
            config.settings.refresh.window_percent = percent;
        }
        if let Some(seconds) = number(names::TOKEN_REFRESH_MIN_SECONDS, 0..=86_400) {
            config.settings.refresh.min_window_ms = seconds * 1000;
        }
        if let Some(ms) = number(names::TOKEN_REQUEST_BUDGET_MS, 100..=15_000) {
            config.settings.retry.budget_ms = ms;
        }
        config
    }
}

/// What the host does after the Action ran.
#[derive(Debug, Default, PartialEq)]
pub struct Effects {
    /// Call `api.access.deny` with [`DENY_REASON`].
    pub deny: bool,
    /// Set this claim (name, role names) on the ID and access tokens.
    pub roles_claim: Option<(String, Vec<String>)>,
    /// Run [`TokenProvider::refresh`] in the background.
    pub refresh_due: bool,
}

/// Runs the Action for one login.
pub async fn execute<H: Host>(
    host: &H,
    state: &TokenState,
    inputs: &Inputs,
    user_id: Option<&str>,
) -> Effects {
    let mut effects = Effects::default();
    let config = &inputs.config;
    let acquired = match login_token(host, state, &inputs.secrets, config).await {
        Outcome::Token(acquired) => acquired,
        Outcome::Continue(_) => return effects,
        Outcome::Deny(_) => {
            effects.deny = true;
            return effects;
        }
    };
    effects.refresh_due = acquired.refresh_due;
    let (Some(claim), Ok(secrets)) = (&config.roles_claim, &inputs.secrets) else {
        return effects;
    };
    let provider = TokenProvider::new(host, state, secrets).with_settings(config.settings);
    let roles = match user_id {
        Some(user_id) => ManagementClient::new(&provider)
            .user_roles(user_id)
            .await
            .map(|roles| role_names(&roles)),
        None => Err(Error::InvalidArgument("event.user.user_id is missing")),
    };
    match roles {
        Ok(names) => {
            host.log(
                LogRecord::info("roles_claim_set")
                    .field("claim", claim.as_str())
                    .field("roles", names.len()),
            );
            effects.roles_claim = Some((claim.clone(), names));
        }
        Err(error) => {
            host.log(
                LogRecord::error("roles_claim_failed")
                    .field("error", error.kind())
                    .field("message", error.to_string()),
            );
            effects.deny = config.on_error == OnTokenError::Deny;
        }
    }
    effects
}
