//! One execution of the Action: configuration, the token, the optional roles claim, and what
//! the host must do afterwards (deny, set claims, refresh in the background).

use crate::action::{OnTokenError, Outcome, Settings, TokenProvider};
use crate::error::Result;
use crate::host::Host;
use crate::log::LogRecord;
use crate::management::{ManagementClient, role_names};
use crate::secrets::Secrets;

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
    /// Call `api.access.deny` with [`crate::action::DENY_REASON`].
    pub deny: bool,
    /// Set this claim (name, role names) on the ID and access tokens.
    pub roles_claim: Option<(String, Vec<String>)>,
    /// Run [`TokenProvider::refresh`] in the background.
    pub refresh_due: bool,
}

/// Runs the Action for one login.
pub async fn execute<H: Host>(
    provider: &TokenProvider<'_, H>,
    secrets: &Result<Secrets>,
    config: &Config,
    user_id: Option<&str>,
) -> Effects {
    let mut effects = Effects::default();
    let acquired = match provider
        .on_execute_post_login(secrets.clone(), config.on_error)
        .await
    {
        Outcome::Token(acquired) => acquired,
        Outcome::Continue(_) => return effects,
        Outcome::Deny(_) => {
            effects.deny = true;
            return effects;
        }
    };
    effects.refresh_due = acquired.refresh_due;
    let (Some(claim), Ok(secrets)) = (&config.roles_claim, secrets) else {
        return effects;
    };
    let host = provider.host();
    let roles = match user_id {
        Some(user_id) => ManagementClient::new(provider, secrets)
            .user_roles(user_id)
            .await
            .map(|roles| role_names(&roles)),
        None => Err(crate::Error::InvalidArgument(
            "event.user.user_id is missing",
        )),
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
