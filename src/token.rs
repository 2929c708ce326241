//! Validation of a client-credentials token response and of the JWT inside it.
//!
//! The Action does not verify the token's signature: it received the token over TLS straight
//! from the tenant, and the Management API, the only consumer, verifies it. What is checked is
//! everything that decides whether the token is *usable* and for how long: the response shape,
//! `token_type`, `expires_in`, and the JWT's `exp` and `aud`.

use core::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

use crate::error::{Error, Result, TokenProblem};

/// base64url as JWTs use it; padding tolerated because some issuers emit it.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A validated Management API access token. `Debug` and `Display` show only its fingerprint.
#[derive(Clone, PartialEq, Eq)]
pub struct ManagementToken {
    access_token: String,
    issued_at_ms: u64,
    expires_at_ms: u64,
}

impl ManagementToken {
    /// Builds a token from parts that were validated before (a cache record).
    pub(crate) fn from_parts(access_token: String, issued_at_ms: u64, expires_at_ms: u64) -> Self {
        ManagementToken {
            access_token,
            issued_at_ms,
            expires_at_ms,
        }
    }

    /// When the token was received, in milliseconds since the Unix epoch.
    pub fn issued_at_ms(&self) -> u64 {
        self.issued_at_ms
    }

    /// The bearer token. Send it only in an `Authorization` header to the Management API.
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// When the token stops being valid, in milliseconds since the Unix epoch: the earlier of
    /// its `exp` claim and the time of receipt plus `expires_in`.
    pub fn expires_at_ms(&self) -> u64 {
        self.expires_at_ms
    }

    /// A short, non-reversible identifier for logs (see [`fingerprint`]).
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.access_token)
    }

    /// Consumes the token, returning the bearer string.
    pub fn into_access_token(self) -> String {
        self.access_token
    }
}

impl fmt::Debug for ManagementToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagementToken")
            .field("fingerprint", &self.fingerprint())
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

/// The token a caller holds and wants replaced (a refresh, or one the Management API refused):
/// what a token must differ from to count as its replacement.
///
/// A token is told apart by its fingerprint, not by its expiry: `exp` is in whole seconds, so two
/// tokens issued within one second expire together.
///
/// ```
/// # use post_login_action::token::Replacing;
/// let held = Replacing::new("a1b2c3d4e5f6", 1_000_000);
/// assert!(held.is_replaced_by("0f0f0f0f0f0f", 1_000_000)); // another token, same second
/// assert!(!held.is_replaced_by("a1b2c3d4e5f6", 1_060_000)); // the very token
/// assert!(!held.is_replaced_by("0f0f0f0f0f0f", 999_000)); // an older one
/// ```
///
/// The token endpoint always answers with a new token (even one that expires sooner, after the
/// tenant shortened token lifetimes): only a token that [`Replacing::is`] the held one is "no
/// replacement" there. The broker serves its stored token only if it replaces the caller's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Replacing {
    /// The held token's [`fingerprint`].
    pub fingerprint: String,
    /// Its expiry, ms since the Unix epoch.
    pub expires_at: u64,
}

impl Replacing {
    /// The token with `fingerprint` expiring at `expires_at_ms`.
    pub fn new(fingerprint: &str, expires_at_ms: u64) -> Self {
        Replacing {
            fingerprint: fingerprint.to_owned(),
            expires_at: expires_at_ms,
        }
    }

    /// `token`, to be replaced.
    pub fn token(token: &ManagementToken) -> Self {
        Replacing {
            fingerprint: token.fingerprint(),
            expires_at: token.expires_at_ms,
        }
    }

    /// Whether the token with `fingerprint` expiring at `expires_at_ms` replaces this one: it is
    /// another token, and it lasts at least as long.
    pub fn is_replaced_by(&self, fingerprint: &str, expires_at_ms: u64) -> bool {
        fingerprint != self.fingerprint && expires_at_ms >= self.expires_at
    }

    /// [`Replacing::is_replaced_by`] for a token.
    pub fn is_replaced_by_token(&self, token: &ManagementToken) -> bool {
        self.is_replaced_by(&token.fingerprint(), token.expires_at_ms)
    }

    /// Whether `token` is this very token (handed back unchanged).
    pub fn is(&self, token: &ManagementToken) -> bool {
        token.fingerprint() == self.fingerprint
    }
}

/// Identifies a token in logs without revealing it: 48 bits of FNV-1a over the whole token, in
/// hex. Collisions are harmless (it only correlates log lines) and 48 bits of a hash cannot be
/// turned back into a token.
pub fn fingerprint(token: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in token.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:012x}", hash >> 16)
}

/// Validates a 200 response body from `/oauth/token`.
///
/// `now_ms` is the receipt time; `audience` is the configured `ACCOUNT_API`.
pub fn parse_token_response(body: &str, audience: &str, now_ms: u64) -> Result<ManagementToken> {
    let invalid = Error::InvalidToken;
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(body) else {
        return Err(invalid(TokenProblem::NotJson));
    };
    let token_type = fields
        .get("token_type")
        .and_then(Value::as_str)
        .ok_or(invalid(TokenProblem::MissingField("token_type")))?;
    if !token_type.eq_ignore_ascii_case("bearer") {
        let shown: String = token_type.chars().take(32).collect();
        return Err(invalid(TokenProblem::TokenType(shown)));
    }
    let access_token = fields
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or(invalid(TokenProblem::MissingField("access_token")))?;
    let expires_in = fields
        .get("expires_in")
        .ok_or(invalid(TokenProblem::MissingField("expires_in")))?;
    let expires_in_ms = seconds_to_ms(expires_in).ok_or(invalid(TokenProblem::ExpiresIn))?;

    let claims = decode_jwt_claims(access_token).map_err(invalid)?;
    let exp_ms = claims
        .get("exp")
        .and_then(seconds_to_ms_allow_zero)
        .ok_or(invalid(TokenProblem::MissingExp))?;
    if exp_ms <= now_ms {
        return Err(invalid(TokenProblem::Expired));
    }
    let audience_matches = match claims.get("aud") {
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if !audience_matches {
        return Err(invalid(TokenProblem::Audience));
    }

    Ok(ManagementToken {
        access_token: access_token.to_owned(),
        issued_at_ms: now_ms,
        expires_at_ms: exp_ms.min(now_ms.saturating_add(expires_in_ms)),
    })
}

/// Decodes the header and payload of a compact JWS and returns the payload's claims.
fn decode_jwt_claims(token: &str) -> core::result::Result<Map<String, Value>, TokenProblem> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenProblem::NotJwt("expected three dot-separated parts"));
    };
    if header.is_empty() || payload.is_empty() || signature.is_empty() {
        return Err(TokenProblem::NotJwt("a part is empty"));
    }
    if BASE64URL.decode(signature).is_err() {
        return Err(TokenProblem::NotJwt("signature is not base64url"));
    }
    let json_object = |part: &str, what: &'static str| {
        let bytes = BASE64URL
            .decode(part)
            .map_err(|_| TokenProblem::NotJwt(what))?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(TokenProblem::NotJwt(what)),
        }
    };
    json_object(header, "header is not base64url-encoded JSON")?;
    json_object(payload, "payload is not base64url-encoded JSON")
}

/// A positive, finite number of seconds as milliseconds (saturating for absurd values).
fn seconds_to_ms(value: &Value) -> Option<u64> {
    seconds_to_ms_allow_zero(value).filter(|ms| *ms > 0)
}

fn seconds_to_ms_allow_zero(value: &Value) -> Option<u64> {
    if let Some(secs) = value.as_u64() {
        return Some(secs.saturating_mul(1000));
    }
    let secs = value.as_f64()?;
    // `as` saturates for huge values; a fractional second is rounded down.
    (secs.is_finite() && secs >= 0.0).then_some((secs * 1000.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AUD: &str = "https://tenant.auth0.com/api/v2/";
    const NOW: u64 = 1_700_000_000_000;

    fn b64(value: &Value) -> String {
        BASE64URL.encode(value.to_string())
    }

    fn jwt(claims: Value) -> String {
        format!(
            "{}.{}.c2ln",
            b64(&json!({"alg":"RS256","typ":"JWT"})),
            b64(&claims)
        )
    }

    fn response(token: &str, expires_in: Value) -> String {
        json!({"access_token": token, "token_type": "Bearer", "expires_in": expires_in, "scope": "read:users"})
            .to_string()
    }

    fn good_jwt() -> String {
        jwt(json!({"aud": AUD, "exp": NOW / 1000 + 86_400, "sub": "cid@clients"}))
    }

    #[test]
    fn good_response_yields_the_earlier_of_exp_and_expires_in() {
        let t = parse_token_response(&response(&good_jwt(), json!(86_400)), AUD, NOW).unwrap();
        assert_eq!(t.expires_at_ms(), NOW + 86_400_000);
        assert_eq!(t.access_token(), good_jwt());

        // expires_in shorter than exp: the shorter wins.
        let t = parse_token_response(&response(&good_jwt(), json!(600)), AUD, NOW).unwrap();
        assert_eq!(t.expires_at_ms(), NOW + 600_000);

        // exp shorter than expires_in (issuer clock ahead of ours): exp wins.
        let short = jwt(json!({"aud": AUD, "exp": NOW / 1000 + 60}));
        let t = parse_token_response(&response(&short, json!(86_400)), AUD, NOW).unwrap();
        assert_eq!(t.expires_at_ms(), NOW + 60_000);
    }

    #[test]
    fn token_type_is_case_insensitive_and_audience_may_be_a_list() {
        let token = jwt(json!({"aud": ["other", AUD], "exp": NOW / 1000 + 10}));
        let body = json!({"access_token": token, "token_type": "bearer", "expires_in": 10});
        assert!(parse_token_response(&body.to_string(), AUD, NOW).is_ok());
    }

    #[test]
    fn rejections_say_what_was_wrong() {
        let bad = |body: String| parse_token_response(&body, AUD, NOW).unwrap_err();
        let problem = |p| Error::InvalidToken(p);
        assert_eq!(bad("<html></html>".into()), problem(TokenProblem::NotJson));
        assert_eq!(
            bad("{\"access_token\":".into()),
            problem(TokenProblem::NotJson)
        );
        assert_eq!(bad("[1]".into()), problem(TokenProblem::NotJson));
        assert_eq!(
            bad(json!({"token_type":"Bearer","expires_in":1}).to_string()),
            problem(TokenProblem::MissingField("access_token"))
        );
        assert_eq!(
            bad(json!({"access_token": good_jwt(),"expires_in":1}).to_string()),
            problem(TokenProblem::MissingField("token_type"))
        );
        assert_eq!(
            bad(json!({"access_token": good_jwt(),"token_type":"MAC","expires_in":1}).to_string()),
            problem(TokenProblem::TokenType("MAC".into()))
        );
        assert_eq!(
            bad(json!({"access_token": good_jwt(),"token_type":"Bearer"}).to_string()),
            problem(TokenProblem::MissingField("expires_in"))
        );
        for expires_in in [
            json!(0),
            json!(-5),
            json!("3600"),
            json!(null),
            json!(0.0001),
        ] {
            assert_eq!(
                bad(response(&good_jwt(), expires_in.clone())),
                problem(TokenProblem::ExpiresIn),
                "{expires_in}"
            );
        }
        assert_eq!(
            bad(response("a.b", json!(60))),
            problem(TokenProblem::NotJwt("expected three dot-separated parts"))
        );
        assert_eq!(
            bad(response("a.b.c.d", json!(60))),
            problem(TokenProblem::NotJwt("expected three dot-separated parts"))
        );
        assert_eq!(
            bad(response("..", json!(60))),
            problem(TokenProblem::NotJwt("a part is empty"))
        );
        let header = b64(&json!({"alg":"RS256"}));
        assert_eq!(
            bad(response(&format!("{header}.!!!.c2ln"), json!(60))),
            problem(TokenProblem::NotJwt(
                "payload is not base64url-encoded JSON"
            ))
        );
        let not_json = BASE64URL.encode("not json");
        assert_eq!(
            bad(response(&format!("{header}.{not_json}.c2ln"), json!(60))),
            problem(TokenProblem::NotJwt(
                "payload is not base64url-encoded JSON"
            ))
        );
        assert_eq!(
            bad(response(&format!("{not_json}.{not_json}.c2ln"), json!(60))),
            problem(TokenProblem::NotJwt("header is not base64url-encoded JSON"))
        );
        assert_eq!(
            bad(response(&jwt(json!({"aud": AUD})), json!(60))),
            problem(TokenProblem::MissingExp)
        );
        assert_eq!(
            bad(response(
                &jwt(json!({"aud": AUD, "exp": NOW / 1000})),
                json!(60)
            )),
            problem(TokenProblem::Expired)
        );
        assert_eq!(
            bad(response(
                &jwt(json!({"aud": "https://other/api/v2/", "exp": NOW / 1000 + 60})),
                json!(60)
            )),
            problem(TokenProblem::Audience)
        );
        assert_eq!(
            bad(response(&jwt(json!({"exp": NOW / 1000 + 60})), json!(60))),
            problem(TokenProblem::Audience)
        );
    }

    #[test]
    fn absurd_expires_in_saturates_and_exp_still_bounds_the_lifetime() {
        let t = parse_token_response(&response(&good_jwt(), json!(1e300)), AUD, NOW).unwrap();
        assert_eq!(t.expires_at_ms(), NOW + 86_400_000);
        let t = parse_token_response(&response(&good_jwt(), json!(u64::MAX)), AUD, NOW).unwrap();
        assert_eq!(t.expires_at_ms(), NOW + 86_400_000);
    }

    #[test]
    fn debug_and_error_text_never_contain_the_token() {
        let token = good_jwt();
        let t = parse_token_response(&response(&token, json!(60)), AUD, NOW).unwrap();
        assert!(!format!("{t:?}").contains(&token));
        assert_eq!(t.fingerprint().len(), 12);
        assert_ne!(fingerprint("a"), fingerprint("b"));
    }
}
