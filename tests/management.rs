//! The Management API client and the post-login execution over the fake host: requests,
//! token renewal after a 401, rate limits, Auth0 error bodies, the roles claim, the
//! configuration, and log hygiene.

mod support;

use std::cell::RefCell;

use post_login_action::Error;
use post_login_action::error::Endpoint;
use post_login_action::groups::{INCOMPLETE, LoginScope};
use post_login_action::log::{Level, LogRecord};
use post_login_action::management::ManagementClient;
use post_login_action::policy::{CACHE_KEY, RefreshPolicy};
use post_login_action::post_login::{Config, Effects, OnTokenError, names};
use post_login_action::provider::{Settings, Source};
use post_login_action::retry::RetryPolicy;
use post_login_action::state::TokenState;
use post_login_action::token::fingerprint;
use serde_json::{Value, json};
use support::*;

const USER: &str = "auth0|123";
const USER_URL: &str = "https://tenant.eu.auth0.com/api/v2/users/auth0%7C123";
const CLAIM: &str = "https://example.com/roles";
const UNAUTHORIZED: &str = r#"{"error":"access_denied","error_description":"Unauthorized"}"#;
const INVALID_TOKEN: &str = r#"{"statusCode":401,"error":"Unauthorized","message":"Invalid token","attributes":{"error":"Invalid token"}}"#;
const RATE_LIMITED: &str = r#"{"statusCode":429,"error":"Too Many Requests","message":"Global limit has been reached","errorCode":"too_many_requests"}"#;
const INSUFFICIENT_SCOPE: &str = r#"{"statusCode":403,"error":"Forbidden","message":"Insufficient scope, expected any of: read:roles","errorCode":"insufficient_scope"}"#;
const NOT_FOUND: &str = r#"{"statusCode":404,"error":"Not Found","message":"The user does not exist.","errorCode":"inexistent_user"}"#;

fn user() -> Value {
    json!({
        "user_id": USER,
        "email": "jane@example.com",
        "app_metadata": {"plan": "free"},
        "logins_count": 7
    })
}

fn roles() -> Value {
    json!([
        {"id": "rol_1", "name": "admin", "description": "Administrators"},
        {"id": "rol_2", "name": "editor", "description": "Editors"}
    ])
}

fn permissions() -> Value {
    json!([{
        "permission_name": "read:reports",
        "resource_server_identifier": "https://api.example.com",
        "sources": [{"source_id": "rol_1", "source_type": "ROLE"}]
    }])
}

fn roles_config(on_error: OnTokenError) -> Config {
    Config {
        on_error,
        roles_claim: Some(CLAIM.to_owned()),
        ..Config::default()
    }
}

fn cached_token_value(host: &FakeHost) -> Option<String> {
    host.cached().map(|entry| entry.value)
}

fn group(id: &str, name: &str, connection: Option<&str>) -> Value {
    let mut g = json!({"id": id, "name": name, "tenant_name": "acme",
        "created_at": "2025-01-01T00:00:00.000Z", "updated_at": "2025-01-01T00:00:00.000Z",
        "membership_created_at": "2025-01-02T00:00:00.000Z"});
    if let Some(c) = connection {
        g["connection_id"] = json!(c);
    }
    g
}

const SCOPE: LoginScope<'static> = LoginScope {
    connection_id: Some("con_1"),
    organization_id: None,
};

// ---------------------------------------------------------------------------------------------
// 1. Requests.

#[test]
fn calls_send_the_method_url_bearer_and_body_and_return_the_parsed_json() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let s = secrets();
    let issued = host.answer_token(86_400);
    let p = provider(&host, &state, &s);
    block_on(p.acquire()).unwrap();
    let api = ManagementClient::new(&p);

    host.answer_management(200, user().to_string(), &[]);
    assert_eq!(block_on(api.get_user(USER)).unwrap(), user());

    host.answer_management(200, roles().to_string(), &[]);
    assert_eq!(
        block_on(api.user_roles(USER)).unwrap(),
        *roles().as_array().unwrap()
    );

    host.answer_management(200, permissions().to_string(), &[]);
    assert_eq!(
        block_on(api.user_permissions(USER)).unwrap(),
        *permissions().as_array().unwrap()
    );

    let patch = json!({"plan": "pro", "legacy_id": null});
    let updated = json!({"user_id": USER, "app_metadata": {"plan": "pro"}});
    host.answer_management(200, updated.to_string(), &[]);
    assert_eq!(
        block_on(api.update_app_metadata(USER, patch.clone())).unwrap(),
        updated
    );

    let sent = host.management_requests();
    let shape: Vec<(&str, &str, Option<Value>)> = sent
        .iter()
        .map(|r| (r.method, r.url.as_str(), r.body.clone()))
        .collect();
    assert_eq!(
        shape,
        [
            ("GET", USER_URL, None),
            ("GET", &*format!("{USER_URL}/roles"), None),
            ("GET", &*format!("{USER_URL}/permissions"), None),
            ("PATCH", USER_URL, Some(json!({"app_metadata": patch}))),
        ]
    );
    for request in &sent {
        assert_eq!(request.bearer.as_deref(), Some(issued.as_str()));
        assert_eq!(request.timeout_ms, 5_000, "the whole budget is left");
    }
    assert_eq!(host.token_requests(), 1, "every call used the cached token");
    assert_eq!(host.count("management_request"), 4);
    let record = host.last("management_request").unwrap();
    assert_eq!(record.get("method"), Some(&json!("PATCH")));
    assert_eq!(record.get("path"), Some(&json!("/users/auth0%7C123")));
    assert_eq!(record.get("status"), Some(&json!(200)));
    host.assert_logs_hide_credentials(&[issued]);
}

#[test]
fn a_call_without_a_token_yet_obtains_one_first() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let s = secrets();
    let issued = host.answer_token(86_400);
    let p = provider(&host, &state, &s);
    host.answer_management(200, user().to_string(), &[]);

    assert_eq!(
        block_on(ManagementClient::new(&p).get_user(USER)).unwrap(),
        user()
    );
    assert_eq!(host.token_requests(), 1);
    let sent = host.sent.borrow();
    assert_eq!(sent.len(), 2);
    assert!(sent[0].url.ends_with("/oauth/token"));
    assert_eq!(sent[1].bearer.as_deref(), Some(issued.as_str()));
    assert!(cached_token_value(&host).unwrap().contains(&issued));
}

#[test]
fn a_patch_that_is_not_an_object_is_refused_without_a_request() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let s = secrets();
    let p = provider(&host, &state, &s);
    let api = ManagementClient::new(&p);
    for patch in [json!(["plan"]), json!("pro"), json!(3), Value::Null] {
        assert_eq!(
            block_on(api.update_app_metadata(USER, patch.clone())),
            Err(Error::InvalidArgument(
                "app_metadata patch must be a JSON object"
            )),
            "{patch}"
        );
    }
    assert!(
        host.sent.borrow().is_empty(),
        "neither a token nor an API request"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. 401: discard, renew, retry once.

#[test]
fn a_401_discards_the_token_renews_it_once_and_retries_with_the_new_bearer() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let s = secrets();
    let old = host.answer_token(86_400);
    let p = provider(&host, &state, &s);
    block_on(p.acquire()).unwrap();
    assert!(cached_token_value(&host).unwrap().contains(&old));

    host.answer_management(401, INVALID_TOKEN, &[]);
    let new = host.answer_token(86_400);
    host.answer_management(200, user().to_string(), &[]);
    assert_eq!(
        block_on(ManagementClient::new(&p).get_user(USER)).unwrap(),
        user()
    );

    let bearers: Vec<Option<String>> = host
        .management_requests()
        .into_iter()
        .map(|r| r.bearer)
        .collect();
    assert_eq!(bearers, [Some(old.clone()), Some(new.clone())]);
    assert_eq!(host.token_requests(), 2, "exactly one new token request");
    let discarded = host.last("token_discarded").unwrap();
    assert_eq!(discarded.level(), Level::Warn);
    assert_eq!(
        discarded.get("fingerprint"),
        Some(&json!(fingerprint(&old)))
    );
    // The trigger cache now holds the new token, not the rejected one.
    let cached = cached_token_value(&host).unwrap();
    assert!(cached.contains(&new) && !cached.contains(&old));
    // And so does memory.
    let next = block_on(p.acquire()).unwrap();
    assert_eq!(
        (next.token.access_token(), next.source),
        (new.as_str(), Source::Memory)
    );
    host.assert_logs_hide_credentials(&[old, new]);
}

#[test]
fn a_401_removes_the_rejected_token_from_memory_and_the_trigger_cache() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let s = secrets();
    let old = host.answer_token(86_400);
    let p = provider(&host, &state, &s);
    block_on(p.acquire()).unwrap();

    // The renewal fails: nothing may be left that serves the rejected token.
    host.answer_management(401, INVALID_TOKEN, &[]);
    host.answer(401, UNAUTHORIZED);
    let error = block_on(ManagementClient::new(&p).get_user(USER)).unwrap_err();
    assert_eq!(error, token_error(401, UNAUTHORIZED));
    assert!(host.cached().is_none(), "the `{CACHE_KEY}` key was removed");
    assert_eq!(host.management_requests().len(), 1);

    // Another isolate finds nothing in the cache; this isolate holds nothing in memory.
    let other = TokenState::new();
    host.answer_token(86_400);
    let fresh = block_on(provider(&host, &other, &s).acquire()).unwrap();
    assert_eq!(fresh.source, Source::Endpoint);
    assert_ne!(fresh.token.access_token(), old);
    let this = block_on(p.acquire()).unwrap();
    assert_ne!(
        this.token.access_token(),
        old,
        "memory forgot the rejected token"
    );
    assert_eq!(this.source, Source::Cache);
}

#[test]
fn a_401_retries_with_a_newer_token_another_isolate_cached_without_a_request() {
    let host = FakeHost::new();
    let this = TokenState::new();
    let other = TokenState::new();
    let s = secrets();
    let old = host.answer_token(90);
    let p = provider(&host, &this, &s);
    block_on(p.acquire()).unwrap();

    // At 74 s (random() = 0.5) the other isolate refreshes and replaces the cached token.
    host.now.set(NOW + 74_000);
    let newer = host.answer_token(90);
    block_on(provider(&host, &other, &s).refresh());
    assert_eq!(host.token_requests(), 2);

    // This isolate still holds the old token; the Management API rejects it.
    host.answer_management(401, INVALID_TOKEN, &[]);
    host.answer_management(200, user().to_string(), &[]);
    assert_eq!(
        block_on(ManagementClient::new(&p).get_user(USER)).unwrap(),
        user()
    );
    let bearers: Vec<Option<String>> = host
        .management_requests()
        .into_iter()
        .map(|r| r.bearer)
        .collect();
    assert_eq!(bearers, [Some(old.clone()), Some(newer.clone())]);
    assert_eq!(
        host.token_requests(),
        2,
        "the cached token was used, none requested"
    );
    assert!(cached_token_value(&host).unwrap().contains(&newer), "kept");
    host.assert_logs_hide_credentials(&[old, newer]);
}

#[test]
fn a_second_401_is_returned_after_exactly_two_calls() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let s = secrets();
    let old = host.answer_token(86_400);
    let p = provider(&host, &state, &s);
    block_on(p.acquire()).unwrap();

    host.answer_management(401, INVALID_TOKEN, &[]);
    let new = host.answer_token(86_400);
    host.answer_management(401, INVALID_TOKEN, &[]);
    host.answer_management(200, user().to_string(), &[]); // must not be reached

    let error = block_on(ManagementClient::new(&p).get_user(USER)).unwrap_err();
    assert_eq!(
        error,
        Error::Status {
            endpoint: Endpoint::Management,
            status: 401,
            code: Some("Unauthorized".into()),
            message: Some("Invalid token".into()),
        }
    );
    assert!(matches!(
        error,
        Error::Status {
            endpoint: Endpoint::Management,
            status: 401,
            ..
        }
    ));
    assert_eq!(host.management_requests().len(), 2);
    assert_eq!(host.token_requests(), 2);
    assert_eq!(host.count("token_discarded"), 1);
    host.assert_logs_hide_credentials(&[old, new]);
}

// ---------------------------------------------------------------------------------------------
// 3. 429.

#[test]
fn a_429_whose_reset_fits_the_budget_is_waited_for_once() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let s = secrets();
    host.answer_token(86_400);
    let p = provider(&host, &state, &s);
    block_on(p.acquire()).unwrap();

    host.answer_management(429, RATE_LIMITED, &[("retry-after", "1")]);
    host.answer_management(200, roles().to_string(), &[]);
    let api = ManagementClient::new(&p);
    assert_eq!(block_on(api.user_roles(USER)).unwrap().len(), 2);
    assert_eq!(*host.sleeps.borrow(), [1_000]);
    let sent = host.management_requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].at - sent[0].at, 1_000);
    assert_eq!(sent[1].timeout_ms, 4_000, "the budget left after the wait");
    assert_eq!(
        host.last("management_retry").unwrap().get("wait_ms"),
        Some(&json!(1_000))
    );

    // x-ratelimit-reset (Unix seconds) without retry-after.
    let reset = (host.now.get() / 1000 + 3).to_string();
    host.answer_management(429, RATE_LIMITED, &[("x-ratelimit-reset", &reset)]);
    host.answer_management(200, user().to_string(), &[]);
    assert_eq!(block_on(api.get_user(USER)).unwrap(), user());
    assert_eq!(*host.sleeps.borrow(), [1_000, 3_000]);

    // Only once: a second 429 is returned.
    host.answer_management(429, RATE_LIMITED, &[("retry-after", "1")]);
    host.answer_management(429, RATE_LIMITED, &[("retry-after", "1")]);
    host.answer_management(200, user().to_string(), &[]);
    let error = block_on(api.get_user(USER)).unwrap_err();
    assert!(matches!(
        error,
        Error::Status {
            endpoint: Endpoint::Management,
            status: 429,
            ..
        }
    ));
    assert_eq!(host.management_requests().len(), 6);
    assert_eq!(host.token_requests(), 1);
}

#[test]
fn a_429_whose_reset_is_beyond_the_budget_fails_at_once() {
    for headers in [
        &[("retry-after", "10")][..],
        &[("x-ratelimit-reset", "1700000060")][..],
        &[][..],
    ] {
        let host = FakeHost::new();
        let state = TokenState::new();
        let s = secrets();
        host.answer_token(86_400);
        let p = provider(&host, &state, &s);
        block_on(p.acquire()).unwrap();

        host.answer_management(429, RATE_LIMITED, headers);
        host.answer_management(200, user().to_string(), &[]);
        let error = block_on(ManagementClient::new(&p).get_user(USER)).unwrap_err();
        assert_eq!(
            error,
            Error::Status {
                endpoint: Endpoint::Management,
                status: 429,
                code: Some("too_many_requests".into()),
                message: Some("Global limit has been reached".into()),
            },
            "{headers:?}"
        );
        assert_eq!(host.management_requests().len(), 1, "{headers:?}");
        assert!(host.sleeps.borrow().is_empty(), "{headers:?}");
        assert_eq!(host.now.get(), NOW, "{headers:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Other errors.

#[test]
fn other_errors_carry_auth0s_error_code_and_message() {
    for (status, body, code, message) in [
        (
            403,
            INSUFFICIENT_SCOPE,
            "insufficient_scope",
            "Insufficient scope, expected any of: read:roles",
        ),
        (
            404,
            NOT_FOUND,
            "inexistent_user",
            "The user does not exist.",
        ),
    ] {
        let host = FakeHost::new();
        let state = TokenState::new();
        let s = secrets();
        host.answer_token(86_400);
        let p = provider(&host, &state, &s);
        host.answer_management(status, body, &[]);
        host.answer_management(200, "[]", &[]); // must not be reached
        let error = block_on(ManagementClient::new(&p).user_roles(USER)).unwrap_err();
        assert_eq!(
            error,
            Error::Status {
                endpoint: Endpoint::Management,
                status,
                code: Some(code.into()),
                message: Some(message.into()),
            }
        );
        assert_eq!(error.kind(), "management_api");
        assert_eq!(host.management_requests().len(), 1, "no retry for {status}");
        assert_eq!(host.token_requests(), 1, "the token was kept for {status}");
        assert_eq!(host.count("token_discarded"), 0);
    }
}

// ---------------------------------------------------------------------------------------------
// 5. The post-login execution and its configuration.

#[test]
fn execute_sets_the_roles_claim_from_the_roles_answer() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let issued = host.answer_token(86_400);
    host.answer_management(200, roles().to_string(), &[]);

    let effects = block_on(execute(
        &host,
        &state,
        &secrets_with(&[]),
        &roles_config(OnTokenError::Continue),
        Some(USER),
    ));
    assert_eq!(
        effects,
        Effects {
            deny: false,
            roles_claim: Some((CLAIM.to_owned(), vec!["admin".into(), "editor".into()])),
            refresh_due: false,
        }
    );
    let sent = host.management_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].url, format!("{USER_URL}/roles"));
    assert_eq!(sent[0].bearer.as_deref(), Some(issued.as_str()));
    let record = host.last("roles_claim_set").unwrap();
    assert_eq!(record.get("claim"), Some(&json!(CLAIM)));
    assert_eq!(record.get("roles"), Some(&json!(2)));
    host.assert_logs_hide_credentials(&[issued]);
}

#[test]
fn execute_without_a_roles_claim_makes_no_management_call() {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.answer_token(86_400);
    let effects = block_on(execute(
        &host,
        &state,
        &secrets_with(&[]),
        &Config::default(),
        Some(USER),
    ));
    assert_eq!(effects, Effects::default());
    assert!(host.management_requests().is_empty());
}

#[test]
fn a_failed_roles_call_sets_no_claim_and_denies_only_under_the_deny_policy() {
    for (on_error, deny) in [(OnTokenError::Continue, false), (OnTokenError::Deny, true)] {
        let host = FakeHost::new();
        let state = TokenState::new();
        let issued = host.answer_token(86_400);
        host.answer_management(403, INSUFFICIENT_SCOPE, &[]);
        let effects = block_on(execute(
            &host,
            &state,
            &secrets_with(&[]),
            &roles_config(on_error),
            Some(USER),
        ));
        assert_eq!(
            effects,
            Effects {
                deny,
                roles_claim: None,
                refresh_due: false,
            },
            "{on_error:?}"
        );
        let record = host.last("roles_claim_failed").unwrap();
        assert_eq!(record.level(), Level::Error);
        assert_eq!(record.get("error"), Some(&json!("management_api")));
        assert!(
            record
                .get("message")
                .unwrap()
                .as_str()
                .unwrap()
                .contains("insufficient_scope"),
            "{on_error:?}"
        );
        assert_eq!(host.count("roles_claim_set"), 0);
        host.assert_logs_hide_credentials(&[issued]);

        // A login without a user id fails the same way, without a call.
        let calls = host.management_requests().len();
        let effects = block_on(execute(
            &host,
            &state,
            &secrets_with(&[]),
            &roles_config(on_error),
            None,
        ));
        assert_eq!((effects.deny, effects.roles_claim), (deny, None));
        assert_eq!(host.management_requests().len(), calls);
        assert_eq!(
            host.last("roles_claim_failed").unwrap().get("error"),
            Some(&json!("invalid_argument"))
        );
    }
}

fn config_from(values: &[(&str, &str)]) -> (Config, Vec<LogRecord>) {
    let logs = RefCell::new(Vec::new());
    let config = Config::from_lookup(
        |name| {
            values
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        },
        |record| logs.borrow_mut().push(record),
    );
    (config, logs.into_inner())
}

#[test]
fn config_defaults_when_nothing_is_set() {
    let (config, logs) = config_from(&[]);
    assert!(logs.is_empty());
    assert_eq!(config, Config::default());
    assert_eq!(config.on_error, OnTokenError::Continue);
    assert_eq!(config.roles_claim, None);
    assert_eq!(
        config.settings.refresh,
        RefreshPolicy {
            window_percent: 10,
            min_window_ms: 0,
            jitter: 0.5,
        }
    );
    assert_eq!(config.settings.retry.budget_ms, 5_000);
    assert_eq!(config.settings.retry, RetryPolicy::default());

    // An empty or blank ROLES_CLAIM is off, silently.
    let (config, logs) = config_from(&[(names::ROLES_CLAIM, "  ")]);
    assert_eq!((config.roles_claim, logs.len()), (None, 0));
}

#[test]
fn config_applies_valid_overrides() {
    let (config, logs) = config_from(&[
        (names::ON_TOKEN_ERROR, "Deny"),
        (names::ROLES_CLAIM, " https://example.com/roles "),
        (names::TOKEN_REFRESH_WINDOW_PERCENT, "25"),
        (names::TOKEN_REFRESH_MIN_SECONDS, " 60 "),
        (names::TOKEN_REQUEST_BUDGET_MS, "3000"),
    ]);
    assert!(logs.is_empty(), "{logs:?}");
    assert_eq!(config.on_error, OnTokenError::Deny);
    assert_eq!(config.roles_claim.as_deref(), Some(CLAIM));
    assert_eq!(
        config.settings.refresh,
        RefreshPolicy {
            window_percent: 25,
            min_window_ms: 60_000,
            ..RefreshPolicy::default()
        }
    );
    assert_eq!(
        config.settings.retry,
        RetryPolicy {
            budget_ms: 3_000,
            ..RetryPolicy::default()
        }
    );

    // Range edges are valid.
    for (name, value) in [
        (names::TOKEN_REFRESH_WINDOW_PERCENT, "1"),
        (names::TOKEN_REFRESH_WINDOW_PERCENT, "50"),
        (names::TOKEN_REFRESH_MIN_SECONDS, "0"),
        (names::TOKEN_REFRESH_MIN_SECONDS, "86400"),
        (names::TOKEN_REQUEST_BUDGET_MS, "100"),
        (names::TOKEN_REQUEST_BUDGET_MS, "15000"),
    ] {
        let (_, logs) = config_from(&[(name, value)]);
        assert!(logs.is_empty(), "{name}={value}");
    }
}

#[test]
fn config_logs_invalid_values_and_keeps_the_defaults() {
    for (name, value) in [
        (names::TOKEN_REFRESH_WINDOW_PERCENT, "0"),
        (names::TOKEN_REFRESH_WINDOW_PERCENT, "51"),
        (names::TOKEN_REFRESH_WINDOW_PERCENT, "ten"),
        (names::TOKEN_REFRESH_WINDOW_PERCENT, "10.5"),
        (names::TOKEN_REFRESH_MIN_SECONDS, "-1"),
        (names::TOKEN_REFRESH_MIN_SECONDS, "86401"),
        (names::TOKEN_REQUEST_BUDGET_MS, "99"),
        (names::TOKEN_REQUEST_BUDGET_MS, "15001"),
        (names::TOKEN_REQUEST_BUDGET_MS, "5s"),
    ] {
        let (config, logs) = config_from(&[(name, value)]);
        assert_eq!(config, Config::default(), "{name}={value}");
        assert_eq!(logs.len(), 1, "{name}={value}");
        assert_eq!(logs[0].event(), "config_invalid");
        assert_eq!(logs[0].level(), Level::Error);
        assert_eq!(logs[0].get("setting"), Some(&json!(name)), "{name}={value}");
    }

    // An unknown ON_TOKEN_ERROR applies `deny`, the strict reading.
    let (config, logs) = config_from(&[(names::ON_TOKEN_ERROR, "block")]);
    assert_eq!(config.on_error, OnTokenError::Deny);
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].get("setting"), Some(&json!(names::ON_TOKEN_ERROR)));

    // Several bad values: one line each, the good ones still apply.
    let (config, logs) = config_from(&[
        (names::TOKEN_REFRESH_WINDOW_PERCENT, "90"),
        (names::TOKEN_REFRESH_MIN_SECONDS, "120"),
        (names::TOKEN_REQUEST_BUDGET_MS, "0"),
    ]);
    assert_eq!(logs.len(), 2);
    assert_eq!(config.settings.refresh.window_percent, 10);
    assert_eq!(config.settings.refresh.min_window_ms, 120_000);
    assert_eq!(config.settings.retry.budget_ms, 5_000);
}

#[test]
fn configured_settings_drive_the_refresh_point_and_the_budget() {
    // TOKEN_REFRESH_WINDOW_PERCENT=50, TOKEN_REFRESH_MIN_SECONDS=0: a 24 h token's window is
    // its second half, so with jitter 0 it is due at 43,200 s.
    let (config, _) = config_from(&[
        (names::TOKEN_REFRESH_WINDOW_PERCENT, "50"),
        (names::TOKEN_REFRESH_MIN_SECONDS, "0"),
        (names::TOKEN_REQUEST_BUDGET_MS, "3000"),
    ]);
    let settings: Settings = config.settings;
    let host = FakeHost::new();
    let state = TokenState::new();
    let s = secrets();
    host.randoms.borrow_mut().push_back(0.0);
    host.answer_token(86_400);
    let p = provider(&host, &state, &s).with_settings(settings);
    block_on(p.acquire()).unwrap();
    host.now.set(NOW + 43_199_999);
    assert!(!block_on(p.acquire()).unwrap().refresh_due);
    host.now.set(NOW + 43_200_000);
    assert!(block_on(p.acquire()).unwrap().refresh_due);

    // TOKEN_REQUEST_BUDGET_MS=3000 with 1.5 s answers: the second attempt gets what is left
    // (3,000 − 1,500 − 125 = 1,375 ms) and times out at the budget; no third attempt.
    let host = FakeHost::new();
    let state = TokenState::new();
    host.latency_ms.set(1_500);
    for _ in 0..4 {
        host.answer(503, "{}");
    }
    let error = block_on(
        provider(&host, &state, &s)
            .with_settings(settings)
            .acquire(),
    )
    .unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    let timeouts: Vec<u64> = host.sent.borrow().iter().map(|r| r.timeout_ms).collect();
    assert_eq!(timeouts, [3_000, 1_375]);
    assert_eq!(host.now.get() - NOW, 3_000);
}

#[test]
fn a_management_transport_failure_is_not_reported_as_a_token_request_failure() {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.answer_token(86_400);
    // No Management API answer queued: the roles call gets no response at all.
    let effects = block_on(execute(
        &host,
        &state,
        &secrets_with(&[]),
        &roles_config(OnTokenError::Continue),
        Some(USER),
    ));
    assert_eq!(effects.roles_claim, None);
    assert_eq!(host.token_requests(), 1, "the token request succeeded");
    let message = host
        .last("roles_claim_failed")
        .unwrap()
        .get("message")
        .cloned()
        .unwrap();
    let message = message.as_str().unwrap();
    assert!(
        !message.contains("token request"),
        "the token was fine; the Management API call failed, but the log says: {message}"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Log hygiene across the scenarios above, in one isolate.

#[test]
fn no_log_line_of_any_management_scenario_holds_the_secret_or_a_token() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let s = secrets();
    let p = provider(&host, &state, &s);
    let api = ManagementClient::new(&p);
    let mut tokens = vec![host.answer_token(86_400)];

    // Calls of every kind.
    host.answer_management(200, user().to_string(), &[]);
    block_on(api.get_user(USER)).unwrap();
    host.answer_management(200, permissions().to_string(), &[]);
    block_on(api.user_permissions(USER)).unwrap();
    host.answer_management(200, user().to_string(), &[]);
    block_on(api.update_app_metadata(USER, json!({"plan": "pro"}))).unwrap();
    // A 401 with a renewal, then one without.
    host.answer_management(401, INVALID_TOKEN, &[]);
    tokens.push(host.answer_token(86_400));
    host.answer_management(200, user().to_string(), &[]);
    block_on(api.get_user(USER)).unwrap();
    host.answer_management(401, INVALID_TOKEN, &[]);
    tokens.push(host.answer_token(86_400));
    host.answer_management(401, INVALID_TOKEN, &[]);
    block_on(api.get_user(USER)).unwrap_err();
    // 429s, other errors.
    host.answer_management(429, RATE_LIMITED, &[("retry-after", "1")]);
    host.answer_management(200, roles().to_string(), &[]);
    block_on(api.user_roles(USER)).unwrap();
    host.answer_management(429, RATE_LIMITED, &[("retry-after", "60")]);
    block_on(api.user_roles(USER)).unwrap_err();
    host.answer_management(404, NOT_FOUND, &[]);
    block_on(api.get_user(USER)).unwrap_err();
    // The roles claim, succeeding and failing.
    host.answer_management(200, roles().to_string(), &[]);
    block_on(execute(
        &host,
        &state,
        &secrets_with(&[]),
        &roles_config(OnTokenError::Deny),
        Some(USER),
    ));
    host.answer_management(403, INSUFFICIENT_SCOPE, &[]);
    block_on(execute(
        &host,
        &state,
        &secrets_with(&[]),
        &roles_config(OnTokenError::Deny),
        Some(USER),
    ));
    // A rejected token whose renewal is refused.
    host.answer_management(401, INVALID_TOKEN, &[]);
    host.answer(401, UNAUTHORIZED);
    block_on(api.get_user(USER)).unwrap_err();

    for event in [
        "management_request",
        "token_discarded",
        "management_retry",
        "roles_claim_set",
        "roles_claim_failed",
        "token_request",
        "cooldown_started",
    ] {
        assert!(host.count(event) > 0, "the scenario logged {event}");
    }
    assert_eq!(host.token_requests(), 4);
    host.assert_logs_hide_credentials(&tokens);
    // Not even the fake's shared signature part.
    assert!(!host.log_lines().contains("c2lnbmF0dXJl"));
}

// ---------------------------------------------------------------------------------------------
// Groups (api.groups).

#[test]
fn user_groups_sends_take_and_the_encoded_cursor_and_returns_the_page() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let s = secrets();
    let issued = host.answer_token(86_400);
    let p = provider(&host, &state, &s);
    let api = ManagementClient::new(&p);

    let first = json!({"groups": [group("grp_1", "admins", None)], "next": "c/1+2"});
    host.answer_management(200, first.to_string(), &[]);
    assert_eq!(block_on(api.user_groups(USER, None, None)).unwrap(), first);
    host.answer_management(200, json!({"groups": []}).to_string(), &[]);
    assert_eq!(
        block_on(api.user_groups(USER, Some("c/1+2"), Some(500))).unwrap(),
        json!({"groups": []})
    );
    // An answer that is not a page of groups is an error, not an empty list.
    host.answer_management(200, json!({"roles": []}).to_string(), &[]);
    assert_eq!(
        block_on(api.user_groups(USER, None, Some(5))),
        Err(Error::ManagementResponse("expected the user's groups"))
    );

    let urls: Vec<String> = host
        .management_requests()
        .into_iter()
        .map(|r| r.url)
        .collect();
    assert_eq!(
        urls,
        [
            format!("{USER_URL}/groups?take=50"),
            format!("{USER_URL}/groups?take=100&from=c%2F1%2B2"),
            format!("{USER_URL}/groups?take=5"),
        ]
    );
    for request in host.management_requests() {
        assert_eq!(request.method, "GET");
        assert_eq!(request.bearer.as_deref(), Some(issued.as_str()));
    }
    assert_eq!(host.token_requests(), 1, "one token for every call");
    host.assert_logs_hide_credentials(&[issued]);
}

#[test]
fn group_membership_reads_every_page_with_one_token_and_decides_in_scope() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let s = secrets();
    let issued = host.answer_token(86_400);
    let p = provider(&host, &state, &s);
    let api = ManagementClient::new(&p);

    let page1 = json!({"groups": [group("grp_1", "staff", None), group("grp_2", "admins", Some("con_2"))], "next": "n1"});
    let page2 = json!({"groups": [group("grp_3", "admins", Some("con_1"))]});
    host.answer_management(200, page1.to_string(), &[]);
    host.answer_management(200, page2.to_string(), &[]);
    let keys = [
        "admins".to_owned(),
        "grp_2".to_owned(),
        "staff".to_owned(),
        "nobody".to_owned(),
    ];
    let out = block_on(api.group_membership(USER, SCOPE, &keys)).unwrap();
    assert_eq!(
        out,
        json!({"memberships": {
            "admins": {"is_member": true, "matches": [{"id": "grp_3", "name": "admins", "group_type": "connection"}]},
            "grp_2": {"is_member": false},
            "staff": {"is_member": true, "matches": [{"id": "grp_1", "name": "staff", "group_type": "tenant"}]},
            "nobody": {"is_member": false}
        }})
    );
    let urls: Vec<String> = host
        .management_requests()
        .into_iter()
        .map(|r| r.url)
        .collect();
    assert_eq!(
        urls,
        [
            format!("{USER_URL}/groups?take=100"),
            format!("{USER_URL}/groups?take=100&from=n1")
        ]
    );
    assert_eq!(host.token_requests(), 1);
    host.assert_logs_hide_credentials(&[issued]);
}

#[test]
fn group_membership_stops_at_the_page_limit_and_reports_what_it_could_not_check() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let s = secrets();
    host.answer_token(86_400);
    let p = provider(&host, &state, &s);
    for n in 0..10 {
        let page = json!({"groups": [group(&format!("grp_{n}"), &format!("g{n}"), None)], "next": format!("n{n}")});
        host.answer_management(200, page.to_string(), &[]);
    }
    let keys = ["g3".to_owned(), "later".to_owned()];
    let out = block_on(ManagementClient::new(&p).group_membership(USER, SCOPE, &keys)).unwrap();
    assert_eq!(host.management_requests().len(), 10, "at most ten pages");
    assert_eq!(out["memberships"]["g3"]["is_member"], json!(true));
    assert!(out["memberships"].get("later").is_none());
    assert_eq!(out["errors"], json!({"later": INCOMPLETE}));
}

#[test]
fn group_membership_stops_when_the_cursor_repeats() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let s = secrets();
    host.answer_token(86_400);
    let p = provider(&host, &state, &s);
    let page = json!({"groups": [group("grp_1", "a", None)], "next": "same"});
    host.answer_management(200, page.to_string(), &[]);
    host.answer_management(200, page.to_string(), &[]);
    let keys = ["b".to_owned()];
    let out = block_on(ManagementClient::new(&p).group_membership(USER, SCOPE, &keys)).unwrap();
    assert_eq!(host.management_requests().len(), 2);
    assert_eq!(out, json!({"memberships": {"b": {"is_member": false}}}));
}

#[test]
fn group_reads_renew_a_revoked_token_once_and_fail_with_auth0s_error() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let s = secrets();
    let old = host.answer_token(86_400);
    let p = provider(&host, &state, &s);
    block_on(p.acquire()).unwrap();
    let api = ManagementClient::new(&p);

    // A 401 on the second page: the token is renewed once, the page retried with the new one.
    host.answer_management(200, json!({"groups": [], "next": "n1"}).to_string(), &[]);
    host.answer_management(401, INVALID_TOKEN, &[]);
    let new = host.answer_token(86_400);
    host.answer_management(
        200,
        json!({"groups": [group("grp_1", "a", None)]}).to_string(),
        &[],
    );
    let out = block_on(api.group_membership(USER, SCOPE, &["a".to_owned()])).unwrap();
    assert_eq!(out["memberships"]["a"]["is_member"], json!(true));
    let bearers: Vec<Option<String>> = host
        .management_requests()
        .into_iter()
        .map(|r| r.bearer)
        .collect();
    assert_eq!(
        bearers,
        [Some(old.clone()), Some(old.clone()), Some(new.clone())]
    );
    assert_eq!(host.token_requests(), 2);

    // A 403 (missing read:groups) is the call's error, with Auth0's message, and no renewal.
    host.answer_management(403, INSUFFICIENT_SCOPE, &[]);
    let error = block_on(api.user_groups(USER, None, None)).unwrap_err();
    assert!(matches!(
        error,
        Error::Status {
            endpoint: Endpoint::Management,
            status: 403,
            ..
        }
    ));
    assert!(error.to_string().contains("Insufficient scope"), "{error}");
    assert_eq!(host.token_requests(), 2);

    // A 429 whose reset fits the budget is waited for once.
    host.answer_management(429, RATE_LIMITED, &[("retry-after", "1")]);
    host.answer_management(200, json!({"groups": []}).to_string(), &[]);
    assert_eq!(
        block_on(api.user_groups(USER, None, None)).unwrap(),
        json!({"groups": []})
    );
    host.assert_logs_hide_credentials(&[old, new]);
}

#[test]
fn group_reads_refuse_an_empty_user_id_without_a_request() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let s = secrets();
    host.answer_token(86_400);
    let p = provider(&host, &state, &s);
    let api = ManagementClient::new(&p);
    let empty = Err(Error::InvalidArgument("user id must not be empty"));
    assert_eq!(block_on(api.user_groups("", None, None)), empty);
    assert_eq!(
        block_on(api.group_membership("", SCOPE, &["a".to_owned()])),
        empty
    );
    assert!(host.management_requests().is_empty());
}
