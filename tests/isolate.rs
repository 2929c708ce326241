//! What an isolate keeps between logins and decides for them (`src/isolate.rs`), over the fake
//! host: settings decoded once per pair of objects, which logins finish without waiting, one
//! background refresh at a time handed to `waitUntil`, and the Management API entry points.

mod support;

use std::cell::Cell;
use std::rc::Rc;

use post_login_action::isolate::{Isolate, Login, SameObjects};
use post_login_action::post_login::{Config, Inputs, OnTokenError};
use post_login_action::{Error, secrets};
use support::*;

/// Settings objects named by a number: equal numbers are the same objects.
#[derive(Debug)]
struct Objects(u32);

impl SameObjects for Objects {
    fn same(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

fn inputs_with(config: Config) -> Inputs {
    Inputs {
        secrets: secrets_with(&[]),
        config,
    }
}

fn inputs() -> Rc<Inputs> {
    Rc::new(inputs_with(Config::default()))
}

/// Runs a login to its end; `true` when it finished without waiting.
fn login(isolate: &Rc<Isolate<Objects>>, host: &Rc<FakeHost>, inputs: Rc<Inputs>) -> bool {
    match isolate.on_execute_post_login(host.clone(), inputs, || Some(USER_ID.into())) {
        Login::Done => true,
        Login::Pending(effects) => {
            block_on(effects);
            false
        }
    }
}

const USER_ID: &str = "auth0|123";

#[test]
fn settings_are_decoded_once_per_pair_of_objects() {
    let isolate = Isolate::<Objects>::new();
    let decoded = Cell::new(0);
    let decode = || {
        decoded.set(decoded.get() + 1);
        inputs_with(Config::default())
    };
    let first = isolate.inputs(Objects(1), decode);
    let again = isolate.inputs(Objects(1), decode);
    assert_eq!(decoded.get(), 1, "the same objects are not decoded again");
    assert!(Rc::ptr_eq(&first, &again));
    let other = isolate.inputs(Objects(2), decode);
    assert_eq!(
        decoded.get(),
        2,
        "new objects (a new environment) are decoded"
    );
    assert!(!Rc::ptr_eq(&first, &other));
}

#[test]
fn a_login_with_a_token_at_hand_finishes_without_waiting_and_a_miss_waits() {
    let isolate = Isolate::<Objects>::new();
    let host = Rc::new(FakeHost::new());
    host.answer_token(86_400);
    assert!(
        !login(&isolate, &host, inputs()),
        "the first login must wait for the token"
    );
    assert_eq!(host.token_requests(), 1);
    let reads = host.cache_reads.get();
    for _ in 0..5 {
        assert!(login(&isolate, &host, inputs()), "a hit is synchronous");
    }
    assert_eq!(host.token_requests(), 1);
    assert_eq!(
        host.cache_reads.get(),
        reads,
        "hits are served from isolate memory"
    );
    assert!(host.background.borrow().is_empty(), "no refresh is due");
}

#[test]
fn a_roles_claim_login_waits_even_with_a_token_at_hand() {
    let isolate = Isolate::<Objects>::new();
    let host = Rc::new(FakeHost::new());
    host.answer_token(86_400);
    assert!(!login(&isolate, &host, inputs()));
    let config = Config {
        roles_claim: Some("https://example.com/roles".into()),
        ..Config::default()
    };
    host.answer_management(200, r#"[{"name":"admin"}]"#, &[]);
    let read_user = Cell::new(false);
    let login = isolate.on_execute_post_login(host.clone(), Rc::new(inputs_with(config)), || {
        read_user.set(true);
        Some(USER_ID.into())
    });
    let Login::Pending(effects) = login else {
        panic!("the roles claim needs the Management API");
    };
    assert!(read_user.get(), "the user id is read for the roles claim");
    let effects = block_on(effects);
    assert_eq!(
        effects.roles_claim,
        Some(("https://example.com/roles".into(), vec!["admin".into()]))
    );
}

#[test]
fn the_user_id_is_not_read_without_a_roles_claim() {
    let isolate = Isolate::<Objects>::new();
    let host = Rc::new(FakeHost::new());
    host.answer_token(86_400);
    let Login::Pending(effects) = isolate.on_execute_post_login(host.clone(), inputs(), || {
        panic!("event.user must not be read")
    }) else {
        panic!("a miss waits");
    };
    block_on(effects);
}

#[test]
fn one_background_refresh_at_a_time_is_handed_to_wait_until() {
    let isolate = Isolate::<Objects>::new();
    let host = Rc::new(FakeHost::new());
    host.answer_token(3_600);
    assert!(!login(&isolate, &host, inputs()));
    // Past the refresh point (3,255 s: the window starts 360 s before expiry, the token serves
    // until 300 s before it, and jitter 0.5 lands a quarter of the way), before 3,300 s.
    host.advance(3_280_000);
    for _ in 0..3 {
        assert!(
            login(&isolate, &host, inputs()),
            "the old token still serves"
        );
    }
    assert_eq!(
        host.background.borrow().len(),
        1,
        "one refresh, however many logins"
    );
    assert!(isolate.refreshing());
    let fresh = host.answer_token(3_600);
    assert_eq!(host.run_background(), 1);
    assert!(
        !isolate.refreshing(),
        "the slot is free once the refresh ended"
    );
    assert_eq!(host.token_requests(), 2);
    assert!(host.cached().unwrap().value.contains(&fresh));
    assert!(login(&isolate, &host, inputs()));
    assert!(
        host.background.borrow().is_empty(),
        "the new token is not due"
    );
}

#[test]
fn a_refresh_the_host_drops_unfinished_frees_the_slot() {
    let isolate = Isolate::<Objects>::new();
    let host = Rc::new(FakeHost::new());
    host.answer_token(3_600);
    assert!(!login(&isolate, &host, inputs()));
    host.advance(3_280_000);
    assert!(login(&isolate, &host, inputs()));
    assert!(isolate.refreshing());
    host.background.borrow_mut().clear();
    assert!(
        !isolate.refreshing(),
        "a dropped refresh must not block the next one"
    );
    assert!(login(&isolate, &host, inputs()));
    assert_eq!(host.background.borrow().len(), 1);
}

#[test]
fn management_entry_points_report_unusable_secrets_without_a_request() {
    let isolate = Isolate::<Objects>::new();
    let host = FakeHost::new();
    let broken = Inputs {
        secrets: secrets_with(&[(secrets::CLIENT_SECRET, "")]),
        config: Config {
            on_error: OnTokenError::Deny,
            ..Config::default()
        },
    };
    let error = block_on(isolate.management_token(&host, &broken)).unwrap_err();
    assert!(matches!(error, Error::Secret { .. }), "{error:?}");
    assert_eq!(
        host.last("token_error").unwrap().get("error").unwrap(),
        "secret"
    );
    let error = block_on(isolate.management(&host, &broken, async |client| {
        client.get_user(USER_ID).await
    }))
    .unwrap_err();
    assert!(matches!(error, Error::Secret { .. }), "{error:?}");
    assert!(host.sent.borrow().is_empty());
}

#[test]
fn the_management_token_and_client_share_the_isolate_memory() {
    let isolate = Isolate::<Objects>::new();
    let host = FakeHost::new();
    let issued = host.answer_token(86_400);
    let inputs = inputs();
    assert_eq!(
        block_on(isolate.management_token(&host, &inputs)).unwrap(),
        issued
    );
    host.answer_management(200, r#"{"user_id":"auth0|123"}"#, &[]);
    let user = block_on(isolate.management(&host, &inputs, async |client| {
        client.get_user(USER_ID).await
    }))
    .unwrap();
    assert_eq!(user["user_id"], "auth0|123");
    assert_eq!(
        host.token_requests(),
        1,
        "the client used the token in memory"
    );
    host.assert_logs_hide_credentials(&[issued]);
}
