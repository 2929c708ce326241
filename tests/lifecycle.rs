//! The token lifecycle over the fake host: the memory and cache tiers, single-flight, the
//! refresh window, static stability, retries inside the budget, rate limits and the negative
//! cache. Every expected number is derived from the policy defaults:
//!
//! - `use_until = min(issued + 86,000 s, expiry − clamp(lifetime/10, 10 s, 5 min))`;
//! - window = `max(10 % of lifetime, 5 min)`, at most half the lifetime, ending at expiry;
//! - refresh point = window start + jitter · ½ · (use_until − window start);
//! - retries: budget 5 s, 4 attempts, backoff uniform in `[0, min(2 s, 250 ms · 2^n))`;
//! - cool-downs: configuration 30 s doubling to 300 s, transient 2 s doubling to 60 s,
//!   429 until the reset or 30 s.

mod support;

use std::future::Future;
use std::pin::Pin;

use post_login_action::Error;
use post_login_action::error::Endpoint;
use post_login_action::log::Level;
use post_login_action::post_login::{Config, OnTokenError, Outcome};
use post_login_action::provider::{Acquired, Settings, Source};
use post_login_action::retry::RetryPolicy;
use post_login_action::secrets::{self, Secrets};
use post_login_action::state::TokenState;
use post_login_action::token::fingerprint;
use serde_json::{Value, json};
use support::*;

const UNAUTHORIZED: &str = r#"{"error":"access_denied","error_description":"Unauthorized"}"#;
const UNAVAILABLE: &str = r#"{"error":"temporarily_unavailable"}"#;
const TOO_MANY: &str =
    r#"{"error":"too_many_requests","error_description":"Global limit has been reached"}"#;
const CONNECTION_REFUSED: &str = "TypeError: fetch failed (connection refused)";

// ---------------------------------------------------------------------------------------------
// Helpers (local to this file; the shared fake host is not edited).

fn acquire_with(host: &FakeHost, state: &TokenState, secrets: &Secrets) -> Result<Acquired, Error> {
    block_on(provider(host, state, secrets).acquire())
}

fn acquire(host: &FakeHost, state: &TokenState) -> Result<Acquired, Error> {
    acquire_with(host, state, &secrets())
}

/// A login that must get a token.
fn login(host: &FakeHost, state: &TokenState) -> Acquired {
    acquire(host, state).expect("the login gets a token")
}

/// A login that must fail without a token.
fn login_err(host: &FakeHost, state: &TokenState) -> Error {
    match acquire(host, state) {
        Ok(acquired) => panic!("expected an error, got a token from {:?}", acquired.source),
        Err(error) => error,
    }
}

fn refresh(host: &FakeHost, state: &TokenState) {
    block_on(provider(host, state, &secrets()).refresh());
}

fn token(acquired: &Acquired) -> &str {
    acquired.token.access_token()
}

fn field(host: &FakeHost, event: &str, key: &str) -> Option<Value> {
    host.last(event).and_then(|r| r.get(key).cloned())
}

/// Milliseconds since the test started.
fn elapsed(host: &FakeHost) -> u64 {
    host.now.get() - NOW
}

/// Moves the clock to `NOW + offset_ms`.
fn at(host: &FakeHost, offset_ms: u64) {
    assert!(
        NOW + offset_ms >= host.now.get(),
        "the clock never goes back"
    );
    host.now.set(NOW + offset_ms);
}

fn is_cooling_down(error: &Error) -> bool {
    matches!(error, Error::CoolingDown { .. })
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;
type Login<'a> = Boxed<'a, Result<Acquired, Error>>;

// ---------------------------------------------------------------------------------------------
// 1–2. Memory and cache tiers.

#[test]
fn memory_tier_serves_later_logins_without_requests_or_cache_reads() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let issued = host.answer_token(86_400);

    let first = login(&host, &state);
    assert_eq!(first.source, Source::Endpoint);
    assert_eq!(token(&first), issued);
    assert_eq!(host.token_requests(), 1);
    let reads = host.cache_reads.get();
    assert_eq!(reads, 1, "the first login looked in the cache once");

    for _ in 0..20 {
        host.advance(60_000);
        let next = login(&host, &state);
        assert_eq!(next.source, Source::Memory);
        assert_eq!(token(&next), issued);
        assert!(!next.refresh_due);
    }
    assert_eq!(host.token_requests(), 1);
    assert_eq!(
        host.cache_reads.get(),
        reads,
        "memory hits never read the cache"
    );
    assert_eq!(host.count("cache_hit"), 20);
    assert_eq!(field(&host, "cache_hit", "tier"), Some(json!("memory")));
    host.assert_logs_hide_credentials(&[issued]);
}

#[test]
fn a_new_isolate_reads_the_trigger_cache_once_then_serves_from_memory() {
    let host = FakeHost::new();
    let issued = host.answer_token(86_400);
    let first_isolate = TokenState::new();
    login(&host, &first_isolate);
    assert_eq!(host.token_requests(), 1);
    assert!(host.cached().is_some());

    host.advance(1_000);
    let isolate = TokenState::new();
    let reads = host.cache_reads.get();
    let from_cache = login(&host, &isolate);
    assert_eq!(from_cache.source, Source::Cache);
    assert_eq!(token(&from_cache), issued);
    assert!(!from_cache.refresh_due);
    assert_eq!(host.cache_reads.get(), reads + 1);
    assert_eq!(field(&host, "cache_hit", "tier"), Some(json!("cache")));

    host.advance(1_000);
    let from_memory = login(&host, &isolate);
    assert_eq!(from_memory.source, Source::Memory);
    assert_eq!(token(&from_memory), issued);
    assert_eq!(host.cache_reads.get(), reads + 1);
    assert_eq!(host.token_requests(), 1, "neither login made a request");
}

// ---------------------------------------------------------------------------------------------
// 3. Single-flight.

#[test]
fn two_hundred_concurrent_misses_share_one_token_request() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let s = secrets();
    let p = provider(&host, &state, &s);
    let issued = host.answer_token(86_400);
    host.gate.close();

    let logins: Vec<Login<'_>> = (0..200)
        .map(|_| Box::pin(p.acquire()) as Login<'_>)
        .collect();
    let mut requests_while_held = Vec::new();
    let results = drive_all(logins, || {
        requests_while_held.push(host.token_requests());
        host.gate.open();
    });

    assert_eq!(requests_while_held, [1], "one request held at the gate");
    assert_eq!(host.token_requests(), 1);
    let acquired: Vec<Acquired> = results.into_iter().map(Result::unwrap).collect();
    assert!(acquired.iter().all(|a| token(a) == issued));
    let count = |source| acquired.iter().filter(|a| a.source == source).count();
    assert_eq!(count(Source::Endpoint), 1);
    assert_eq!(count(Source::Shared), 199);
    assert_eq!(host.count("token_request_joined"), 199);
    assert_eq!(host.count("cache_write"), 1);
    host.assert_logs_hide_credentials(&[issued]);
}

#[test]
fn a_failure_in_flight_is_shared_by_all_waiting_logins() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let s = secrets();
    let p = provider(&host, &state, &s);
    host.answer(401, UNAUTHORIZED);
    host.gate.close();

    let logins: Vec<Login<'_>> = (0..200)
        .map(|_| Box::pin(p.acquire()) as Login<'_>)
        .collect();
    let results = drive_all(logins, || host.gate.open());

    assert_eq!(host.token_requests(), 1);
    let expected = token_error(401, UNAUTHORIZED);
    for result in results {
        assert_eq!(result.unwrap_err(), expected);
    }
    assert_eq!(host.count("token_request_joined"), 199);
    assert_eq!(host.count("cooldown_started"), 1);
    assert!(host.cached().is_none());
}

// ---------------------------------------------------------------------------------------------
// 4. Refresh ahead of expiry.

/// One token's lifecycle in one isolate: the exact refresh point, a due login that is served
/// at once from memory, the background refresh, and the new token afterwards.
fn refresh_ahead(lifetime_s: u64, jitter: f64, refresh_at: u64, use_until: u64) {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.randoms.borrow_mut().push_back(jitter);
    let old = host.answer_token(lifetime_s);
    assert_eq!(login(&host, &state).source, Source::Endpoint);
    assert_eq!(host.cached().unwrap().expires_at_ms, NOW + use_until);

    // Just before the refresh point: not due.
    at(&host, refresh_at - 1);
    let before = login(&host, &state);
    assert_eq!((before.source, before.refresh_due), (Source::Memory, false));

    // At the refresh point: due, and still served at once from memory. The gate is closed:
    // a login that made a request would never complete.
    at(&host, refresh_at);
    host.gate.close();
    let due = login(&host, &state);
    assert_eq!(token(&due), old);
    assert_eq!((due.source, due.refresh_due), (Source::Memory, true));
    assert_eq!(field(&host, "cache_hit", "refresh"), Some(json!("due")));
    let effects = block_on(execute(
        &host,
        &state,
        &secrets_with(&[]),
        &Config::default(),
        Some("auth0|123"),
    ));
    assert!(effects.refresh_due, "the host is told to refresh");
    assert!(!effects.deny);
    host.gate.open();
    assert_eq!(host.token_requests(), 1, "due logins make no request");

    // The background refresh: exactly one request; the new token serves, not due.
    let new = host.answer_token(lifetime_s);
    refresh(&host, &state);
    assert_eq!(host.token_requests(), 2);
    assert_eq!(host.count("refresh_started"), 1);
    let after = login(&host, &state);
    assert_eq!(token(&after), new);
    assert_eq!((after.source, after.refresh_due), (Source::Memory, false));
    assert!(host.cached().unwrap().value.contains(&new));
    host.assert_logs_hide_credentials(&[old, new]);
}

/// Without a refresh, the old token serves until `use_until`, and then a login waits for a
/// request.
fn no_refresh_blocks_after_use_until(lifetime_s: u64, use_until: u64) {
    let host = FakeHost::new();
    let state = TokenState::new();
    let old = host.answer_token(lifetime_s);
    login(&host, &state);

    at(&host, use_until - 1);
    let last = login(&host, &state);
    assert_eq!(token(&last), old);
    assert_eq!((last.source, last.refresh_due), (Source::Memory, true));

    at(&host, use_until);
    let new = host.answer_token(lifetime_s);
    host.gate.close();
    let s = secrets();
    let p = provider(&host, &state, &s);
    let mut stalls = 0;
    let result = drive_all(vec![Box::pin(p.acquire()) as Login<'_>], || {
        stalls += 1;
        host.gate.open();
    });
    assert_eq!(stalls, 1, "the login waited for the token request");
    let acquired = result.into_iter().next().unwrap().unwrap();
    assert_eq!(acquired.source, Source::Endpoint);
    assert_eq!(token(&acquired), new);
    assert_eq!(host.token_requests(), 2);
}

#[test]
fn a_24_hour_token_is_refreshed_ahead_from_the_window_start() {
    // Lifetime 86,400 s: use_until = 86,000 s (the cap; expiry − 300 s would be later);
    // window = 8,640 s, so it starts at 77,760 s; span to use_until = 8,240 s.
    refresh_ahead(86_400, 0.0, 77_760_000, 86_000_000);
    // jitter 0.999: 77,760 s + ½ · 0.999 · 8,240 s = 77,760 s + 4,115.88 s.
    refresh_ahead(86_400, 0.999, 81_875_880, 86_000_000);
    // The default random 0.5: a quarter into the span.
    refresh_ahead(86_400, 0.5, 79_820_000, 86_000_000);
    no_refresh_blocks_after_use_until(86_400, 86_000_000);
}

#[test]
fn a_90_second_token_is_refreshed_ahead_late_in_its_life() {
    // Lifetime 90 s: margin 10 s (floor) so use_until = 80 s. The last tenth of the life (81 s
    // on) falls past use_until, so the window is the last tenth of the usable 80 s: from 72 s,
    // a span of 8 s.
    refresh_ahead(90, 0.0, 72_000, 80_000);
    // jitter 0.999: 72 s + ½ · 0.999 · 8 s = 72 s + 3.996 s.
    refresh_ahead(90, 0.999, 75_996, 80_000);
    refresh_ahead(90, 0.5, 74_000, 80_000);
    no_refresh_blocks_after_use_until(90, 80_000);
}

#[test]
fn over_six_minutes_of_90_second_tokens_no_login_waits_after_the_first() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let mut tokens = vec![host.answer_token(90)];
    assert_eq!(login(&host, &state).source, Source::Endpoint);

    // A login every second. With random() = 0.5 each token's refresh point is 74 s after it
    // was received (late in its 90 s life): refreshes at 74, 148, 222 and 296 s — one request
    // per lifetime, where a refresh at half the life made seven in six minutes.
    let mut refreshed_at = Vec::new();
    let mut served = vec![tokens[0].clone()];
    for second in 1..=360 {
        at(&host, second * 1000);
        let requests = host.token_requests();
        host.gate.close(); // a login that waited on a request would never complete
        let acquired = login(&host, &state);
        host.gate.open();
        assert_eq!(
            host.token_requests(),
            requests,
            "login at {second} s made a request"
        );
        assert_eq!(acquired.source, Source::Memory, "login at {second} s");
        if served.last().map(String::as_str) != Some(token(&acquired)) {
            served.push(token(&acquired).to_owned());
        }
        if acquired.refresh_due {
            tokens.push(host.answer_token(90));
            refresh(&host, &state);
            assert_eq!(host.token_requests(), requests + 1);
            refreshed_at.push(second);
        }
    }
    assert_eq!(refreshed_at, [74, 148, 222, 296]);
    assert_eq!(host.token_requests(), 1 + refreshed_at.len());
    assert_eq!(host.token_requests(), 5);
    assert_eq!(
        served, tokens,
        "each new token served the logins after its refresh"
    );
    host.assert_logs_hide_credentials(&tokens);
}

#[test]
fn a_48_hour_token_still_gets_a_refresh_window_before_the_86000_s_cap() {
    // A 172,800 s token is cached only 86,000 s (the cap). Its window (10 % = 17,280 s, ending
    // at expiry) starts at 155,520 s, after use_until, so `window_start_ms` clamps it to
    // use_until: the refresh point *is* use_until, the token is never due while it serves,
    // and at 86,000 s every login blocks on a request — the refresh-ahead promise is lost.
    let host = FakeHost::new();
    let state = TokenState::new();
    host.randoms.borrow_mut().push_back(0.0);
    host.answer_token(172_800);
    login(&host, &state);
    assert_eq!(host.cached().unwrap().expires_at_ms, NOW + 86_000_000);

    at(&host, 86_000_000 - 1);
    let last = login(&host, &state);
    assert!(
        last.refresh_due,
        "one millisecond before use_until the token must be due for refresh"
    );
}

// ---------------------------------------------------------------------------------------------
// 6–7. Static stability and adoption.

#[test]
fn a_refresh_failing_with_500s_keeps_the_old_token_serving_through_the_cool_down() {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.randoms.borrow_mut().push_back(0.0); // refresh point at 72 s
    let old = host.answer_token(90);
    login(&host, &state);

    at(&host, 72_000);
    assert!(login(&host, &state).refresh_due);
    for _ in 0..4 {
        host.answer(500, UNAVAILABLE);
    }
    refresh(&host, &state);
    // 4 attempts with backoffs of 125, 250 and 500 ms (random() = 0.5).
    assert_eq!(host.token_requests(), 5);
    assert_eq!(*host.sleeps.borrow(), [125, 250, 500]);
    assert_eq!(elapsed(&host), 72_875);
    let failed = host.last("refresh_failed").unwrap();
    assert_eq!(failed.level(), Level::Warn);
    assert_eq!(failed.get("error"), Some(&json!("token_endpoint")));
    assert_eq!(failed.get("keeps_serving"), Some(&json!(fingerprint(&old))));
    assert_eq!(failed.get("valid_for_s"), Some(&json!(7))); // (80,000 − 72,875) / 1000
    assert_eq!(
        field(&host, "cooldown_started", "cooldown_ms"),
        Some(json!(2_000))
    );

    // The old token keeps serving, not due, until the cool-down ends at 74,875 ms.
    for offset in [72_875, 73_500, 74_874] {
        at(&host, offset);
        let acquired = login(&host, &state);
        assert_eq!(token(&acquired), old);
        assert_eq!(
            (acquired.source, acquired.refresh_due),
            (Source::Memory, false)
        );
    }
    refresh(&host, &state); // during the cool-down: nothing
    assert_eq!(host.token_requests(), 5);
    at(&host, 74_875);
    let due = login(&host, &state);
    assert_eq!((token(&due), due.refresh_due), (old.as_str(), true));
    assert_eq!(host.token_requests(), 5);
}

#[test]
fn a_refresh_refused_with_401_keeps_the_old_token_serving_for_30_seconds() {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.randoms.borrow_mut().push_back(0.0);
    let old = host.answer_token(90);
    login(&host, &state);

    at(&host, 45_000);
    host.answer(401, UNAUTHORIZED);
    refresh(&host, &state);
    assert_eq!(host.token_requests(), 2, "a 401 is not retried");
    assert!(host.sleeps.borrow().is_empty());
    let failed = host.last("refresh_failed").unwrap();
    assert_eq!(failed.level(), Level::Warn);
    assert_eq!(failed.get("keeps_serving"), Some(&json!(fingerprint(&old))));
    assert_eq!(failed.get("valid_for_s"), Some(&json!(35)));
    assert_eq!(
        field(&host, "cooldown_started", "class"),
        Some(json!("configuration"))
    );
    assert_eq!(
        field(&host, "cooldown_started", "cooldown_ms"),
        Some(json!(30_000))
    );

    for offset in [45_000, 60_000, 74_999] {
        at(&host, offset);
        let acquired = login(&host, &state);
        assert_eq!(token(&acquired), old);
        assert!(
            !acquired.refresh_due,
            "not due during the cool-down ({offset})"
        );
    }
    at(&host, 75_000);
    assert!(login(&host, &state).refresh_due);
    assert_eq!(host.token_requests(), 2);
    assert_eq!(host.count("token_error"), 0, "no login failed");
}

#[test]
fn a_refresh_adopts_a_newer_token_another_isolate_cached() {
    let host = FakeHost::new();
    let isolate_a = TokenState::new();
    let isolate_b = TokenState::new();
    let first = host.answer_token(90);
    login(&host, &isolate_a);

    // At 74 s (random() = 0.5) both isolates are due. B refreshes first.
    at(&host, 74_000);
    let b = login(&host, &isolate_b);
    assert_eq!((b.source, b.refresh_due), (Source::Cache, true));
    let second = host.answer_token(90);
    refresh(&host, &isolate_b);
    assert_eq!(host.token_requests(), 2);
    assert!(host.cached().unwrap().value.contains(&second));

    // A is due too; its refresh finds B's newer token in the trigger cache.
    let a = login(&host, &isolate_a);
    assert_eq!((token(&a), a.refresh_due), (first.as_str(), true));
    refresh(&host, &isolate_a);
    assert_eq!(host.token_requests(), 2, "adopted, not requested");
    assert_eq!(host.count("refresh_adopted"), 1);
    assert_eq!(
        field(&host, "refresh_adopted", "fingerprint"),
        Some(json!(fingerprint(&second)))
    );
    let reads = host.cache_reads.get();
    let a = login(&host, &isolate_a);
    assert_eq!(token(&a), second);
    assert_eq!((a.source, a.refresh_due), (Source::Memory, false));
    assert_eq!(host.cache_reads.get(), reads);
    host.assert_logs_hide_credentials(&[first, second]);
}

#[test]
fn a_refresh_re_reads_the_shared_cache_and_adopts_what_another_isolate_stored_there() {
    // Each isolate has its own copy of the trigger cache; a newer token another isolate stored
    // is only in the shared one (KV) until this isolate re-reads it, which it does before it
    // refreshes.
    let (host_a, host_b) = (FakeHost::new(), FakeHost::new());
    let (isolate_a, isolate_b) = (TokenState::new(), TokenState::new());
    let first = host_a.answer_token(90);
    login(&host_a, &isolate_a);

    at(&host_a, 74_000);
    at(&host_b, 74_000);
    let second = host_b.answer_token(90);
    login(&host_b, &isolate_b);
    *host_a.shared_cache.borrow_mut() = host_b.cache.borrow().clone();

    let a = login(&host_a, &isolate_a);
    assert_eq!((token(&a), a.refresh_due), (first.as_str(), true));
    refresh(&host_a, &isolate_a);
    assert_eq!(host_a.cache_reloads.get(), 1);
    assert_eq!(host_a.token_requests(), 1, "adopted, not requested");
    assert_eq!(
        field(&host_a, "refresh_adopted", "fingerprint"),
        Some(json!(fingerprint(&second)))
    );
    let a = login(&host_a, &isolate_a);
    assert_eq!((token(&a), a.source), (second.as_str(), Source::Memory));
    host_a.assert_logs_hide_credentials(&[first, second]);
}

// ---------------------------------------------------------------------------------------------
// 8. Retries inside the budget.

#[test]
fn two_503s_then_a_token_take_three_requests_with_jittered_backoff() {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.latency_ms.set(100);
    // Backoff ceilings: 250 ms, then 500 ms; random() = 0.999 puts each just under it.
    host.randoms.borrow_mut().extend([0.999, 0.999]);
    host.answer(503, UNAVAILABLE).answer(503, UNAVAILABLE);
    let issued = host.answer_token(86_400);

    let acquired = login(&host, &state);
    assert_eq!(token(&acquired), issued);
    assert_eq!(acquired.source, Source::Endpoint);
    assert_eq!(host.token_requests(), 3);
    let sleeps = host.sleeps.borrow().clone();
    assert_eq!(sleeps, [249, 499]);
    assert!(
        sleeps[0] < 250 && sleeps[1] < 500,
        "within the full-jitter ceilings"
    );
    let sent_at: Vec<u64> = host.sent.borrow().iter().map(|s| s.at - NOW).collect();
    assert_eq!(sent_at, [0, 349, 948]);
    assert_eq!(elapsed(&host), 1_048);
    assert!(elapsed(&host) < 5_000);
    assert_eq!(host.count("token_retry"), 2);
    assert_eq!(
        field(&host, "token_retry", "class"),
        Some(json!("transient"))
    );
    assert_eq!(field(&host, "token_retry", "wait_ms"), Some(json!(499)));
    assert_eq!(host.count("cooldown_started"), 0);
}

#[test]
fn two_transport_errors_then_a_token_take_three_requests_with_jittered_backoff() {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.randoms.borrow_mut().extend([0.2, 0.6]);
    host.fail_transport(CONNECTION_REFUSED)
        .fail_transport("TypeError: Network connection lost.");
    let issued = host.answer_token(86_400);

    assert_eq!(token(&login(&host, &state)), issued);
    assert_eq!(host.token_requests(), 3);
    // ⌊250 · 0.2⌋ and ⌊500 · 0.6⌋.
    assert_eq!(*host.sleeps.borrow(), [50, 300]);
    assert_eq!(elapsed(&host), 350);
    assert_eq!(host.count("token_request"), 3);
    assert_eq!(
        field(&host, "token_request", "outcome"),
        None,
        "the last attempt got an answer"
    );
    let first = host
        .logs
        .borrow()
        .iter()
        .find(|r| r.event() == "token_request")
        .cloned();
    assert_eq!(first.unwrap().get("outcome"), Some(&json!("no_response")));
}

#[test]
fn always_503_with_slow_answers_stops_when_the_next_attempt_cannot_fit_the_budget() {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.latency_ms.set(1_500);
    for _ in 0..6 {
        host.answer(503, UNAVAILABLE);
    }

    let error = login_err(&host, &state);
    assert_eq!(error, token_error(503, UNAVAILABLE));
    // Attempt 1: 0 → 1,500, wait 125; attempt 2: 1,625 → 3,125, wait 250; attempt 3:
    // 3,375 → 4,875; the next wait (500 ms) would end past the 5 s budget: stop.
    assert_eq!(host.token_requests(), 3);
    assert_eq!(*host.sleeps.borrow(), [125, 250]);
    assert_eq!(elapsed(&host), 4_875);
    assert!(elapsed(&host) <= 5_000);
    let timeouts: Vec<(u64, u64)> = host
        .sent
        .borrow()
        .iter()
        .map(|s| (s.at - NOW, s.timeout_ms))
        .collect();
    assert_eq!(timeouts, [(0, 5_000), (1_625, 3_375), (3_375, 1_625)]);
    let cooldown = host.last("cooldown_started").unwrap();
    assert_eq!(cooldown.get("class"), Some(&json!("transient")));
    assert_eq!(cooldown.get("cooldown_ms"), Some(&json!(2_000)));
    assert_eq!(cooldown.get("failures"), Some(&json!(1)));
    assert!(host.cached().is_none());
}

#[test]
fn always_503_without_backoff_ends_with_a_request_timed_out_at_the_budget() {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.latency_ms.set(1_500);
    host.randoms.borrow_mut().extend([0.0, 0.0, 0.0]);
    for _ in 0..6 {
        host.answer(503, UNAVAILABLE);
    }

    let error = login_err(&host, &state);
    // Attempts at 0, 1.5, 3 and 4.5 s; the 4th has 500 ms left and times out at exactly 5 s.
    assert!(matches!(error, Error::Transport { ref reason, .. } if reason.contains("Timeout")));
    assert_eq!(host.token_requests(), 4);
    let timeouts: Vec<(u64, u64)> = host
        .sent
        .borrow()
        .iter()
        .map(|s| (s.at - NOW, s.timeout_ms))
        .collect();
    assert_eq!(
        timeouts,
        [(0, 5_000), (1_500, 3_500), (3_000, 2_000), (4_500, 500)]
    );
    assert_eq!(elapsed(&host), 5_000);
    assert_eq!(
        field(&host, "cooldown_started", "class"),
        Some(json!("transient"))
    );
    assert_eq!(
        field(&host, "cooldown_started", "cooldown_ms"),
        Some(json!(2_000))
    );
}

// ---------------------------------------------------------------------------------------------
// 9. Rate limits.

#[test]
fn a_429_with_retry_after_1_waits_one_second_then_succeeds() {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.answer_with(429, TOO_MANY, &[("retry-after", "1")]);
    let issued = host.answer_token(86_400);

    assert_eq!(token(&login(&host, &state)), issued);
    assert_eq!(host.token_requests(), 2);
    assert_eq!(*host.sleeps.borrow(), [1_000]);
    assert_eq!(
        field(&host, "token_retry", "class"),
        Some(json!("rate_limited"))
    );
    assert_eq!(field(&host, "token_retry", "wait_ms"), Some(json!(1_000)));
    assert_eq!(host.count("cooldown_started"), 0);
}

#[test]
fn a_429_with_retry_after_beyond_the_budget_fails_at_once_and_cools_down_until_the_reset() {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.answer_with(429, TOO_MANY, &[("retry-after", "10")]);

    assert_eq!(login_err(&host, &state), token_error(429, TOO_MANY));
    assert_eq!(host.token_requests(), 1);
    assert!(host.sleeps.borrow().is_empty());
    assert_eq!(elapsed(&host), 0);
    let cooldown = host.last("cooldown_started").unwrap();
    assert_eq!(cooldown.get("class"), Some(&json!("rate_limited")));
    assert_eq!(cooldown.get("cooldown_ms"), Some(&json!(10_000)));

    at(&host, 9_999);
    match login_err(&host, &state) {
        Error::CoolingDown { remaining_ms, .. } => assert_eq!(remaining_ms, 1),
        other => panic!("expected CoolingDown, got {other:?}"),
    }
    assert_eq!(host.token_requests(), 1);
    at(&host, 10_000);
    host.answer_token(86_400);
    login(&host, &state);
    assert_eq!(host.token_requests(), 2);
}

#[test]
fn x_ratelimit_reset_is_honoured_without_retry_after() {
    // Inside the budget: wait until the reset, then succeed.
    let host = FakeHost::new();
    let state = TokenState::new();
    let reset = (NOW / 1000 + 2).to_string();
    host.answer_with(429, TOO_MANY, &[("x-ratelimit-reset", &reset)]);
    host.answer_token(86_400);
    login(&host, &state);
    assert_eq!(host.token_requests(), 2);
    assert_eq!(*host.sleeps.borrow(), [2_000]);

    // Beyond the budget: fail at once, cool down until the reset.
    let host = FakeHost::new();
    let state = TokenState::new();
    let reset = (NOW / 1000 + 60).to_string();
    host.answer_with(
        429,
        TOO_MANY,
        &[
            ("x-ratelimit-reset", &reset),
            ("x-ratelimit-remaining", "0"),
        ],
    );
    login_err(&host, &state);
    assert_eq!(host.token_requests(), 1);
    assert!(host.sleeps.borrow().is_empty());
    assert_eq!(
        field(&host, "cooldown_started", "cooldown_ms"),
        Some(json!(60_000))
    );
    at(&host, 59_999);
    assert!(is_cooling_down(&login_err(&host, &state)));
    assert_eq!(host.token_requests(), 1);
}

#[test]
fn a_429_without_a_reset_header_cools_down_for_30_seconds() {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.answer(429, TOO_MANY);

    assert_eq!(login_err(&host, &state), token_error(429, TOO_MANY));
    assert_eq!(host.token_requests(), 1);
    assert!(host.sleeps.borrow().is_empty());
    assert_eq!(
        field(&host, "cooldown_started", "cooldown_ms"),
        Some(json!(30_000))
    );
    at(&host, 29_999);
    assert!(is_cooling_down(&login_err(&host, &state)));
    assert_eq!(host.token_requests(), 1);
    at(&host, 30_000);
    host.answer_token(86_400);
    login(&host, &state);
    assert_eq!(host.token_requests(), 2);
}

// ---------------------------------------------------------------------------------------------
// 10. Configuration errors.

#[test]
fn configuration_errors_make_exactly_one_request_and_name_the_likely_cause() {
    for (status, body, likely_cause) in [
        (
            400,
            r#"{"error":"access_denied","error_description":"Service not enabled within domain: https://x/api/v2/"}"#,
            "the token request was malformed or named an unknown audience",
        ),
        (401, UNAUTHORIZED, "wrong CLIENT_ID or CLIENT_SECRET"),
        (
            403,
            r#"{"error":"access_denied","error_description":"Client is not authorized to access \"https://tenant.eu.auth0.com/api/v2/\"."}"#,
            "no client grant authorizes this application for ACCOUNT_API",
        ),
    ] {
        let host = FakeHost::new();
        let state = TokenState::new();
        host.answer(status, body);
        host.answer_token(86_400); // must not be fetched: no retry
        let outcome = block_on(login_outcome(
            &host,
            &state,
            secrets_with(&[]),
            OnTokenError::Continue,
        ));
        assert!(
            matches!(outcome, Outcome::Continue(Error::Status { endpoint: Endpoint::Token, status: s, .. }) if s == status),
            "{status}"
        );
        assert_eq!(host.token_requests(), 1, "{status}");
        assert!(host.sleeps.borrow().is_empty(), "{status}");
        let record = host.last("token_error").unwrap();
        assert_eq!(record.level(), Level::Error);
        assert_eq!(
            record.get("likely_cause"),
            Some(&json!(likely_cause)),
            "{status}"
        );
        assert_eq!(
            field(&host, "cooldown_started", "class"),
            Some(json!("configuration"))
        );
        host.assert_logs_hide_credentials(&[]);
    }
}

// ---------------------------------------------------------------------------------------------
// 11. Negative cache.

#[test]
fn a_wrong_secret_makes_one_request_for_twenty_logins_in_twenty_seconds() {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.answer(401, UNAUTHORIZED);
    host.answer(401, UNAUTHORIZED);

    for second in 0..20 {
        at(&host, second * 1000);
        let error = login_err(&host, &state);
        if second == 0 {
            assert_eq!(error, token_error(401, UNAUTHORIZED));
        } else {
            match error {
                Error::CoolingDown { remaining_ms, last } => {
                    assert_eq!(remaining_ms, 30_000 - second * 1000);
                    assert_eq!(*last, token_error(401, UNAUTHORIZED));
                }
                other => panic!("expected CoolingDown, got {other:?}"),
            }
        }
    }
    assert_eq!(host.token_requests(), 1);
    assert_eq!(host.count("token_request_suppressed"), 19);
    assert_eq!(
        field(&host, "token_request_suppressed", "class"),
        Some(json!("configuration"))
    );
    assert_eq!(
        field(&host, "token_request_suppressed", "retry_in_ms"),
        Some(json!(11_000))
    );

    at(&host, 29_999);
    login_err(&host, &state);
    assert_eq!(host.token_requests(), 1);
    at(&host, 30_000);
    assert_eq!(login_err(&host, &state), token_error(401, UNAUTHORIZED));
    assert_eq!(host.token_requests(), 2);
}

#[test]
fn consecutive_configuration_failures_double_the_cool_down_to_300_s_and_a_success_resets_it() {
    let host = FakeHost::new();
    let state = TokenState::new();
    for (failures, cooldown_ms) in [30_000, 60_000, 120_000, 240_000, 300_000, 300_000]
        .into_iter()
        .enumerate()
    {
        host.answer(401, UNAUTHORIZED);
        let requests = host.token_requests();
        assert_eq!(login_err(&host, &state), token_error(401, UNAUTHORIZED));
        assert_eq!(host.token_requests(), requests + 1);
        let record = host.last("cooldown_started").unwrap();
        assert_eq!(record.get("cooldown_ms"), Some(&json!(cooldown_ms)));
        assert_eq!(record.get("failures"), Some(&json!(failures + 1)));
        host.advance(cooldown_ms - 1);
        assert!(is_cooling_down(&login_err(&host, &state)));
        assert_eq!(host.token_requests(), requests + 1);
        host.advance(1);
    }

    // A success clears the count: the next failure cools down for 30 s again.
    host.answer_token(90);
    login(&host, &state);
    host.advance(80_000); // past use_until
    host.answer(401, UNAUTHORIZED);
    login_err(&host, &state);
    let record = host.last("cooldown_started").unwrap();
    assert_eq!(record.get("cooldown_ms"), Some(&json!(30_000)));
    assert_eq!(record.get("failures"), Some(&json!(1)));
}

#[test]
fn changing_the_secret_or_identity_ends_the_cool_down_at_once() {
    for (name, value) in [
        (secrets::CLIENT_SECRET, "rotated-secret-value-456"),
        (secrets::CLIENT_ID, "rotated-client"),
        (secrets::ACCOUNT_API, "https://other.example/api/v2/"),
        (secrets::DOMAIN, "login.example.com"),
    ] {
        let host = FakeHost::new();
        let state = TokenState::new();
        host.answer(401, UNAUTHORIZED);
        login_err(&host, &state);
        host.advance(1_000);
        assert!(is_cooling_down(&login_err(&host, &state)), "{name}");

        host.answer_token(86_400);
        let changed = secrets_with(&[(name, value)]).unwrap();
        let result = acquire_with(&host, &state, &changed);
        assert_eq!(host.token_requests(), 2, "{name}: requested at once");
        assert_eq!(host.count("token_request_suppressed"), 1, "{name}");
        if name != secrets::ACCOUNT_API {
            // (The fake issues tokens for the default audience only.)
            assert_eq!(result.unwrap().source, Source::Endpoint, "{name}");
        }
        if name == secrets::DOMAIN {
            let url = host.sent.borrow().last().unwrap().url.clone();
            assert_eq!(url, "https://login.example.com/oauth/token");
        }
        let lines = host.log_lines();
        assert!(!lines.contains(CLIENT_SECRET) && !lines.contains("rotated-secret-value-456"));
    }
}

#[test]
fn transient_cool_downs_start_at_2_s_and_double_to_60_s() {
    let host = FakeHost::new();
    let state = TokenState::new();
    // No answers queued: every attempt is a transport error.
    for (failures, cooldown_ms) in [2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
        .into_iter()
        .enumerate()
    {
        let requests = host.token_requests();
        let error = login_err(&host, &state);
        assert_eq!(
            error,
            Error::Transport {
                endpoint: Endpoint::Token,
                reason: CONNECTION_REFUSED.into()
            }
        );
        assert_eq!(host.token_requests(), requests + 4, "4 attempts each time");
        let record = host.last("cooldown_started").unwrap();
        assert_eq!(record.get("class"), Some(&json!("transient")));
        assert_eq!(record.get("cooldown_ms"), Some(&json!(cooldown_ms)));
        assert_eq!(record.get("failures"), Some(&json!(failures + 1)));
        host.advance(cooldown_ms - 1);
        assert!(is_cooling_down(&login_err(&host, &state)));
        assert_eq!(host.token_requests(), requests + 4);
        host.advance(1);
    }
}

#[test]
fn suppressed_logins_are_logged_and_the_deny_policy_still_denies() {
    let host = FakeHost::new();
    let state = TokenState::new();
    host.answer(401, UNAUTHORIZED);
    login_err(&host, &state);
    host.advance(5_000);

    let outcome = block_on(login_outcome(
        &host,
        &state,
        secrets_with(&[]),
        OnTokenError::Deny,
    ));
    match outcome {
        Outcome::Deny(Error::CoolingDown { remaining_ms, .. }) => assert_eq!(remaining_ms, 25_000),
        other => panic!("expected Deny(CoolingDown), got {other:?}"),
    }
    let suppressed = host.last("token_request_suppressed").unwrap();
    assert_eq!(suppressed.get("retry_in_ms"), Some(&json!(25_000)));
    let record = host.last("token_error").unwrap();
    assert_eq!(record.get("error"), Some(&json!("cooling_down")));
    assert_eq!(record.get("on_token_error"), Some(&json!("deny")));
    assert_eq!(
        record.get("likely_cause"),
        Some(&json!("wrong CLIENT_ID or CLIENT_SECRET"))
    );

    let deny = Config {
        on_error: OnTokenError::Deny,
        ..Config::default()
    };
    let effects = block_on(execute(
        &host,
        &state,
        &secrets_with(&[]),
        &deny,
        Some("auth0|123"),
    ));
    assert!(effects.deny);
    let effects = block_on(execute(
        &host,
        &state,
        &secrets_with(&[]),
        &Config::default(),
        Some("auth0|123"),
    ));
    assert!(!effects.deny, "continue lets the login through");
    assert_eq!(host.token_requests(), 1);
    assert_eq!(host.count("token_request_suppressed"), 3);
}

// ---------------------------------------------------------------------------------------------
// 12. Request timeouts.

#[test]
fn request_timeouts_never_exceed_the_remaining_budget_or_10_s() {
    for budget_ms in [5_000, 3_000, 15_000] {
        let host = FakeHost::new();
        let state = TokenState::new();
        host.latency_ms.set(1_200);
        let settings = Settings {
            retry: RetryPolicy {
                budget_ms,
                ..RetryPolicy::default()
            },
            ..Settings::default()
        };
        let _ = block_on(
            provider(&host, &state, &secrets())
                .with_settings(settings)
                .acquire(),
        );
        let sent = host.sent.borrow();
        assert!(!sent.is_empty());
        assert_eq!(
            sent[0].timeout_ms,
            budget_ms.min(10_000),
            "budget {budget_ms}"
        );
        for request in sent.iter() {
            let remaining = NOW + budget_ms - request.at;
            assert!(
                request.timeout_ms <= remaining,
                "budget {budget_ms}: {request:?}"
            );
            assert_eq!(
                request.timeout_ms,
                remaining.min(10_000),
                "budget {budget_ms}"
            );
        }
        assert!(elapsed(&host) <= budget_ms, "budget {budget_ms}");
    }
}

#[test]
fn a_dropped_leader_lands_its_flight_so_waiting_logins_do_not_hang() {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    let host = FakeHost::new();
    let state = TokenState::new();
    let secrets = secrets();
    host.gate.close();
    let provider = provider(&host, &state, &secrets);
    let mut cx = Context::from_waker(Waker::noop());
    let mut follower = pin!(provider.acquire());
    {
        let mut leader = Box::pin(provider.acquire());
        assert!(
            leader.as_mut().poll(&mut cx).is_pending(),
            "the leader waits at the gate"
        );
        assert!(
            follower.as_mut().poll(&mut cx).is_pending(),
            "the follower waits on the flight"
        );
        // The leader's future is dropped here, mid-request.
    }
    match follower.as_mut().poll(&mut cx) {
        Poll::Ready(Err(post_login_action::Error::Transport { reason, .. })) => {
            assert_eq!(reason, "the token request was abandoned")
        }
        other => panic!("expected the abandoned flight's error, got {other:?}"),
    }
    assert_eq!(host.token_requests(), 1);
}

#[test]
fn the_synchronous_check_then_acquire_log_a_miss_once_and_a_hit_once() {
    let host = FakeHost::new();
    let state = TokenState::new();
    let secrets = secrets();
    host.answer_token(86_400);
    let provider = provider(&host, &state, &secrets);
    assert_eq!(provider.has_cached(), None, "nothing held or cached yet");
    block_on(provider.acquire()).unwrap();
    assert_eq!(host.count("cache_miss"), 1);
    assert_eq!(
        provider.has_cached(),
        Some(false),
        "held, not due for refresh"
    );
    assert_eq!(host.count("cache_hit"), 1);
    assert_eq!(host.token_requests(), 1);
}
