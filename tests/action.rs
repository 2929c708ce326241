//! The Action end to end over a fake host: cache policy, token requests, validation, failure
//! handling and log hygiene, with no real time or network.

mod support;

use post_login_action::Error;
use post_login_action::error::Endpoint;
use post_login_action::host::{CacheEntry, CacheFault};
use post_login_action::policy::CACHE_KEY;
use post_login_action::post_login::{OnTokenError, Outcome};
use post_login_action::secrets;
use post_login_action::state::TokenState;
use serde_json::{Value, json};
use support::*;

fn login(host: &FakeHost, state: &TokenState, on_error: OnTokenError) -> Outcome {
    block_on(login_outcome(host, state, secrets_with(&[]), on_error))
}

fn token_of(outcome: Outcome) -> String {
    match outcome {
        Outcome::Token(acquired) => acquired.token.into_access_token(),
        other => panic!("expected a token, got {other:?}"),
    }
}

#[test]
fn first_login_requests_one_token_and_caches_it_for_86000_seconds() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let issued = host.answer_token(86_400);

    assert_eq!(
        token_of(login(&host, &state, OnTokenError::Continue)),
        issued
    );

    let requests = host.sent.borrow();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].url, "https://tenant.eu.auth0.com/oauth/token");
    assert_eq!(requests[0].bearer, None);
    assert_eq!(
        requests[0].body,
        Some(
            json!({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "audience": AUDIENCE})
        )
    );
    let entry = host.cached().expect("token cached");
    assert_eq!(entry.expires_at_ms, NOW + 86_000_000);
    assert_eq!(
        host.events(),
        ["cache_miss", "token_request", "token_valid", "cache_write"]
    );
}

#[test]
fn later_logins_reuse_the_cached_token_without_requests() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let issued = host.answer_token(86_400);
    login(&host, &state, OnTokenError::Continue);
    for _ in 0..50 {
        host.advance(60_000);
        assert_eq!(
            token_of(login(&host, &state, OnTokenError::Continue)),
            issued
        );
    }
    assert_eq!(host.token_requests(), 1);
    assert_eq!(
        host.events().iter().filter(|e| **e == "cache_hit").count(),
        50
    );
}

#[test]
fn short_lived_tokens_are_cached_only_until_their_safety_margin() {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.answer_token(600);
    login(&host, &state, OnTokenError::Continue);
    // 600 s token: a tenth of its life (60 s) is kept as margin.
    assert_eq!(host.cached().unwrap().expires_at_ms, NOW + 540_000);

    host.advance(539_999);
    assert!(matches!(
        login(&host, &state, OnTokenError::Continue),
        Outcome::Token(_)
    ));
    assert_eq!(host.token_requests(), 1);

    host.advance(1);
    let renewed = host.answer_token(600);
    assert_eq!(
        token_of(login(&host, &state, OnTokenError::Continue)),
        renewed
    );
    assert_eq!(host.token_requests(), 2);
}

#[test]
fn a_record_past_its_use_until_is_not_served_even_if_the_cache_still_returns_it() {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.answer_token(600);
    login(&host, &state, OnTokenError::Continue);
    // A cache that keeps records longer than asked (Auth0's default TTL, say).
    host.cache
        .borrow_mut()
        .get_mut(CACHE_KEY)
        .unwrap()
        .expires_at_ms = u64::MAX;
    host.advance(540_000);
    host.answer_token(600);
    login(&host, &state, OnTokenError::Continue);
    assert_eq!(host.token_requests(), 2);
    let miss = host
        .logs
        .borrow()
        .iter()
        .rev()
        .find(|r| r.event() == "cache_miss")
        .cloned()
        .unwrap();
    assert_eq!(miss.get("reason"), Some(&json!("expired")));
}

#[test]
fn changing_client_id_audience_or_domain_never_serves_the_old_token() {
    for (name, value) in [
        (secrets::CLIENT_ID, "rotated-client"),
        (secrets::ACCOUNT_API, "https://other.example/api/v2/"),
        (secrets::DOMAIN, "login.example.com"),
    ] {
        let host = FakeHost::new();
        let state = TokenState::new();
        let old = host.answer_token(86_400);
        login(&host, &state, OnTokenError::Continue);

        let audience = if name == secrets::ACCOUNT_API {
            value
        } else {
            AUDIENCE
        };
        let fresh = host.answer_token_for(audience, 86_400);
        let outcome = block_on(login_outcome(
            &host,
            &state,
            secrets_with(&[(name, value)]),
            OnTokenError::Continue,
        ));
        assert_eq!(host.token_requests(), 2, "{name}");
        assert_eq!(token_of(outcome), fresh, "{name}: the new token, not {old}");
        let miss = host.last("cache_miss").unwrap();
        assert_eq!(miss.get("reason"), Some(&json!("other_identity")), "{name}");
    }
}

#[test]
fn corrupt_or_foreign_cache_values_are_misses_and_get_overwritten() {
    for value in ["not json", "{\"token\":\"abc\"}", ""] {
        let host = FakeHost::new();
        let state = TokenState::new();
        host.cache.borrow_mut().insert(
            CACHE_KEY.into(),
            CacheEntry {
                value: value.into(),
                expires_at_ms: NOW + 1_000_000,
            },
        );
        let issued = host.answer_token(86_400);
        assert_eq!(
            token_of(login(&host, &state, OnTokenError::Continue)),
            issued
        );
        assert!(host.cached().unwrap().value.contains("\"v\":1"));
    }
}

fn assert_failed_without_caching(host: &FakeHost, state: &TokenState, expected: Error) {
    match login(host, state, OnTokenError::Continue) {
        Outcome::Continue(error) => assert_eq!(error, expected),
        other => panic!("expected Continue, got {other:?}"),
    }
    assert!(host.cached().is_none(), "nothing may be cached");
    let record = host.logs.borrow().last().cloned().unwrap();
    assert_eq!(record.event(), "token_error");
    assert_eq!(
        record.get("message"),
        Some(&Value::from(expected.to_string()))
    );
}

#[test]
fn endpoint_refusals_are_logged_with_the_likely_cause_and_nothing_is_cached() {
    for (status, body, likely) in [
        (
            401,
            r#"{"error":"access_denied","error_description":"Unauthorized"}"#,
            Some("wrong CLIENT_ID or CLIENT_SECRET"),
        ),
        (
            403,
            r#"{"error":"access_denied","error_description":"Client is not authorized"}"#,
            Some("no client grant authorizes this application for ACCOUNT_API"),
        ),
        (
            403,
            r#"{"error":"unauthorized_client","error_description":"Grant type 'client_credentials' not allowed for the client."}"#,
            Some("the client_credentials grant is not enabled for this application"),
        ),
        (
            429,
            r#"{"error":"too_many_requests","error_description":"Global limit has been reached"}"#,
            Some("rate limited by Auth0"),
        ),
    ] {
        let host = FakeHost::new();
        let state = TokenState::new();
        host.answer(status, body);
        let expected = token_error(status, body);
        assert_failed_without_caching(&host, &state, expected);
        let record = host.logs.borrow().last().cloned().unwrap();
        assert_eq!(
            record.get("likely_cause"),
            likely.map(Value::from).as_ref(),
            "{status}"
        );
        assert_eq!(host.token_requests(), 1);
    }
}

#[test]
fn transport_failures_and_invalid_tokens_are_errors_and_nothing_is_cached() {
    let host = FakeHost::new();
    let state = TokenState::new();
    assert_failed_without_caching(
        &host,
        &state,
        Error::Transport {
            endpoint: Endpoint::Token,
            reason: "TypeError: fetch failed (connection refused)".into(),
        },
    );

    let host = FakeHost::new();
    let state = TokenState::new();
    let wrong_aud = jwt(json!({"aud": "https://other/api/v2/", "exp": NOW / 1000 + 3600}));
    host.answer(
        200,
        json!({"access_token": wrong_aud, "token_type": "Bearer", "expires_in": 3600}).to_string(),
    );
    assert_failed_without_caching(
        &host,
        &state,
        Error::InvalidToken(post_login_action::error::TokenProblem::Audience),
    );
    assert!(host.events().contains(&"token_invalid"));
}

#[test]
fn deny_policy_turns_a_token_failure_into_a_deny() {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.answer(
        401,
        r#"{"error":"access_denied","error_description":"Unauthorized"}"#,
    );
    assert!(matches!(
        login(&host, &state, OnTokenError::Deny),
        Outcome::Deny(_)
    ));
    let record = host.logs.borrow().last().cloned().unwrap();
    assert_eq!(record.get("on_token_error"), Some(&json!("deny")));
}

#[test]
fn invalid_secrets_make_no_request() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let outcome = block_on(login_outcome(
        &host,
        &state,
        secrets_with(&[(secrets::DOMAIN, "http://tenant.example")]),
        OnTokenError::Deny,
    ));
    assert!(matches!(
        outcome,
        Outcome::Deny(Error::Secret {
            name: "AUTH0_CUSTOM_DOMAIN",
            ..
        })
    ));
    assert_eq!(host.token_requests(), 0);
    assert_eq!(host.events(), ["token_error"]);
}

#[test]
fn a_cache_read_fault_is_a_miss_and_the_login_still_gets_a_token() {
    let host = FakeHost::new();
    let state = TokenState::new();
    *host.cache_read_fault.borrow_mut() = Some(CacheFault::Failed("TypeError: boom".into()));
    let issued = host.answer_token(86_400);
    assert_eq!(
        token_of(login(&host, &state, OnTokenError::Continue)),
        issued
    );
    assert_eq!(host.events()[0], "cache_read_failed");
}

#[test]
fn a_refused_cache_write_is_logged_and_the_token_still_serves_this_login() {
    let host = FakeHost::new();
    let state = TokenState::new();
    *host.cache_write_fault.borrow_mut() =
        Some(CacheFault::Rejected("CacheValueSizeExceeded".into()));
    let issued = host.answer_token(86_400);
    assert_eq!(
        token_of(login(&host, &state, OnTokenError::Continue)),
        issued
    );
    let record = host.logs.borrow().last().cloned().unwrap();
    assert_eq!(record.event(), "cache_write_failed");
    assert_eq!(record.get("error"), Some(&json!("CacheValueSizeExceeded")));
}

#[test]
fn token_request_duration_comes_from_the_clock() {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.latency_ms.set(250);
    host.answer_token(86_400);
    login(&host, &state, OnTokenError::Continue);
    let request = host
        .logs
        .borrow()
        .iter()
        .find(|r| r.event() == "token_request")
        .cloned()
        .unwrap();
    assert_eq!(request.get("duration_ms"), Some(&json!(250)));
    assert_eq!(request.get("status"), Some(&json!(200)));
}

#[test]
fn no_log_line_contains_the_client_secret_or_a_token() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let mut tokens = vec![host.answer_token(600)];
    login(&host, &state, OnTokenError::Continue);
    login(&host, &state, OnTokenError::Continue);
    host.advance(600_000);
    tokens.push(host.answer_token(600));
    login(&host, &state, OnTokenError::Continue);
    host.advance(600_000);
    host.answer(
        401,
        r#"{"error":"access_denied","error_description":"Unauthorized"}"#,
    );
    login(&host, &state, OnTokenError::Deny);

    assert!(
        host.log_lines().contains("cache_hit"),
        "the scenario logged a hit"
    );
    host.assert_logs_hide_credentials(&tokens);
}

#[test]
fn on_token_error_setting_parses_strictly() {
    assert_eq!(OnTokenError::parse(None), Ok(OnTokenError::Continue));
    assert_eq!(OnTokenError::parse(Some("")), Ok(OnTokenError::Continue));
    assert_eq!(OnTokenError::parse(Some(" Deny ")), Ok(OnTokenError::Deny));
    assert_eq!(
        OnTokenError::parse(Some("CONTINUE")),
        Ok(OnTokenError::Continue)
    );
    assert_eq!(OnTokenError::parse(Some("block")), Err(OnTokenError::Deny));
}
