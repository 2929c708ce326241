//! The fleet's token broker: several isolates (each its own memory and trigger cache, as
//! isolates in different locations see different KV replicas) reaching one [`Broker`].

mod support;

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use post_login_action::Error;
use post_login_action::broker::{BROKER_PAUSE_MS, Broker, BrokerReply, BrokerRequest};
use post_login_action::provider::{Acquired, Source};
use post_login_action::state::TokenState;
use support::*;

const UNAUTHORIZED: &str = r#"{"error":"access_denied","error_description":"Unauthorized"}"#;

struct Isolate {
    host: FakeHost,
    state: TokenState,
}

struct Fleet {
    broker: Rc<FakeBroker>,
    isolates: Vec<Isolate>,
}

impl Fleet {
    fn new(n: usize) -> Self {
        let broker = FakeBroker::new();
        let isolates = (0..n)
            .map(|_| {
                let host = FakeHost::new();
                *host.broker.borrow_mut() = Some(broker.clone());
                Isolate {
                    host,
                    state: TokenState::new(),
                }
            })
            .collect();
        Fleet { broker, isolates }
    }

    /// Sets every clock of the fleet to `NOW + offset_ms`.
    fn at(&self, offset_ms: u64) {
        self.broker.host.now.set(NOW + offset_ms);
        for isolate in &self.isolates {
            isolate.host.now.set(NOW + offset_ms);
        }
    }

    /// Token requests the isolates made themselves (the fallback).
    fn isolate_requests(&self) -> usize {
        self.isolates.iter().map(|i| i.host.token_requests()).sum()
    }
}

fn acquire(isolate: &Isolate) -> Result<Acquired, Error> {
    let s = secrets();
    block_on(provider(&isolate.host, &isolate.state, &s).acquire())
}

fn refresh(isolate: &Isolate) {
    let s = secrets();
    block_on(provider(&isolate.host, &isolate.state, &s).refresh());
}

type Login<'a> = Pin<Box<dyn Future<Output = Result<Acquired, Error>> + 'a>>;

#[test]
fn a_cold_burst_across_isolates_makes_one_token_request() {
    let fleet = Fleet::new(3);
    let issued = fleet.broker.host.answer_token(86_400);
    fleet.broker.host.gate.close();
    let s = secrets();
    let providers: Vec<_> = fleet
        .isolates
        .iter()
        .map(|i| provider(&i.host, &i.state, &s))
        .collect();
    // 50 concurrent logins on each isolate, none with a token anywhere.
    let logins: Vec<Login<'_>> = providers
        .iter()
        .flat_map(|p| (0..50).map(move |_| Box::pin(p.acquire()) as Login<'_>))
        .collect();
    let results = drive_all(logins, || fleet.broker.host.gate.open());

    assert_eq!(
        fleet.broker.host.token_requests(),
        1,
        "one request for the fleet"
    );
    assert_eq!(fleet.isolate_requests(), 0, "no isolate asked Auth0 itself");
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().unwrap().token.access_token() == issued)
    );
    // One broker call per isolate: its other logins share that call.
    for isolate in &fleet.isolates {
        assert_eq!(isolate.host.broker_calls.get(), 1);
        assert_eq!(isolate.host.count("broker_token"), 1);
        isolate
            .host
            .assert_logs_hide_credentials(std::slice::from_ref(&issued));
    }
    fleet.broker.host.assert_logs_hide_credentials(&[issued]);
}

#[test]
fn steady_load_over_six_lifetimes_makes_one_request_per_lifetime_and_no_login_waits() {
    let fleet = Fleet::new(3);
    fleet.broker.host.answer_token(90);
    for isolate in &fleet.isolates {
        acquire(isolate).unwrap();
    }
    assert_eq!(fleet.broker.host.token_requests(), 1);

    // A login every second on every isolate for six 90 s lifetimes; a due refresh runs in the
    // background right after the login that found it due.
    let mut refreshes = 0;
    for second in 1..=540 {
        fleet.at(second * 1000);
        for isolate in &fleet.isolates {
            let requests = fleet.broker.host.token_requests();
            fleet.broker.host.gate.close(); // a login that waited on a request would hang
            let acquired = acquire(isolate).expect("every login has a token");
            fleet.broker.host.gate.open();
            assert_eq!(acquired.source, Source::Memory, "login at {second} s");
            assert_eq!(fleet.broker.host.token_requests(), requests);
            if acquired.refresh_due {
                // Whatever the broker may request now is issued now.
                fleet.broker.host.token_answers.borrow_mut().clear();
                fleet.broker.host.answer_token(90);
                refresh(isolate);
                refreshes += 1;
            }
        }
    }
    // The broker refreshes at 72 s of each 90 s token (the window's start): at 72, 144, …, 504 s.
    assert_eq!(fleet.broker.host.token_requests(), 1 + 7);
    assert_eq!(fleet.isolate_requests(), 0);
    // Each isolate asked once per lifetime; the first to ask made the broker refresh, the others
    // were served the new token.
    assert_eq!(refreshes, 3 * 7);
    assert_eq!(fleet.broker.host.count("refresh_started"), 7);
}

#[test]
fn a_wrong_secret_costs_one_request_per_cool_down_for_the_whole_fleet() {
    let fleet = Fleet::new(3);
    for _ in 0..3 {
        fleet.broker.host.answer(401, UNAUTHORIZED);
    }
    // Logins on every isolate every second for 60 s.
    for second in 0..60 {
        fleet.at(second * 1000);
        for isolate in &fleet.isolates {
            let error = acquire(isolate).expect_err("no token can be had");
            assert!(
                matches!(
                    error,
                    Error::Status { status: 401, .. } | Error::CoolingDown { .. }
                ),
                "{error:?}"
            );
        }
    }
    // Cool-downs of 30 s then 60 s: requests at 0 s and 30 s, for the whole fleet.
    assert_eq!(fleet.broker.host.token_requests(), 2);
    assert_eq!(fleet.isolate_requests(), 0);
    // Each isolate learnt the fleet's cool-down and did not even ask the broker during it.
    for isolate in &fleet.isolates {
        assert!(
            isolate.host.broker_calls.get() <= 3,
            "{}",
            isolate.host.broker_calls.get()
        );
        assert!(isolate.host.count("broker_cooling_down") >= 1);
    }
}

#[test]
fn an_unreachable_broker_falls_back_to_the_token_endpoint_and_is_skipped_for_a_while() {
    let fleet = Fleet::new(1);
    let isolate = &fleet.isolates[0];
    *isolate.host.broker_fault.borrow_mut() = Some("TimeoutError: broker timed out".into());
    let own = isolate.host.answer_token(86_400);

    let acquired = acquire(isolate).expect("the login still gets a token");
    assert_eq!(acquired.token.access_token(), own);
    assert_eq!(
        isolate.host.token_requests(),
        1,
        "the isolate asked Auth0 itself"
    );
    assert_eq!(fleet.broker.host.token_requests(), 0);
    let unavailable = isolate.host.last("broker_unavailable").unwrap();
    assert_eq!(
        unavailable.get("fallback"),
        Some(&serde_json::json!("token_endpoint"))
    );

    // A later miss within the pause goes straight to the endpoint: the broken broker costs
    // its timeout once, not on every cold login.
    isolate.state.forget(&own);
    isolate.host.cache.borrow_mut().clear();
    let second = isolate.host.answer_token(86_400);
    assert_eq!(acquire(isolate).unwrap().token.access_token(), second);
    assert_eq!(isolate.host.broker_calls.get(), 1);

    // After the pause the broker is tried again (and now answers).
    *isolate.host.broker_fault.borrow_mut() = None;
    isolate.state.forget(&second);
    isolate.host.cache.borrow_mut().clear();
    isolate.host.advance(BROKER_PAUSE_MS);
    let brokered = fleet.broker.host.answer_token(86_400);
    assert_eq!(acquire(isolate).unwrap().token.access_token(), brokered);
    assert_eq!(isolate.host.broker_calls.get(), 2);
    isolate
        .host
        .assert_logs_hide_credentials(&[own, second, brokered]);
}

#[test]
fn a_recycled_broker_serves_the_token_from_its_storage() {
    let fleet = Fleet::new(1);
    let issued = fleet.broker.host.answer_token(86_400);
    acquire(&fleet.isolates[0]).unwrap();

    // A new broker object (evicted, restarted) over the same storage.
    let recycled = Rc::new(FakeBroker {
        broker: Broker::new(),
        host: std::mem::take(&mut *fleet.broker.host.cache.borrow_mut())
            .into_iter()
            .fold(FakeHost::new(), |host, (key, entry)| {
                host.cache.borrow_mut().insert(key, entry);
                host
            }),
    });
    let fresh = FakeHost::new();
    *fresh.broker.borrow_mut() = Some(recycled.clone());
    let state = TokenState::new();
    let s = secrets();
    let acquired = block_on(provider(&fresh, &state, &s).acquire()).unwrap();
    assert_eq!(acquired.token.access_token(), issued);
    assert_eq!(recycled.host.token_requests(), 0, "no new request");
}

#[test]
fn the_protocol_hides_credentials_from_debug_output() {
    let s = secrets();
    let request = BrokerRequest::new(&s, None);
    assert!(!format!("{request:?}").contains(CLIENT_SECRET));
    let reply = BrokerReply::Token {
        access_token: "h.p.s".into(),
        issued_at: NOW,
        expires_at: NOW + 1,
    };
    assert!(!format!("{reply:?}").contains("h.p.s"));
    // A malformed request gets a refusal, not a panic.
    let answer = block_on(Broker::new().serve_json(&FakeHost::new(), "{not json"));
    assert!(answer.contains("\"type\":\"refused\""), "{answer}");
}

#[test]
fn a_token_the_management_api_refused_is_not_served_again_by_the_broker() {
    let fleet = Fleet::new(1);
    let isolate = &fleet.isolates[0];
    let refused = fleet.broker.host.answer_token(86_400);
    acquire(isolate).unwrap();

    // The Management API rejected it (revoked): the isolate discards it and asks again.
    let s = secrets();
    let p = provider(&isolate.host, &isolate.state, &s);
    let held = p.cached().unwrap().token;
    p.discard(&held);
    isolate.host.advance(1_000);
    fleet.at(1_000);
    let replacement = fleet.broker.host.answer_token(86_400);
    let acquired = acquire(isolate).unwrap();
    assert_eq!(
        acquired.token.access_token(),
        replacement,
        "not the refused token"
    );
    assert_eq!(fleet.broker.host.token_requests(), 2);
    isolate
        .host
        .assert_logs_hide_credentials(&[refused, replacement]);
}

#[test]
fn a_broker_failure_keeps_its_kind_for_the_isolate() {
    let fleet = Fleet::new(1);
    // 200 with a body that is not a token response: the broker's failure is `invalid_token`.
    fleet.broker.host.answer(200, r#"{"access_token":"x"}"#);
    let error = acquire(&fleet.isolates[0]).expect_err("no usable token");
    assert_eq!(error.kind(), "invalid_token", "{error}");
    assert_eq!(fleet.isolate_requests(), 0);
}

#[test]
fn a_refresh_the_broker_cannot_serve_keeps_the_held_token_without_rewriting_the_cache() {
    let fleet = Fleet::new(1);
    let isolate = &fleet.isolates[0];
    let held = fleet.broker.host.answer_token(90);
    acquire(isolate).unwrap();
    let writes = isolate.host.count("cache_write");

    // At the isolate's refresh point the broker's own refresh is refused: it answers with the
    // token it has, which is the one the isolate holds.
    fleet.at(76_000);
    fleet.broker.host.answer(401, UNAUTHORIZED);
    refresh(isolate);
    assert_eq!(fleet.broker.host.token_requests(), 2);
    assert_eq!(isolate.host.count("refresh_not_newer"), 1);
    assert_eq!(
        isolate.host.count("cache_write"),
        writes,
        "nothing new to write"
    );
    let acquired = acquire(isolate).unwrap();
    assert_eq!(acquired.token.access_token(), held);
    assert!(!acquired.refresh_due, "the next attempt waits");
}

#[test]
fn a_replacement_issued_in_the_same_second_as_the_refused_token_is_served_and_stored() {
    // `exp` is in whole seconds: a token issued within the second of the refused one expires
    // with it. It is still another token, told apart by its fingerprint.
    let fleet = Fleet::new(2);
    let refused = fleet.broker.host.answer_token(86_400);
    acquire(&fleet.isolates[0]).unwrap();
    acquire(&fleet.isolates[1]).unwrap();
    let s = secrets();
    let discard = |isolate: &Isolate| {
        let p = provider(&isolate.host, &isolate.state, &s);
        p.discard(&p.cached().unwrap().token);
    };

    discard(&fleet.isolates[0]);
    let replacement = fleet.broker.host.answer_token(86_400);
    let acquired = acquire(&fleet.isolates[0]).unwrap();
    assert_eq!(acquired.token.access_token(), replacement);
    assert_eq!(fleet.broker.host.token_requests(), 2);

    // The other isolate is refused the same token: the broker's replacement, which expires in
    // the same second, is what it gets — no third request.
    discard(&fleet.isolates[1]);
    let other = acquire(&fleet.isolates[1]).unwrap();
    assert_eq!(other.token.access_token(), replacement);
    assert_eq!(other.token.expires_at_ms(), acquired.token.expires_at_ms());
    assert_eq!(
        fleet.broker.host.token_requests(),
        2,
        "served, not refreshed"
    );
    assert_ne!(refused, replacement);
}

/// A new broker instance over `old`'s storage (it was evicted), with its clock and the token
/// endpoint's queued answers.
fn recycled(old: &FakeBroker) -> Rc<FakeBroker> {
    let host = FakeHost::new();
    host.now.set(old.host.now.get());
    *host.cache.borrow_mut() = old.host.cache.borrow().clone();
    *host.token_answers.borrow_mut() = std::mem::take(&mut *old.host.token_answers.borrow_mut());
    Rc::new(FakeBroker {
        broker: Broker::new(),
        host,
    })
}

#[test]
fn a_broker_evicted_during_a_cool_down_continues_the_failure_streak() {
    // Nobody calls the broker while the fleet cools down, so the platform may evict it; the
    // next failure must still double the cool-down (30 s, then 60 s), not start again at 30 s.
    let isolate = Isolate {
        host: FakeHost::new(),
        state: TokenState::new(),
    };
    let mut broker = FakeBroker::new();
    for _ in 0..4 {
        broker.host.answer(401, UNAUTHORIZED);
    }
    let mut requests = 0;
    for second in 0..100 {
        isolate.host.now.set(NOW + second * 1000);
        broker.host.now.set(NOW + second * 1000);
        *isolate.host.broker.borrow_mut() = Some(broker.clone());
        let _ = acquire(&isolate).expect_err("no token can be had");
        // Evicted after every answer.
        requests += broker.host.token_requests();
        broker = recycled(&broker);
    }
    // Failed requests at 0 s and 30 s (then 60 s of cool-down) and 90 s: three, not four.
    assert_eq!(requests, 3);
    assert_eq!(isolate.host.token_requests(), 0);
}
