//! Cache policy: what the Action stores under [`CACHE_KEY`], until when, and whether a stored
//! record may serve a login.
//!
//! A record is bound to the domain, client id and audience it was issued for, so rotating any of
//! them never serves the old token. It is stored until the earlier of [`MAX_CACHE_LIFETIME_MS`]
//! from now (the seed's 86,000 s) and the token's expiry minus a safety margin, so with Auth0's
//! default 86,400 s tokens it lives exactly 86,000 s, and with shorter tokens never past expiry.
//!
//! Before that hard limit a token enters its *refresh window* ([`RefreshPolicy`]): it still
//! serves logins, and one background request replaces it.

use serde::{Deserialize, Serialize};

use crate::secrets::Secrets;
use crate::token::ManagementToken;

/// The `api.cache` key, as in the seed Action.
pub const CACHE_KEY: &str = "M2M";

/// Longest time a token is kept: 86,000 s, 400 s short of Auth0's default token lifetime.
pub const MAX_CACHE_LIFETIME_MS: u64 = 86_000_000;

/// Smallest safety margin before a token's expiry. It covers clock skew between the Worker and
/// Auth0 and a Management API call that starts just before expiry.
pub const MIN_SAFETY_MARGIN_MS: u64 = 10_000;

/// Largest safety margin before a token's expiry (5 minutes, as Google's and AWS's SDKs use).
pub const MAX_SAFETY_MARGIN_MS: u64 = 300_000;

/// Version of the record layout; a record of another version is treated as a miss.
const RECORD_VERSION: u8 = 1;

/// The safety margin for a token that has `lifetime_ms` left: a tenth of it, clamped to
/// [`MIN_SAFETY_MARGIN_MS`]..=[`MAX_SAFETY_MARGIN_MS`].
pub fn safety_margin_ms(lifetime_ms: u64) -> u64 {
    (lifetime_ms / 10).clamp(MIN_SAFETY_MARGIN_MS, MAX_SAFETY_MARGIN_MS)
}

/// Until when a token received at `now_ms` may be used from the cache, or `None` when its
/// lifetime is too short to be worth caching (it is still used for the current login).
pub fn use_until_ms(token: &ManagementToken, now_ms: u64) -> Option<u64> {
    let expires_at = token.expires_at_ms();
    let lifetime = expires_at.checked_sub(now_ms)?;
    let until = expires_at
        .saturating_sub(safety_margin_ms(lifetime))
        .min(now_ms.saturating_add(MAX_CACHE_LIFETIME_MS));
    (until > now_ms).then_some(until)
}

/// When a token starts to be refreshed in the background.
///
/// The window is the last `window_percent` of the token's lifetime (at least `min_window_ms`,
/// never more than half the lifetime), so a token is replaced late in its life — about 90 % of
/// it — leaving the rest for retries and KV's visibility delay: one request per lifetime, even
/// for short tokens. Each isolate picks its refresh point at random in the first `jitter` share
/// of the window, so isolates do not all ask at once; the broker uses no jitter and refreshes at
/// the window's start, ahead of every isolate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RefreshPolicy {
    /// Share of the lifetime, in percent, that forms the window (default 10).
    pub window_percent: u64,
    /// Smallest window (default 0: the window scales with the lifetime).
    pub min_window_ms: u64,
    /// Share of the window over which refresh points are spread (default 0.5).
    pub jitter: f64,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy {
            window_percent: 10,
            min_window_ms: 0,
            jitter: 0.5,
        }
    }
}

impl RefreshPolicy {
    /// Start of the refresh window of a token cached until `use_until_ms`.
    ///
    /// Measured back from the token's expiry; when that would start after `use_until_ms` (tokens
    /// living longer than the 86,000 s cache limit), measured back from `use_until_ms` over the
    /// usable span instead, so every cached token gets a window.
    pub fn window_start_ms(&self, token: &ManagementToken, use_until_ms: u64) -> u64 {
        let window_of = |span: u64| {
            (span / 100 * self.window_percent.min(100))
                .max(self.min_window_ms)
                .max(1)
                .min(span / 2)
        };
        let lifetime = token.expires_at_ms().saturating_sub(token.issued_at_ms());
        let start = token.expires_at_ms().saturating_sub(window_of(lifetime));
        if start < use_until_ms {
            return start;
        }
        let usable = use_until_ms.saturating_sub(token.issued_at_ms());
        use_until_ms.saturating_sub(window_of(usable))
    }

    /// This isolate's refresh point: `random` in `[0, 1)` places it in the first
    /// [`RefreshPolicy::jitter`] share of the window.
    pub fn refresh_at_ms(&self, token: &ManagementToken, use_until_ms: u64, random: f64) -> u64 {
        let start = self.window_start_ms(token, use_until_ms);
        let span = use_until_ms.saturating_sub(start) as f64;
        start + (span * self.jitter.clamp(0.0, 1.0) * random.clamp(0.0, 1.0)) as u64
    }
}

/// The JSON value stored under [`CACHE_KEY`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedToken {
    v: u8,
    domain: String,
    client_id: String,
    audience: String,
    access_token: String,
    /// When the token was received (ms since epoch).
    issued_at: u64,
    /// The token's own expiry (ms since epoch).
    expires_at: u64,
    /// Last instant the record may serve a login (ms since epoch).
    use_until: u64,
}

impl core::fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CachedToken")
            .field("domain", &self.domain)
            .field("client_id", &self.client_id)
            .field("audience", &self.audience)
            .field(
                "fingerprint",
                &crate::token::fingerprint(&self.access_token),
            )
            .field("expires_at", &self.expires_at)
            .field("use_until", &self.use_until)
            .finish()
    }
}

/// Why a cached value did not serve the login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// Nothing under the key.
    Empty,
    /// The value is not a record this version wrote (corrupt, foreign or older layout).
    Unreadable,
    /// The record was issued for another domain, client id or audience.
    OtherIdentity,
    /// The record is inside the safety margin or past its expiry.
    Expired,
}

impl Miss {
    /// The name used in log lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Miss::Empty => "empty",
            Miss::Unreadable => "unreadable",
            Miss::OtherIdentity => "other_identity",
            Miss::Expired => "expired",
        }
    }
}

impl CachedToken {
    /// A record for `token`, issued for `secrets`, usable until `use_until_ms`.
    pub fn new(secrets: &Secrets, token: &ManagementToken, use_until_ms: u64) -> Self {
        CachedToken {
            v: RECORD_VERSION,
            domain: secrets.domain().base_url().to_owned(),
            client_id: secrets.client_id().to_owned(),
            audience: secrets.audience().to_owned(),
            access_token: token.access_token().to_owned(),
            issued_at: token.issued_at_ms(),
            expires_at: token.expires_at_ms(),
            use_until: use_until_ms,
        }
    }

    /// Last instant the record may serve a login.
    pub fn use_until_ms(&self) -> u64 {
        self.use_until
    }

    /// The JSON stored in the cache.
    pub fn to_json(&self) -> String {
        // Serializing a struct of strings and integers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a stored value and decides whether it may serve a login for `secrets` at `now_ms`;
    /// if so, returns the token and the record's last usable instant.
    pub fn usable(
        value: &str,
        secrets: &Secrets,
        now_ms: u64,
    ) -> Result<(ManagementToken, u64), Miss> {
        let record: CachedToken = serde_json::from_str(value).map_err(|_| Miss::Unreadable)?;
        if record.v != RECORD_VERSION || record.access_token.is_empty() {
            return Err(Miss::Unreadable);
        }
        if record.domain != secrets.domain().base_url()
            || record.client_id != secrets.client_id()
            || record.audience != secrets.audience()
        {
            return Err(Miss::OtherIdentity);
        }
        if now_ms >= record.use_until || now_ms >= record.expires_at {
            return Err(Miss::Expired);
        }
        let token =
            ManagementToken::from_parts(record.access_token, record.issued_at, record.expires_at);
        // A record never serves past its token's own expiry, whatever `use_until` says.
        Ok((token, record.use_until.min(record.expires_at)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000;

    fn secrets(client_id: &str, audience: &str, domain: &str) -> Secrets {
        Secrets::from_lookup(|name| {
            Some(
                match name {
                    crate::secrets::DOMAIN => domain,
                    crate::secrets::CLIENT_ID => client_id,
                    crate::secrets::CLIENT_SECRET => "s",
                    _ => audience,
                }
                .to_owned(),
            )
        })
        .unwrap()
    }

    fn token(lifetime_ms: u64) -> ManagementToken {
        ManagementToken::from_parts("h.p.s".into(), NOW, NOW + lifetime_ms)
    }

    #[test]
    fn default_auth0_token_is_cached_for_exactly_86000_seconds() {
        assert_eq!(
            use_until_ms(&token(86_400_000), NOW),
            Some(NOW + 86_000_000)
        );
    }

    #[test]
    fn short_tokens_are_never_cached_past_expiry() {
        // 600 s token: margin 60 s.
        assert_eq!(use_until_ms(&token(600_000), NOW), Some(NOW + 540_000));
        // 90 s token: margin floors at 10 s.
        assert_eq!(use_until_ms(&token(90_000), NOW), Some(NOW + 80_000));
        // 2 h token: margin caps at 5 min.
        assert_eq!(
            use_until_ms(&token(7_200_000), NOW),
            Some(NOW + 7_200_000 - 300_000)
        );
        // Too short to be worth caching, or already expired.
        assert_eq!(use_until_ms(&token(10_000), NOW), None);
        assert_eq!(
            use_until_ms(
                &ManagementToken::from_parts("t".into(), NOW - 10, NOW - 1),
                NOW
            ),
            None
        );
    }

    #[test]
    fn a_record_serves_its_own_identity_until_use_until() {
        let s = secrets("cid", "aud", "tenant.auth0.com");
        let json = CachedToken::new(&s, &token(86_400_000), NOW + 86_000_000).to_json();
        let (t, use_until) = CachedToken::usable(&json, &s, NOW + 1).unwrap();
        assert_eq!(use_until, NOW + 86_000_000);
        assert_eq!(t.access_token(), "h.p.s");
        assert_eq!(t.expires_at_ms(), NOW + 86_400_000);
        assert_eq!(
            CachedToken::usable(&json, &s, NOW + 86_000_000),
            Err(Miss::Expired)
        );
    }

    #[test]
    fn rotating_client_id_audience_or_domain_never_serves_the_old_token() {
        let s = secrets("cid", "aud", "tenant.auth0.com");
        let json = CachedToken::new(&s, &token(86_400_000), NOW + 86_000_000).to_json();
        for other in [
            secrets("cid2", "aud", "tenant.auth0.com"),
            secrets("cid", "aud2", "tenant.auth0.com"),
            secrets("cid", "aud", "login.example.com"),
        ] {
            assert_eq!(
                CachedToken::usable(&json, &other, NOW),
                Err(Miss::OtherIdentity)
            );
        }
    }

    #[test]
    fn foreign_or_corrupt_values_are_misses() {
        let s = secrets("cid", "aud", "tenant.auth0.com");
        for value in [
            "",
            "eyJhbGciOi.x.y",
            "{}",
            "{\"v\":2,\"domain\":\"https://tenant.auth0.com\",\"client_id\":\"cid\",\"audience\":\"aud\",\"access_token\":\"t\",\"issued_at\":1,\"expires_at\":9999999999999,\"use_until\":9999999999999}",
            "{\"v\":1,\"domain\":\"https://tenant.auth0.com\",\"client_id\":\"cid\",\"audience\":\"aud\",\"access_token\":\"\",\"issued_at\":1,\"expires_at\":9999999999999,\"use_until\":9999999999999}",
        ] {
            assert_eq!(
                CachedToken::usable(value, &s, NOW),
                Err(Miss::Unreadable),
                "{value}"
            );
        }
    }

    #[test]
    fn refresh_window_is_the_last_tenth_of_the_life() {
        let policy = RefreshPolicy::default();
        // 24 h token: last 2.4 h (refreshed at 90 % of its life).
        let day = token(86_400_000);
        assert_eq!(
            policy.window_start_ms(&day, NOW + 86_000_000),
            NOW + 86_400_000 - 8_640_000
        );
        // 1 h token: 10 % is 6 min.
        let hour = token(3_600_000);
        assert_eq!(
            policy.window_start_ms(&hour, NOW + 3_300_000),
            NOW + 3_600_000 - 360_000
        );
        // 20 min token: its last 2 min fall inside the safety margin, so the window is the last
        // tenth of the usable span (108 s before use_until: 81 % of the life).
        let twenty = token(1_200_000);
        assert_eq!(
            policy.window_start_ms(&twenty, NOW + 1_080_000),
            NOW + 972_000
        );
        // 90 s token: late in its life too (not at half of it).
        let short = token(90_000);
        assert_eq!(policy.window_start_ms(&short, NOW + 80_000), NOW + 72_000);
        // 48 h token: cached only 86,000 s, so the window is a tenth of that, before it ends.
        let long = token(172_800_000);
        assert_eq!(
            policy.window_start_ms(&long, NOW + 86_000_000),
            NOW + 86_000_000 - 8_600_000
        );
        // A minimum window still applies when configured, never past half the life.
        let floored = RefreshPolicy {
            min_window_ms: 300_000,
            ..policy
        };
        assert_eq!(floored.window_start_ms(&short, NOW + 80_000), NOW + 45_000);
    }

    #[test]
    fn jitter_places_the_refresh_point_in_the_first_half_of_the_window() {
        let policy = RefreshPolicy::default();
        let short = token(90_000);
        let use_until = NOW + 80_000;
        assert_eq!(policy.refresh_at_ms(&short, use_until, 0.0), NOW + 72_000);
        assert_eq!(
            policy.refresh_at_ms(&short, use_until, 0.999_999),
            NOW + 75_999
        );
        assert_eq!(policy.refresh_at_ms(&short, use_until, 7.0), NOW + 76_000);
        // The broker's policy: no jitter, the window's start.
        let broker = RefreshPolicy {
            jitter: 0.0,
            ..policy
        };
        assert_eq!(broker.refresh_at_ms(&short, use_until, 0.9), NOW + 72_000);
    }

    #[test]
    fn record_debug_hides_the_token() {
        let s = secrets("cid", "aud", "tenant.auth0.com");
        let record = CachedToken::new(&s, &token(1_000_000), NOW + 1);
        assert!(!format!("{record:?}").contains("h.p.s"));
    }
}
