//! Retries inside a time budget, and the cool-downs that follow failures (the negative cache).
//!
//! - Network errors and 5xx: exponential backoff with full jitter, while the next attempt can
//!   still start inside the budget.
//! - 429: wait for `Retry-After`, else `x-ratelimit-reset`, if that fits in the budget; else stop.
//! - 400/401/403 and invalid tokens: no retry — they are configuration problems.
//!
//! After a request finally fails, the identity cools down: no request is made until the
//! cool-down ends, so an outage or a wrong secret never becomes a request storm.

use crate::error::Error;
use crate::host::HttpResponse;

/// Retry and cool-down settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total time one token acquisition may take, all attempts and waits included (default 5 s;
    /// Auth0 gives a whole trigger 20 s).
    pub budget_ms: u64,
    /// Most attempts per acquisition.
    pub max_attempts: u32,
    /// First backoff ceiling; doubles per retry.
    pub backoff_base_ms: u64,
    /// Largest backoff ceiling.
    pub backoff_cap_ms: u64,
    /// First cool-down after a configuration failure (400/401/403, invalid token); doubles.
    pub config_cooldown_ms: (u64, u64),
    /// First cool-down after transient failures (5xx, network) exhausted the retries; doubles.
    pub transient_cooldown_ms: (u64, u64),
    /// Cool-down after a 429 that named no reset time (a named reset is honoured up to the
    /// configuration cool-down's maximum).
    pub rate_limit_default_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            budget_ms: 5_000,
            max_attempts: 4,
            backoff_base_ms: 250,
            backoff_cap_ms: 2_000,
            config_cooldown_ms: (30_000, 300_000),
            transient_cooldown_ms: (2_000, 60_000),
            rate_limit_default_ms: 30_000,
        }
    }
}

/// How a failed attempt should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// Worth retrying soon (network error, 5xx, 408).
    Transient,
    /// Rate limited; `reset_at_ms` when Auth0 said when to come back.
    RateLimited {
        /// When the limit resets, if the response said.
        reset_at_ms: Option<u64>,
    },
    /// Retrying cannot help (400/401/403, invalid token, bad secrets).
    Configuration,
}

impl FailureClass {
    /// Classifies a failed acquisition (`response` is the last HTTP answer, if any).
    pub fn of(error: &Error, response: Option<&HttpResponse>, now_ms: u64) -> Self {
        match error {
            Error::Transport { .. } => FailureClass::Transient,
            Error::Status { status: 429, .. } => FailureClass::RateLimited {
                reset_at_ms: response.and_then(|r| rate_limit_reset_ms(r, now_ms)),
            },
            Error::Status { status, .. } if *status >= 500 || *status == 408 => {
                FailureClass::Transient
            }
            _ => FailureClass::Configuration,
        }
    }

    /// The name used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Transient => "transient",
            FailureClass::RateLimited { .. } => "rate_limited",
            FailureClass::Configuration => "configuration",
        }
    }
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (0 for the first retry): uniform in
    /// `[0, min(cap, base·2^retry))` — "full jitter".
    pub fn backoff_ms(&self, retry: u32, random: f64) -> u64 {
        let ceiling = self
            .backoff_base_ms
            .saturating_mul(1u64 << retry.min(20))
            .min(self.backoff_cap_ms);
        // `min`: float rounding must never push a huge ceiling over itself.
        ((ceiling as f64 * random.clamp(0.0, 1.0)) as u64).min(ceiling)
    }

    /// How long the identity cools down after its `failures`-th consecutive failure (1-based).
    pub fn cooldown_ms(&self, class: FailureClass, failures: u32, now_ms: u64) -> u64 {
        let doubling = |(start, max): (u64, u64)| {
            start
                .saturating_mul(1u64 << failures.saturating_sub(1).min(20))
                .min(max)
        };
        match class {
            FailureClass::Configuration => doubling(self.config_cooldown_ms),
            FailureClass::Transient => doubling(self.transient_cooldown_ms),
            // Capped like configuration failures: a hostile or broken `Retry-After` must not
            // pause token requests for days.
            FailureClass::RateLimited { reset_at_ms } => reset_at_ms
                .map(|reset| reset.saturating_sub(now_ms))
                .filter(|ms| *ms > 0)
                .unwrap_or(self.rate_limit_default_ms)
                .min(self.config_cooldown_ms.1),
        }
    }
}

/// When a rate limit resets, from `Retry-After` (seconds or an HTTP date) or else
/// `x-ratelimit-reset` (Unix seconds), as milliseconds since the epoch.
pub fn rate_limit_reset_ms(response: &HttpResponse, now_ms: u64) -> Option<u64> {
    if let Some(value) = response.header("retry-after") {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(now_ms.saturating_add(seconds.saturating_mul(1000)));
        }
        if let Some(at) = parse_http_date(value) {
            return Some(at);
        }
    }
    let reset = response
        .header("x-ratelimit-reset")?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(reset.saturating_mul(1000))
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, or the obsolete forms RFC 9110 still
/// accepts) as ms since the epoch.
fn parse_http_date(text: &str) -> Option<u64> {
    let at = httpdate::parse_http_date(text).ok()?;
    let since_epoch = at.duration_since(std::time::UNIX_EPOCH).ok()?;
    u64::try_from(since_epoch.as_millis()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_headers(headers: &[(&str, &str)]) -> HttpResponse {
        HttpResponse {
            status: 429,
            body: String::new(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_capped_ceiling() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff_ms(0, 0.0), 0);
        assert_eq!(p.backoff_ms(0, 0.5), 125);
        assert_eq!(p.backoff_ms(1, 0.5), 250);
        assert_eq!(p.backoff_ms(2, 0.999), 999);
        assert_eq!(p.backoff_ms(10, 0.5), 1000);
        assert_eq!(p.backoff_ms(u32::MAX, 1.0), 2000);
    }

    #[test]
    fn cooldowns_double_to_their_caps() {
        let p = RetryPolicy::default();
        let config: Vec<u64> = (1..=6)
            .map(|n| p.cooldown_ms(FailureClass::Configuration, n, 0))
            .collect();
        assert_eq!(config, [30_000, 60_000, 120_000, 240_000, 300_000, 300_000]);
        let transient: Vec<u64> = (1..=7)
            .map(|n| p.cooldown_ms(FailureClass::Transient, n, 0))
            .collect();
        assert_eq!(
            transient,
            [2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        );
    }

    #[test]
    fn rate_limit_cooldown_lasts_until_the_reset() {
        let p = RetryPolicy::default();
        let limited = |reset_at_ms| FailureClass::RateLimited { reset_at_ms };
        assert_eq!(p.cooldown_ms(limited(Some(17_000)), 1, 10_000), 7_000);
        assert_eq!(p.cooldown_ms(limited(Some(5_000)), 1, 10_000), 30_000);
        assert_eq!(p.cooldown_ms(limited(None), 3, 10_000), 30_000);
    }

    #[test]
    fn reset_time_prefers_retry_after_then_x_ratelimit_reset() {
        let now = 1_700_000_000_000;
        assert_eq!(
            rate_limit_reset_ms(
                &with_headers(&[("retry-after", "3"), ("x-ratelimit-reset", "1")]),
                now
            ),
            Some(now + 3000)
        );
        assert_eq!(
            rate_limit_reset_ms(&with_headers(&[("x-ratelimit-reset", "1700000009")]), now),
            Some(1_700_000_009_000)
        );
        assert_eq!(
            rate_limit_reset_ms(
                &with_headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]),
                now
            ),
            Some(784_111_777_000)
        );
        assert_eq!(
            rate_limit_reset_ms(&with_headers(&[("retry-after", "soon")]), now),
            None
        );
        assert_eq!(rate_limit_reset_ms(&with_headers(&[]), now), None);
    }

    #[test]
    fn classification_follows_the_status() {
        let endpoint = |status| Error::Status {
            endpoint: crate::error::Endpoint::Token,
            status,
            code: None,
            message: None,
        };
        let transport = Error::Transport {
            endpoint: crate::error::Endpoint::Token,
            reason: "reset".into(),
        };
        assert_eq!(
            FailureClass::of(&transport, None, 0),
            FailureClass::Transient
        );
        for status in [500, 502, 503, 504, 408] {
            assert_eq!(
                FailureClass::of(&endpoint(status), None, 0),
                FailureClass::Transient
            );
        }
        for status in [400, 401, 403, 404] {
            assert_eq!(
                FailureClass::of(&endpoint(status), None, 0),
                FailureClass::Configuration
            );
        }
        assert_eq!(
            FailureClass::of(
                &endpoint(429),
                Some(&with_headers(&[("retry-after", "2")])),
                1000
            ),
            FailureClass::RateLimited {
                reset_at_ms: Some(3000)
            }
        );
    }
}
