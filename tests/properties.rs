//! Property tests: every parser of outside data (secrets, configuration, token responses, cache
//! values, rate-limit headers) never panics and keeps its invariants for arbitrary input, and the
//! expiry, refresh, backoff and cool-down arithmetic stays in bounds for any numbers.
//!

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use post_login_action::Error;
use post_login_action::error::Endpoint;
use post_login_action::error::SecretProblem;
use post_login_action::host::HttpResponse;
use post_login_action::log::{Level, LogRecord};
use post_login_action::management::{ManagementClient, role_names};
use post_login_action::policy::{
    CachedToken, MAX_CACHE_LIFETIME_MS, MAX_SAFETY_MARGIN_MS, MIN_SAFETY_MARGIN_MS, Miss,
    RefreshPolicy, safety_margin_ms, use_until_ms,
};
use post_login_action::post_login::OnTokenError;
use post_login_action::post_login::{Config, names};
use post_login_action::provider::{Settings, TokenProvider};
use post_login_action::retry::{FailureClass, RetryPolicy, rate_limit_reset_ms};
use post_login_action::secrets::{self, Domain, Secrets};
use post_login_action::state::TokenState;
use post_login_action::token::{ManagementToken, fingerprint, parse_token_response};
mod support;

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{Value, json};
use support::{AUDIENCE, CLIENT_ID, CLIENT_SECRET, DOMAIN, FakeHost, NOW, block_on, token_error};

// ---------------------------------------------------------------------------------------------
// Shared helpers and strategies
// ---------------------------------------------------------------------------------------------

const BASE_URL: &str = "https://tenant.eu.auth0.com";
const SECRET_NAMES: [&str; 4] = [
    secrets::DOMAIN,
    secrets::CLIENT_ID,
    secrets::CLIENT_SECRET,
    secrets::ACCOUNT_API,
];

/// `cases` cases, and no regression files written next to the tests (this file owns nothing else).
fn cases(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn secrets_of(domain: &str, client_id: &str, secret: &str, audience: &str) -> Secrets {
    Secrets::from_lookup(|name| {
        Some(
            match name {
                secrets::DOMAIN => domain,
                secrets::CLIENT_ID => client_id,
                secrets::CLIENT_SECRET => secret,
                _ => audience,
            }
            .to_owned(),
        )
    })
    .expect("test secrets are valid")
}

fn default_secrets() -> Secrets {
    secrets_of(DOMAIN, CLIENT_ID, CLIENT_SECRET, AUDIENCE)
}

/// A token with arbitrary timestamps. `ManagementToken::from_parts` is crate-private, so the token
/// is read back from a cache record, the one public way to build one with exact millisecond
/// values. Needs `expires_at >= 1`.
fn token_with(
    secrets: &Secrets,
    access_token: &str,
    issued_at: u64,
    expires_at: u64,
) -> ManagementToken {
    let record = json!({
        "v": 1,
        "domain": secrets.domain().base_url(),
        "client_id": secrets.client_id(),
        "audience": secrets.audience(),
        "access_token": access_token,
        "issued_at": issued_at,
        "expires_at": expires_at,
        "use_until": u64::MAX,
    });
    CachedToken::usable(&record.to_string(), secrets, 0)
        .expect("a record with expires_at >= 1 is usable at 0")
        .0
}

fn token(issued_at: u64, expires_at: u64) -> ManagementToken {
    token_with(&default_secrets(), "h.p.s", issued_at, expires_at)
}

/// Arbitrary JSON values, nested a few levels deep.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Strings of every kind: arbitrary Unicode, control characters, and very long ones.
fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        1 => "[\\x00-\\x1f\\x7f ]{0,12}",
        1 => ".{200,2000}",
        1 => "[a-zA-Z0-9:/.\\[\\]@?#%-]{0,40}",
    ]
}

/// Canonical dotted-quad text for a loopback check written independently of the crate.
fn independent_is_loopback(host: &str) -> bool {
    if host == "localhost" || host == "[::1]" {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4
        && octets.iter().all(|o| {
            !o.is_empty()
                && o.len() <= 3
                && o.bytes().all(|b| b.is_ascii_digit())
                && (o.len() == 1 || !o.starts_with('0'))
                && o.parse::<u16>().is_ok_and(|n| n <= 255)
        })
        && octets[0] == "127"
}

/// Splits `scheme://authority` and returns (scheme, host, port).
fn split_base_url(base: &str) -> (&str, &str, Option<&str>) {
    let (scheme, authority) = base.split_once("://").expect("base URL has a scheme");
    if let Some(end) = authority.find(']') {
        let (host, rest) = authority.split_at(end + 1);
        return (scheme, host, rest.strip_prefix(':'));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (scheme, host, Some(port)),
        None => (scheme, authority, None),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Domain::parse
// ---------------------------------------------------------------------------------------------

fn host_label() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?"
}

fn dns_host() -> impl Strategy<Value = String> {
    prop::collection::vec(host_label(), 1..5).prop_map(|labels| labels.join("."))
}

fn any_host() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => dns_host(),
        2 => any::<[u8; 4]>().prop_map(|o| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3])),
        2 => any::<[u8; 3]>().prop_map(|o| format!("127.{}.{}.{}", o[0], o[1], o[2])),
        1 => Just("localhost".to_owned()),
        1 => Just("LocalHost".to_owned()),
        1 => Just("[::1]".to_owned()),
        1 => "\\[[0-9a-fA-F:.]{0,20}\\]",
        1 => "\\[[^\\]]{0,8}\\]?",
        1 => "[a-z0-9.-]{0,20}",
        1 => arb_text(),
        1 => Just("127.0.0.1.evil.example".to_owned()),
        1 => Just("127.000.0.1".to_owned()),
        1 => Just("localhost.".to_owned()),
    ]
}

fn scheme() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "", "https://", "http://", "HTTPS://", "HtTp://", "ftp://", "://", "https:/", "https:",
        "http:///", "ws://",
    ])
}

fn userinfo() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", "", "user@", "user:pw@", "@"])
}

fn port() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just(String::new()),
        3 => (0u32..=99_999).prop_map(|p| format!(":{p}")),
        1 => (1u32..=65_535).prop_map(|p| format!(":{p:05}")),
        1 => prop::sample::select(vec![":", ":+80", ":-1", ":abc", ":443:443", ": 443"])
            .prop_map(str::to_owned),
    ]
}

fn tail() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "", "", "", "/", "//", "/path", "/api/v2/", "?q=1", "#frag", "/?", "@evil", " ", "\n",
    ])
}

/// Inputs shaped like a domain secret, with every part sometimes wrong.
fn domain_like() -> impl Strategy<Value = String> {
    (scheme(), userinfo(), any_host(), port(), tail())
        .prop_map(|(s, u, h, p, t)| format!("{s}{u}{h}{p}{t}"))
}

fn check_domain(input: &str) -> Result<(), TestCaseError> {
    let Ok(domain) = Domain::parse(input) else {
        return Ok(());
    };
    let base = domain.base_url();
    let (scheme, host, port) = split_base_url(base);
    prop_assert!(
        scheme == "https" || (scheme == "http" && independent_is_loopback(host)),
        "{input:?} gave {base:?}"
    );
    let authority = &base[scheme.len() + 3..];
    prop_assert!(
        !authority.contains(['/', '?', '#', '@'])
            && !authority
                .chars()
                .any(|c| c.is_whitespace() || c.is_control()),
        "{input:?} gave {base:?} with a path, query, fragment, userinfo or blank"
    );
    prop_assert!(!host.is_empty(), "{input:?} gave an empty host");
    prop_assert_eq!(host.to_ascii_lowercase(), host, "host is lower-cased");
    if let Some(port) = port {
        prop_assert!(
            matches!(port.parse::<u32>(), Ok(1..=65_535)),
            "port {port:?}"
        );
    }
    let reparsed = Domain::parse(base);
    prop_assert_eq!(
        reparsed.as_ref().map(Domain::base_url),
        Ok(base),
        "re-parsing the base URL is idempotent"
    );
    prop_assert_eq!(domain.token_url(), format!("{base}/oauth/token"));
    prop_assert_eq!(domain.to_string(), base);
    let input_is_http = input
        .get(..7)
        .is_some_and(|h| h.eq_ignore_ascii_case("http://"));
    if input_is_http {
        prop_assert_eq!(
            scheme,
            "http",
            "an http:// input is never upgraded silently"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn domain_parse_never_panics_and_accepts_only_clean_base_urls(
        input in prop_oneof![arb_text(), domain_like()],
    ) {
        check_domain(&input)?;
    }

    #[test]
    fn domain_parse_refuses_http_to_any_non_loopback_host(
        http in prop::sample::select(vec!["http://", "HTTP://", "Http://"]),
        host in any_host(),
        port in port(),
        slash in prop::sample::select(vec!["", "/"]),
    ) {
        let input = format!("{http}{host}{port}{slash}");
        // Only where `host` is the whole host: no port, path or userinfo smuggled inside it.
        let whole_host = !host.contains(['@', '/', '?', '#']) && (host.starts_with('[') || !host.contains(':'));
        if whole_host && !independent_is_loopback(&host.to_ascii_lowercase()) {
            prop_assert!(Domain::parse(&input).is_err(), "{input:?} accepted");
        }
        check_domain(&input)?;
    }

    #[test]
    fn domain_parse_accepts_every_well_formed_https_host(
        scheme in prop::sample::select(vec!["", "https://", "HTTPS://"]),
        host in dns_host(),
        port in prop::option::of(1u32..=65_535),
        slash in prop::sample::select(vec!["", "/"]),
    ) {
        prop_assume!(host.len() <= 253);
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let input = format!("{scheme}{host}{port}{slash}");
        let expected = format!("https://{}{port}", host.to_ascii_lowercase());
        let parsed = Domain::parse(&input);
        prop_assert_eq!(parsed.as_ref().map(Domain::base_url), Ok(expected.as_str()));
    }

    #[test]
    fn domain_parse_accepts_only_real_ipv6_addresses_in_brackets(
        inner in "[0-9a-fA-F:.]{0,12}",
    ) {
        let input = format!("https://[{inner}]");
        if let Ok(domain) = Domain::parse(&input) {
            let (_, host, _) = split_base_url(domain.base_url());
            let address = &host[1..host.len() - 1];
            prop_assert!(
                address.parse::<std::net::Ipv6Addr>().is_ok(),
                "{input:?} accepted as {:?}", domain.base_url()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Secrets::from_lookup
// ---------------------------------------------------------------------------------------------

fn secret_value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        1 => "[ \t\r\n]{0,3}".prop_map(Some),
        3 => "[ \t]{0,2}[A-Za-z0-9_.:/-]{1,30}[ \t\n]{0,2}".prop_map(Some),
        2 => any::<String>().prop_map(Some),
    ]
}

fn domain_value() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        1 => Just(None),
        1 => "[ \t\n]{0,3}".prop_map(Some),
        3 => domain_like().prop_map(Some),
        2 => ("[ \t]{0,2}", dns_host(), "[ \t\n]{0,2}").prop_map(|(a, h, b)| Some(format!("{a}{h}{b}"))),
        1 => any::<String>().prop_map(Some),
    ]
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn secrets_from_lookup_names_the_first_bad_secret_and_never_panics(
        domain in domain_value(),
        client_id in secret_value(),
        client_secret in secret_value(),
        audience in secret_value(),
    ) {
        let values = [domain, client_id, client_secret, audience];
        let value_of = |name: &str| {
            SECRET_NAMES.iter().position(|n| *n == name).and_then(|i| values[i].clone())
        };
        let result = Secrets::from_lookup(value_of);

        // Model: the first secret (in the order above) that is missing or blank, else the domain
        // if it does not parse.
        let blank = SECRET_NAMES.iter().zip(&values).find_map(|(name, value)| match value {
            None => Some((*name, SecretProblem::Missing)),
            Some(v) if v.trim().is_empty() => Some((*name, SecretProblem::Empty)),
            Some(_) => None,
        });
        let expected = blank.or_else(|| {
            let domain = values[0].as_deref().unwrap_or_default().trim();
            Domain::parse(domain)
                .err()
                .map(|why| (secrets::DOMAIN, SecretProblem::Invalid(why)))
        });
        match (&result, expected) {
            (Ok(s), None) => {
                prop_assert_eq!(s.client_id(), values[1].as_deref().unwrap_or_default().trim());
                prop_assert_eq!(s.client_secret(), values[2].as_deref().unwrap_or_default().trim());
                prop_assert_eq!(s.audience(), values[3].as_deref().unwrap_or_default().trim());
            }
            (Err(Error::Secret { name, problem }), Some((expected_name, expected_problem))) => {
                prop_assert!(SECRET_NAMES.contains(name));
                prop_assert_eq!(*name, expected_name);
                prop_assert_eq!(problem, &expected_problem);
                let text = result.as_ref().unwrap_err().to_string();
                let prefix = format!("secret {name}: ");
                prop_assert!(text.starts_with(&prefix), "{}", text);
                prop_assert_eq!(result.as_ref().unwrap_err().kind(), "secret");
            }
            (other, expected) => {
                prop_assert!(false, "got {other:?}, expected {expected:?}");
            }
        }
    }

    #[test]
    fn secrets_debug_and_errors_never_show_the_client_secret(
        domain in domain_value(),
        client_id in secret_value(),
        secret in "[A-Za-z0-9]{8,40}",
        pad in "[ \t\n]{0,2}",
        audience in secret_value(),
    ) {
        let others = [&domain, &client_id, &audience];
        let lower = secret.to_ascii_lowercase();
        prop_assume!(others
            .iter()
            .all(|v| !v.as_deref().unwrap_or_default().to_ascii_lowercase().contains(&lower)));
        let padded = format!("{pad}{secret}{pad}");
        let result = Secrets::from_lookup(|name| match name {
            secrets::DOMAIN => domain.clone(),
            secrets::CLIENT_ID => client_id.clone(),
            secrets::CLIENT_SECRET => Some(padded.clone()),
            _ => audience.clone(),
        });
        match result {
            Ok(s) => {
                let shown = format!("{s:?}");
                prop_assert!(!shown.contains(&secret), "{}", shown);
                prop_assert!(shown.contains("<redacted>"));
                let domain_shown = format!("{:?}", s.domain());
                prop_assert!(!domain_shown.contains(&secret));
                prop_assert_eq!(s.client_secret(), secret.as_str());
            }
            Err(error) => {
                let (text, debug) = (error.to_string(), format!("{error:?}"));
                prop_assert!(!text.contains(&secret), "{}", text);
                prop_assert!(!debug.contains(&secret), "{}", debug);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. parse_token_response, endpoint_error, fingerprint
// ---------------------------------------------------------------------------------------------

/// Raw JSON text for a "number of seconds": integers, floats, huge, negative, fractional, and
/// values that are not numbers at all (including text that is not valid JSON, like `1e400`).
fn seconds_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (1u64..200_000).prop_map(|n| n.to_string()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| format!("{f:?}")),
        1 => (0.0f64..1e7).prop_map(|f| f.to_string()),
        1 => "-?[0-9]{1,25}(\\.[0-9]{1,8})?([eE][+-]?[0-9]{1,3})?",
        1 => prop::sample::select(vec![
            "0", "-0", "-0.0", "0.0001", "0.001", "1e300", "1e400", "-1", "18446744073709551615",
            "18446744073709551616", "\"3600\"", "\"NaN\"", "\"Infinity\"", "\"-Infinity\"", "null",
            "true", "[]", "{}", "[3600]",
        ]).prop_map(str::to_owned),
    ]
}

#[derive(Debug, Clone)]
enum ExpClaim {
    /// `now / 1000 + delta` seconds, as an integer.
    Relative(i64),
    /// `now / 1000 + delta` seconds plus a fraction.
    RelativeFraction(i64, f64),
    /// Any JSON text.
    Raw(String),
    Absent,
}

#[derive(Debug, Clone)]
enum AudClaim {
    Exact,
    InList(Vec<String>),
    Other(String),
    Raw(Value),
    Absent,
}

#[derive(Debug, Clone)]
enum Part {
    Header,
    Payload,
    Signature,
    Base64(String),
    Text(String),
}

#[derive(Debug, Clone)]
struct NearValid {
    token_type: Option<String>,
    expires_in: Option<String>,
    parts: Vec<Part>,
    exp: ExpClaim,
    aud: AudClaim,
    padded: bool,
    access_token_raw: Option<Value>,
    extra_claims: Vec<(String, Value)>,
}

fn exp_claim() -> impl Strategy<Value = ExpClaim> {
    prop_oneof![
        4 => (-1_000i64..200_000).prop_map(ExpClaim::Relative),
        1 => (-10i64..100, 0.0f64..1.0).prop_map(|(d, f)| ExpClaim::RelativeFraction(d, f)),
        2 => seconds_text().prop_map(ExpClaim::Raw),
        1 => Just(ExpClaim::Absent),
    ]
}

fn aud_claim() -> impl Strategy<Value = AudClaim> {
    prop_oneof![
        4 => Just(AudClaim::Exact),
        1 => prop::collection::vec(".{0,12}", 0..4).prop_map(AudClaim::InList),
        1 => ".{0,40}".prop_map(AudClaim::Other),
        1 => arb_json().prop_map(AudClaim::Raw),
        1 => Just(AudClaim::Absent),
    ]
}

fn part() -> impl Strategy<Value = Part> {
    prop_oneof![
        2 => Just(Part::Header),
        2 => Just(Part::Payload),
        2 => Just(Part::Signature),
        1 => "[A-Za-z0-9_=-]{0,24}".prop_map(Part::Base64),
        1 => ".{0,12}".prop_map(Part::Text),
    ]
}

fn parts() -> impl Strategy<Value = Vec<Part>> {
    prop_oneof![
        4 => Just(vec![Part::Header, Part::Payload, Part::Signature]),
        2 => prop::collection::vec(part(), 1..=5),
    ]
}

fn token_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => prop::sample::select(vec!["Bearer", "bearer", "BEARER"]).prop_map(|s| Some(s.to_owned())),
        1 => ".{0,40}".prop_map(Some),
        1 => Just(None),
    ]
}

fn near_valid() -> impl Strategy<Value = NearValid> {
    (
        token_type(),
        prop_oneof![6 => seconds_text().prop_map(Some), 1 => Just(None)],
        parts(),
        exp_claim(),
        aud_claim(),
        any::<bool>(),
        prop_oneof![8 => Just(None), 1 => arb_json().prop_map(Some)],
        prop::collection::vec(("[a-z]{1,6}", arb_json()), 0..3),
    )
        .prop_map(
            |(token_type, expires_in, parts, exp, aud, padded, access_token_raw, extra_claims)| {
                NearValid {
                    token_type,
                    expires_in,
                    parts,
                    exp,
                    aud,
                    padded,
                    access_token_raw,
                    extra_claims,
                }
            },
        )
}

fn near_now() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => Just(NOW),
        2 => 0u64..=253_402_300_799_999,
        1 => any::<u64>(),
        1 => (u64::MAX - 200_000_000)..=u64::MAX,
    ]
}

impl NearValid {
    /// The access token and the response body.
    fn render(&self, audience: &str, now: u64) -> (String, String) {
        let secs = i128::from(now / 1000);
        let exp = match &self.exp {
            ExpClaim::Relative(d) => Some((secs + i128::from(*d)).to_string()),
            ExpClaim::RelativeFraction(d, f) => {
                Some(format!("{:?}", (secs + i128::from(*d)) as f64 + f))
            }
            ExpClaim::Raw(text) => Some(text.clone()),
            ExpClaim::Absent => None,
        };
        let aud = match &self.aud {
            AudClaim::Exact => Some(json!(audience)),
            AudClaim::InList(others) => {
                let mut list: Vec<Value> = others.iter().map(|o| json!(o)).collect();
                list.insert(others.len() / 2, json!(audience));
                Some(Value::Array(list))
            }
            AudClaim::Other(other) => Some(json!(other)),
            AudClaim::Raw(value) => Some(value.clone()),
            AudClaim::Absent => None,
        };
        let mut payload = String::from("{\"sub\":\"cid@clients\"");
        if let Some(exp) = exp {
            payload.push_str(&format!(",\"exp\":{exp}"));
        }
        if let Some(aud) = aud {
            payload.push_str(&format!(",\"aud\":{aud}"));
        }
        for (key, value) in &self.extra_claims {
            payload.push_str(&format!(",{}:{value}", json!(key)));
        }
        payload.push('}');
        let encode = |bytes: &[u8]| {
            if self.padded {
                URL_SAFE.encode(bytes)
            } else {
                URL_SAFE_NO_PAD.encode(bytes)
            }
        };
        let access_token = self
            .parts
            .iter()
            .map(|part| match part {
                Part::Header => encode(br#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#),
                Part::Payload => encode(payload.as_bytes()),
                Part::Signature => encode(b"not-a-real-signature"),
                Part::Base64(text) | Part::Text(text) => text.clone(),
            })
            .collect::<Vec<_>>()
            .join(".");
        let mut body = String::from("{\"scope\":\"read:users\"");
        match &self.access_token_raw {
            Some(raw) => body.push_str(&format!(",\"access_token\":{raw}")),
            None => body.push_str(&format!(",\"access_token\":{}", json!(access_token))),
        }
        if let Some(token_type) = &self.token_type {
            body.push_str(&format!(",\"token_type\":{}", json!(token_type)));
        }
        if let Some(expires_in) = &self.expires_in {
            body.push_str(&format!(",\"expires_in\":{expires_in}"));
        }
        body.push('}');
        (access_token, body)
    }
}

/// An upper bound, in ms, of a JSON number of seconds, computed without the crate's code.
fn seconds_upper_bound_ms(value: &Value) -> Option<u128> {
    if let Some(n) = value.as_u64() {
        return Some(u128::from(n) * 1000);
    }
    let f = value.as_f64()?;
    (f.is_finite() && f >= 0.0).then(|| (f * 1000.0).ceil() as u128)
}

fn decode_claims(access_token: &str) -> Option<serde_json::Map<String, Value>> {
    let payload = access_token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// What must hold for any outcome of `parse_token_response(body, audience, now)`.
fn check_token_outcome(
    body: &str,
    audience: &str,
    now: u64,
    result: &post_login_action::Result<ManagementToken>,
) -> Result<(), TestCaseError> {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let access_token = parsed
        .as_ref()
        .and_then(|v| v.get("access_token"))
        .and_then(Value::as_str);
    match result {
        Ok(token) => {
            let fields = parsed.as_ref().expect("an accepted body is JSON");
            let access_token = access_token.expect("an accepted body has an access_token");
            prop_assert_eq!(token.access_token(), access_token);
            prop_assert_eq!(token.issued_at_ms(), now);
            let expires_at = token.expires_at_ms();
            prop_assert!(expires_at > now, "expires_at {} <= now {}", expires_at, now);

            let token_type = fields["token_type"]
                .as_str()
                .expect("token_type is a string");
            prop_assert!(token_type.eq_ignore_ascii_case("bearer"));

            let expires_in = seconds_upper_bound_ms(&fields["expires_in"]);
            prop_assert!(
                expires_in.is_some_and(|ms| ms > 0),
                "expires_in {}",
                fields["expires_in"]
            );
            let by_expires_in = u128::from(now)
                .saturating_add(expires_in.unwrap_or_default())
                .min(u128::from(u64::MAX));
            prop_assert!(
                u128::from(expires_at) <= by_expires_in,
                "{} > now + expires_in",
                expires_at
            );

            let claims = decode_claims(access_token).expect("an accepted token has JSON claims");
            let exp = seconds_upper_bound_ms(&claims["exp"]);
            prop_assert!(exp.is_some(), "exp {}", claims["exp"]);
            prop_assert!(
                u128::from(expires_at) <= exp.unwrap_or_default(),
                "{} > exp",
                expires_at
            );

            let aud_ok = match &claims["aud"] {
                Value::String(aud) => aud == audience,
                Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(audience)),
                _ => false,
            };
            prop_assert!(
                aud_ok,
                "aud {} does not match {:?}",
                claims["aud"],
                audience
            );

            prop_assert!(access_token.split('.').count() == 3);
            let shown = format!("{token:?}");
            prop_assert!(
                !shown.contains(access_token) || access_token.len() <= 12,
                "{}",
                shown
            );
        }
        Err(error) => {
            prop_assert_eq!(error.kind(), "invalid_token");
            let text = error.to_string();
            prop_assert!(text.chars().count() < 400, "{}", text);
            if let Some(access_token) = access_token.filter(|t| t.len() > 16) {
                prop_assert!(!text.contains(access_token), "{}", text);
                let debug = format!("{error:?}");
                prop_assert!(!debug.contains(access_token), "{}", debug);
            }
        }
    }
    Ok(())
}

fn audience_strategy() -> impl Strategy<Value = String> {
    prop_oneof![4 => Just(AUDIENCE.to_owned()), 1 => ".{0,30}"]
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn parse_token_response_never_panics_on_arbitrary_text(
        body in arb_text(),
        audience in audience_strategy(),
        now in near_now(),
    ) {
        let result = parse_token_response(&body, &audience, now);
        check_token_outcome(&body, &audience, now, &result)?;
    }

    #[test]
    fn parse_token_response_never_panics_on_arbitrary_json(
        body in arb_json(),
        audience in audience_strategy(),
        now in near_now(),
    ) {
        let body = body.to_string();
        let result = parse_token_response(&body, &audience, now);
        check_token_outcome(&body, &audience, now, &result)?;
    }

    #[test]
    fn parse_token_response_accepts_only_tokens_within_both_expiries(
        spec in near_valid(),
        audience in audience_strategy(),
        now in near_now(),
    ) {
        let (access_token, body) = spec.render(&audience, now);
        let result = parse_token_response(&body, &audience, now);
        check_token_outcome(&body, &audience, now, &result)?;
        // A well-formed token for the audience, unexpired, with a good expires_in, is accepted.
        let well_formed = matches!(spec.parts.as_slice(), [Part::Header, Part::Payload, Part::Signature])
            && spec.access_token_raw.is_none()
            && now <= u64::MAX - 1_000_000
            && spec.extra_claims.iter().all(|(k, _)| k != "exp" && k != "aud")
            && spec.token_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("bearer"))
            && matches!(spec.aud, AudClaim::Exact)
            && matches!(spec.exp, ExpClaim::Relative(d) if d > 0)
            && spec
                .expires_in
                .as_deref()
                .and_then(|e| serde_json::from_str::<u64>(e).ok())
                .is_some_and(|e| e > 0);
        if well_formed {
            prop_assert!(result.is_ok(), "{:?} refused: {:?}", body, result);
            let accepted = result.as_ref().map(ManagementToken::access_token).ok();
            prop_assert_eq!(accepted, Some(access_token.as_str()));
        }
    }

    #[test]
    fn endpoint_error_never_panics_and_quotes_bounded_text(
        status in any::<u16>(),
        body in prop_oneof![
            arb_text(),
            arb_json().prop_map(|v| v.to_string()),
            (arb_json(), arb_json(), ".{0,400}").prop_map(|(e, d, s)| {
                json!({"error": e, "error_description": d, "text": s}).to_string()
            }),
            (".{0,400}", ".{0,400}").prop_map(|(e, d)| json!({"error": e, "error_description": d}).to_string()),
        ],
    ) {
        let error = token_error(status, &body);
        let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let field = |key: &str| parsed.get(key).and_then(Value::as_str).map(str::to_owned);
        prop_assert_eq!(
            &error,
            &Error::Status { endpoint: Endpoint::Token, status, code: field("error"), message: field("error_description") }
        );
        let text = error.to_string();
        let prefix = format!("token endpoint answered HTTP {status}");
        prop_assert!(text.starts_with(&prefix));
        // Each quoted field is cut at 200 characters plus an ellipsis.
        let chars = text.chars().count();
        prop_assert!(chars <= prefix.chars().count() + 2 * 201 + 6, "{} chars", chars);
        let _ = error.likely_cause();
    }

    #[test]
    fn fingerprint_is_twelve_lowercase_hex_digits(token in any::<String>()) {
        let fp = fingerprint(&token);
        prop_assert_eq!(fp.len(), 12);
        prop_assert!(fp.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{}", fp);
        prop_assert_eq!(fingerprint(&token), fp.clone());
        if token.len() > 12 {
            prop_assert!(!fp.contains(&token));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Expiry arithmetic
// ---------------------------------------------------------------------------------------------

fn any_ms() -> impl Strategy<Value = u64> {
    prop_oneof![
        2 => 0u64..=10_000_000_000_000,
        1 => any::<u64>(),
        1 => (u64::MAX - 400_000_000)..=u64::MAX,
        1 => 0u64..=400_000,
    ]
}

fn lifetime_ms() -> impl Strategy<Value = u64> {
    prop_oneof![
        2 => 0u64..=20_000,
        2 => 0u64..=4_000_000,
        2 => 0u64..=200_000_000,
        1 => any::<u64>(),
    ]
}

/// Expiry as `now + lifetime` (saturating), or unrelated to `now`; always >= 1.
fn now_and_expiry() -> impl Strategy<Value = (u64, u64)> {
    prop_oneof![
        3 => (any_ms(), lifetime_ms()).prop_map(|(now, life)| (now, now.saturating_add(life).max(1))),
        1 => (any_ms(), 1u64..=u64::MAX),
    ]
}

fn independent_margin(lifetime: u64) -> u64 {
    match lifetime / 10 {
        0..10_000 => 10_000,
        tenth @ 10_000..=300_000 => tenth,
        _ => 300_000,
    }
}

fn any_jitter() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0.0f64..=1.0,
        1 => Just(0.0),
        1 => Just(1.0),
        1 => Just(0.999_999_999_999),
    ]
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn safety_margin_is_a_tenth_clamped_to_10_s_and_300_s(a in any_ms(), b in any_ms()) {
        let margin = safety_margin_ms(a);
        prop_assert!((MIN_SAFETY_MARGIN_MS..=MAX_SAFETY_MARGIN_MS).contains(&margin));
        prop_assert_eq!(MIN_SAFETY_MARGIN_MS, 10_000);
        prop_assert_eq!(MAX_SAFETY_MARGIN_MS, 300_000);
        prop_assert_eq!(margin, independent_margin(a));
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(safety_margin_ms(lo) <= safety_margin_ms(hi), "monotone");
    }

    #[test]
    fn use_until_is_after_now_before_expiry_minus_margin_and_within_86000_s(
        (now, expiry) in now_and_expiry(),
        issued_at in any_ms(),
    ) {
        let token = token(issued_at, expiry);
        let until = use_until_ms(&token, now);
        let worth_caching = expiry.checked_sub(now).is_some_and(|lifetime| lifetime > 10_000);
        prop_assert_eq!(until.is_some(), worth_caching, "now {} expiry {} until {:?}", now, expiry, until);
        if let Some(until) = until {
            prop_assert!(until > now);
            prop_assert!(until < expiry);
            prop_assert!(until <= expiry - 10_000);
            prop_assert!(until <= now.saturating_add(MAX_CACHE_LIFETIME_MS));
            prop_assert_eq!(MAX_CACHE_LIFETIME_MS, 86_000_000);
            let model = (expiry - independent_margin(expiry - now)).min(now.saturating_add(86_000_000));
            prop_assert_eq!(until, model);
        }
    }

    #[test]
    fn refresh_point_lies_between_window_start_and_use_until(
        issued_at in any_ms(),
        expiry in prop_oneof![1u64..=u64::MAX, any_ms().prop_map(|m| m.max(1))],
        use_until in any_ms(),
        window_percent in prop_oneof![0u64..=100, any::<u64>()],
        min_window_ms in prop_oneof![0u64..=1_000_000, any::<u64>()],
        jitter in any_jitter(),
    ) {
        let token = token(issued_at, expiry);
        let policy = RefreshPolicy { window_percent, min_window_ms, ..RefreshPolicy::default() };
        let start = policy.window_start_ms(&token, use_until);
        let at = policy.refresh_at_ms(&token, use_until, jitter);
        prop_assert!(start <= use_until, "start {} > use_until {}", start, use_until);
        prop_assert!(start <= at && at <= use_until, "{} not in [{}, {}]", at, start, use_until);
        // First half of the window; the slack absorbs the f64 rounding of a span above 2^53.
        let span = use_until - start;
        let slack = (span >> 51) + 2;
        prop_assert!(at <= start.saturating_add(span / 2).saturating_add(slack), "{} past the first half", at);
        // Never before the middle of the span the token is cached for.
        let end = expiry.min(use_until);
        if end >= issued_at {
            let middle = issued_at + (end - issued_at) / 2;
            prop_assert!(start >= middle, "start {} before the middle {}", start, middle);
        }
        prop_assert!(start <= expiry);
    }

    #[test]
    fn refresh_point_for_a_freshly_cached_token_is_inside_its_cache_life(
        (now, expiry) in now_and_expiry(),
        window_percent in 1u64..=50,
        min_window_s in 0u64..=86_400,
        jitter in prop_oneof![any_jitter(), any::<f64>()],
    ) {
        let token = token(now, expiry);
        let Some(use_until) = use_until_ms(&token, now) else { return Ok(()); };
        let policy = RefreshPolicy { window_percent, min_window_ms: min_window_s * 1000, ..RefreshPolicy::default() };
        let at = policy.refresh_at_ms(&token, use_until, jitter);
        prop_assert!(at >= now && at <= use_until, "{} not in [{}, {}]", at, now, use_until);
        // Every cached token gets a refresh window before its cache life ends, however long the
        // token itself lives (the default policy; a span of 1 ms has no room for one).
        let start = RefreshPolicy::default().window_start_ms(&token, use_until);
        if use_until - now >= 2 {
            prop_assert!(start < use_until, "no window: start {} use_until {}", start, use_until);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. CachedToken::usable
// ---------------------------------------------------------------------------------------------

fn identity_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "[A-Za-z0-9_.:/|-]{1,30}",
        1 => any::<String>().prop_filter("not blank", |s| !s.trim().is_empty()),
    ]
}

fn domain_secret() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => dns_host(),
        1 => (1u32..=65_535).prop_map(|p| format!("http://localhost:{p}")),
        1 => any::<[u8; 3]>().prop_map(|o| format!("http://127.{}.{}.{}", o[0], o[1], o[2])),
    ]
    .prop_filter("valid domain", |d| Domain::parse(d).is_ok())
}

fn field_or_junk(valid: Value) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        6 => Just(Some(valid)),
        1 => arb_json().prop_map(Some),
        1 => Just(None),
    ]
}

fn near_valid_record(now: u64) -> impl Strategy<Value = Value> {
    let secrets = default_secrets();
    let time = || {
        prop_oneof![
            3 => (now..=now.saturating_add(200_000_000)).prop_map(Value::from),
            1 => any_ms().prop_map(Value::from),
            1 => any::<i64>().prop_map(Value::from),
            1 => any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ]
    };
    (
        prop_oneof![5 => Just(json!(1)), 1 => arb_json()],
        field_or_junk(json!(secrets.domain().base_url())),
        field_or_junk(json!(secrets.client_id())),
        field_or_junk(json!(secrets.audience())),
        prop_oneof![4 => identity_text().prop_map(Value::from), 1 => Just(json!("")), 1 => arb_json()],
        time(),
        time(),
        time(),
        prop::collection::vec(("[a-z_]{1,8}", arb_json()), 0..3),
    )
        .prop_map(|(v, domain, client_id, audience, access_token, issued, expires, until, extra)| {
            let mut map = serde_json::Map::new();
            map.insert("v".into(), v);
            for (key, value) in [("domain", domain), ("client_id", client_id), ("audience", audience)] {
                if let Some(value) = value {
                    map.insert(key.into(), value);
                }
            }
            map.insert("access_token".into(), access_token);
            map.insert("issued_at".into(), issued);
            map.insert("expires_at".into(), expires);
            map.insert("use_until".into(), until);
            for (key, value) in extra {
                map.insert(key, value);
            }
            Value::Object(map)
        })
}

fn check_usable(value: &str, secrets: &Secrets, now: u64) -> Result<(), TestCaseError> {
    let result = CachedToken::usable(value, secrets, now);
    if let Ok((token, use_until)) = &result {
        let record: Value = serde_json::from_str(value).expect("a usable record is JSON");
        prop_assert_eq!(&record["v"], &json!(1));
        prop_assert_eq!(record["domain"].as_str(), Some(secrets.domain().base_url()));
        prop_assert_eq!(record["client_id"].as_str(), Some(secrets.client_id()));
        prop_assert_eq!(record["audience"].as_str(), Some(secrets.audience()));
        prop_assert_eq!(record["access_token"].as_str(), Some(token.access_token()));
        prop_assert!(!token.access_token().is_empty());
        prop_assert_eq!(record["expires_at"].as_u64(), Some(token.expires_at_ms()));
        prop_assert_eq!(record["issued_at"].as_u64(), Some(token.issued_at_ms()));
        // Never past the token's own expiry, whatever the record says.
        prop_assert_eq!(
            record["use_until"]
                .as_u64()
                .map(|u| u.min(token.expires_at_ms())),
            Some(*use_until)
        );
        prop_assert!(now < *use_until && now < token.expires_at_ms());
        let shown = format!("{token:?}");
        prop_assert!(
            !shown.contains(token.access_token()) || token.access_token().len() <= 12,
            "{}",
            shown
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn cached_token_usable_never_panics_on_arbitrary_values(
        value in prop_oneof![
            arb_text(),
            arb_json().prop_map(|v| v.to_string()),
            near_valid_record(NOW).prop_map(|v| v.to_string()),
        ],
        now in prop_oneof![Just(NOW), any_ms()],
    ) {
        check_usable(&value, &default_secrets(), now)?;
    }

    #[test]
    fn cached_token_round_trips_for_its_own_identity_only(
        domain in domain_secret(),
        client_id in identity_text(),
        audience in identity_text(),
        access_token in any::<String>().prop_filter("non-empty", |t| !t.is_empty()),
        issued_at in any_ms(),
        (now, expiry) in now_and_expiry(),
        use_until_offset in prop_oneof![0u64..=100_000_000, any::<u64>()],
        probe in any_ms(),
        other_domain in domain_secret(),
        other_client_id in identity_text(),
        other_audience in identity_text(),
        which in 0usize..3,
    ) {
        let own = secrets_of(&domain, &client_id, CLIENT_SECRET, &audience);
        let token = token_with(&own, &access_token, issued_at, expiry);
        let use_until = use_until_ms(&token, now).unwrap_or_else(|| now.saturating_add(use_until_offset));
        let json = CachedToken::new(&own, &token, use_until).to_json();
        prop_assert!(!json.is_empty());
        let debug = format!("{:?}", CachedToken::new(&own, &token, use_until));
        prop_assert!(access_token.len() <= 12 || !debug.contains(&access_token));

        for at in [now, probe, use_until.saturating_sub(1), use_until, expiry.saturating_sub(1), expiry] {
            let result = CachedToken::usable(&json, &own, at);
            if at < use_until && at < expiry {
                let (back, until) = result.expect("own record is usable before use_until");
                prop_assert_eq!(until, use_until.min(expiry));
                prop_assert_eq!(back.access_token(), token.access_token());
                prop_assert_eq!(back.issued_at_ms(), issued_at);
                prop_assert_eq!(back.expires_at_ms(), expiry);
            } else {
                prop_assert_eq!(result.map(|_| ()), Err(Miss::Expired), "at {}", at);
            }
            check_usable(&json, &own, at)?;
        }

        // A rotated client secret alone still serves (the record is bound to the identity).
        let rotated = secrets_of(&domain, &client_id, "another-secret", &audience);
        prop_assert_eq!(
            CachedToken::usable(&json, &rotated, now).map(|(_, u)| u).ok(),
            (now < use_until && now < expiry).then_some(use_until.min(expiry))
        );

        // Any other domain, client id or audience never does, at any time.
        let other = match which {
            0 => secrets_of(&other_domain, &client_id, CLIENT_SECRET, &audience),
            1 => secrets_of(&domain, &other_client_id, CLIENT_SECRET, &audience),
            _ => secrets_of(&domain, &client_id, CLIENT_SECRET, &other_audience),
        };
        let same_identity = other.domain() == own.domain()
            && other.client_id() == own.client_id()
            && other.audience() == own.audience();
        prop_assume!(!same_identity);
        for at in [0, now, probe] {
            prop_assert_eq!(CachedToken::usable(&json, &other, at).map(|_| ()), Err(Miss::OtherIdentity));
        }
    }

    #[test]
    fn cached_token_usable_never_extends_past_the_token_expiry(
        record in near_valid_record(NOW).prop_map(|v| v.to_string()),
        now in prop_oneof![Just(NOW), NOW..NOW + 200_000_000],
    ) {
        if let Ok((token, use_until)) = CachedToken::usable(&record, &default_secrets(), now) {
            prop_assert!(
                use_until <= token.expires_at_ms(),
                "use_until {} > expires_at {}", use_until, token.expires_at_ms()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 6. rate_limit_reset_ms and IMF-fixdates
// ---------------------------------------------------------------------------------------------

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

fn is_leap(year: u64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01, by counting leap years and month lengths (independent of the crate's
/// days-from-civil algorithm).
fn reference_days(year: u64, month: u64, day: u64) -> u64 {
    let leaps_before = |y: u64| y / 4 - y / 100 + y / 400; // leap years in 1..=y
    let years = year - 1970;
    let leap_years = leaps_before(year - 1) - leaps_before(1969);
    let months: u64 = (1..month).map(|m| days_in_month(year, m)).sum();
    years * 365 + leap_years + months + day - 1
}

#[derive(Debug, Clone)]
struct Civil {
    year: u64,
    month: u64,
    day: u64,
    hour: u64,
    minute: u64,
    second: u64,
}

fn civil() -> impl Strategy<Value = Civil> {
    (1970u64..=9999, 1u64..=12)
        .prop_flat_map(|(year, month)| {
            (
                Just(year),
                Just(month),
                1..=days_in_month(year, month),
                0u64..24,
                0u64..60,
                0u64..60,
            )
        })
        .prop_map(|(year, month, day, hour, minute, second)| Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
}

impl Civil {
    fn ms(&self) -> u64 {
        let days = reference_days(self.year, self.month, self.day);
        ((days * 24 + self.hour) * 60 + self.minute) * 60_000 + self.second * 1000
    }

    fn imf_fixdate(&self) -> String {
        let days = reference_days(self.year, self.month, self.day);
        format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            WEEKDAYS[(days % 7) as usize],
            self.day,
            MONTHS[(self.month - 1) as usize],
            self.year,
            self.hour,
            self.minute,
            self.second
        )
    }
}

fn with_headers(headers: Vec<(String, String)>) -> HttpResponse {
    HttpResponse {
        status: 429,
        body: String::new(),
        headers,
    }
}

/// Date-shaped header values with every field sometimes off.
fn date_like(years: impl Strategy<Value = i64>) -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["Sun", "Mon", "Xyz", ""]),
        prop_oneof![0u64..=40, any::<u64>()],
        prop::sample::select(
            MONTHS
                .iter()
                .chain(&["jan", "Foo", ""])
                .copied()
                .collect::<Vec<_>>(),
        ),
        years,
        prop_oneof![0u64..=25, any::<u64>()],
        prop_oneof![0u64..=61, any::<u64>()],
        prop_oneof![0u64..=61, any::<u64>()],
        prop::sample::select(vec!["GMT", "GMT", "UTC", "gmt", "GMT extra", ""]),
    )
        .prop_map(|(wd, d, mon, y, h, mi, s, tz)| {
            format!("{wd}, {d:02} {mon} {y} {h:02}:{mi:02}:{s:02} {tz}")
        })
}

fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(post_login_action::host::READ_HEADERS.to_vec())
            .prop_map(str::to_owned),
        1 => "[a-zA-Z-]{0,16}",
    ]
}

fn header_value(years: impl Strategy<Value = i64> + 'static) -> BoxedStrategy<String> {
    prop_oneof![
        2 => arb_text(),
        2 => date_like(years),
        1 => civil().prop_map(|c| c.imf_fixdate()),
        1 => any::<u64>().prop_map(|n| n.to_string()),
        1 => "[ \t]{0,2}-?[0-9]{1,25}(\\.[0-9]{1,3})?[ \t]{0,2}",
    ]
    .boxed()
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn rate_limit_reset_never_panics_on_arbitrary_header_values(
        headers in prop::collection::vec((header_name(), header_value(-10_000i64..=100_000_000)), 0..4),
        now in any_ms(),
    ) {
        let has = |name: &str| headers.iter().any(|(k, _)| k == name);
        let (retry_after, reset) = (has("retry-after"), has("x-ratelimit-reset"));
        let result = rate_limit_reset_ms(&with_headers(headers), now);
        if !retry_after && !reset {
            prop_assert_eq!(result, None);
        }
    }

    #[test]
    fn numeric_retry_after_is_now_plus_seconds(
        seconds in prop_oneof![0u64..=3600, any::<u64>(), (u64::MAX / 1000 - 2)..=(u64::MAX / 1000 + 2)],
        lead in "[ \t]{0,2}",
        trail in "[ \t\r\n]{0,2}",
        now in any_ms(),
        reset in prop::option::of(arb_text()),
    ) {
        let mut headers = vec![("retry-after".to_owned(), format!("{lead}{seconds}{trail}"))];
        if let Some(reset) = reset {
            headers.push(("x-ratelimit-reset".to_owned(), reset));
        }
        let expected = (u128::from(now) + u128::from(seconds) * 1000).min(u128::from(u64::MAX)) as u64;
        prop_assert_eq!(rate_limit_reset_ms(&with_headers(headers), now), Some(expected));
    }

    #[test]
    fn x_ratelimit_reset_is_absolute_unix_seconds(
        reset in prop_oneof![0u64..=4_000_000_000, any::<u64>()],
        retry_after in prop::option::of("[a-zA-Z ]{0,10}"),
        now in any_ms(),
    ) {
        let mut headers = vec![("x-ratelimit-reset".to_owned(), format!(" {reset} "))];
        if let Some(value) = retry_after {
            headers.insert(0, ("retry-after".to_owned(), value));
        }
        let expected = (u128::from(reset) * 1000).min(u128::from(u64::MAX)) as u64;
        prop_assert_eq!(rate_limit_reset_ms(&with_headers(headers), now), Some(expected));
    }

    #[test]
    fn imf_fixdates_match_an_independent_calendar(date in civil(), now in any_ms()) {
        let header = date.imf_fixdate();
        let headers = vec![("retry-after".to_owned(), header.clone())];
        prop_assert_eq!(rate_limit_reset_ms(&with_headers(headers), now), Some(date.ms()), "{}", header);
    }

    #[test]
    fn rate_limit_reset_never_panics_on_dates_with_huge_years(
        year in prop_oneof![1_000_000_000i64..=i64::MAX, Just(i64::MAX), Just(600_000_000i64)],
        now in any_ms(),
    ) {
        let header = format!("Sun, 06 Nov {year} 08:49:37 GMT");
        let result = std::panic::catch_unwind(|| {
            rate_limit_reset_ms(&with_headers(vec![("retry-after".to_owned(), header.clone())]), now)
        });
        prop_assert!(result.is_ok(), "{:?} panicked", header);
    }
}

#[test]
fn imf_fixdate_reference_agrees_with_known_dates() {
    // Checks the independent calendar itself.
    let rfc = Civil {
        year: 1994,
        month: 11,
        day: 6,
        hour: 8,
        minute: 49,
        second: 37,
    };
    assert_eq!(rfc.imf_fixdate(), "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_eq!(rfc.ms(), 784_111_777_000);
    let last = Civil {
        year: 9999,
        month: 12,
        day: 31,
        hour: 23,
        minute: 59,
        second: 59,
    };
    assert_eq!(last.ms(), 253_402_300_799_000);
    assert_eq!(
        Civil {
            year: 2000,
            month: 3,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0
        }
        .ms(),
        951_868_800_000
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Backoff and cool-downs
// ---------------------------------------------------------------------------------------------

const F64_EXACT: u64 = 1 << 53;

fn policy_with(base: u64, cap: u64) -> RetryPolicy {
    RetryPolicy {
        backoff_base_ms: base,
        backoff_cap_ms: cap,
        ..RetryPolicy::default()
    }
}

/// `base · 2^retry`, exactly (any value above u64::MAX is "unbounded").
fn doubling_ceiling(base: u64, retry: u32) -> u128 {
    u128::from(base) << retry.min(64)
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn backoff_is_at_most_the_cap_and_base_times_two_to_the_retry(
        base in prop_oneof![0u64..=10_000, 0u64..=F64_EXACT],
        cap in prop_oneof![0u64..=60_000, 0u64..=F64_EXACT],
        retry in prop_oneof![0u32..=70, any::<u32>()],
        random in prop_oneof![any_jitter(), any::<f64>()],
    ) {
        let backoff = policy_with(base, cap).backoff_ms(retry, random);
        prop_assert!(backoff <= cap, "{} > cap {}", backoff, cap);
        prop_assert!(u128::from(backoff) <= doubling_ceiling(base, retry), "{} > base·2^retry", backoff);
        let default = RetryPolicy::default().backoff_ms(retry, random);
        prop_assert!(default <= 2_000);
        prop_assert!(u128::from(default) <= doubling_ceiling(250, retry));
    }

    #[test]
    fn backoff_never_exceeds_a_huge_cap(
        cap in F64_EXACT..=u64::MAX,
        random in prop_oneof![Just(1.0), 0.999f64..=1.0],
    ) {
        let backoff = policy_with(u64::MAX, cap).backoff_ms(0, random);
        prop_assert!(backoff <= cap, "{} > cap {}", backoff, cap);
    }

    #[test]
    fn cooldowns_stay_within_the_configured_bounds(
        a in prop_oneof![0u64..=600_000, any::<u64>()],
        b in prop_oneof![0u64..=600_000, any::<u64>()],
        failures in prop_oneof![0u32..=40, any::<u32>()],
        now in any_ms(),
        transient in any::<bool>(),
    ) {
        let (start, max) = if a <= b { (a, b) } else { (b, a) };
        let policy = if transient {
            RetryPolicy { transient_cooldown_ms: (start, max), ..RetryPolicy::default() }
        } else {
            RetryPolicy { config_cooldown_ms: (start, max), ..RetryPolicy::default() }
        };
        let class = if transient { FailureClass::Transient } else { FailureClass::Configuration };
        let cooldown = policy.cooldown_ms(class, failures, now);
        prop_assert!((start..=max).contains(&cooldown), "{} not in [{}, {}]", cooldown, start, max);
        prop_assert!(cooldown <= policy.cooldown_ms(class, failures.saturating_add(1), now), "non-decreasing");
        prop_assert_eq!(policy.cooldown_ms(class, 1, now), start);
        prop_assert_eq!(policy.cooldown_ms(class, 0, now), start);

        // A start above the max is capped at the max.
        let inverted = RetryPolicy {
            config_cooldown_ms: (max, start),
            transient_cooldown_ms: (max, start),
            ..policy
        };
        prop_assert!(inverted.cooldown_ms(class, failures, now) <= start);

        // The defaults.
        let default = RetryPolicy::default();
        let d = default.cooldown_ms(class, failures, now);
        if transient {
            prop_assert!((2_000..=60_000).contains(&d));
        } else {
            prop_assert!((30_000..=300_000).contains(&d));
        }
    }

    #[test]
    fn rate_limited_cooldown_lasts_until_the_reset_or_the_default(
        reset in prop::option::of(any_ms()),
        now in any_ms(),
        failures in any::<u32>(),
        default_ms in any::<u64>(),
    ) {
        let policy = RetryPolicy { rate_limit_default_ms: default_ms, ..RetryPolicy::default() };
        let cooldown = policy.cooldown_ms(FailureClass::RateLimited { reset_at_ms: reset }, failures, now);
        let expected = match reset {
            Some(reset) if reset > now => reset - now,
            _ => default_ms,
        };
        // Capped at the configuration cool-down's maximum (300 s by default).
        prop_assert_eq!(cooldown, expected.min(policy.config_cooldown_ms.1));
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Config::from_lookup
// ---------------------------------------------------------------------------------------------

/// A configuration value and whether it is valid: `(value, applied number, logged)`.
type Tagged = (Option<String>, Option<u64>, bool);

fn blank() -> impl Strategy<Value = String> {
    "[ \t\r\n]{0,2}"
}

fn number_setting(range: std::ops::RangeInclusive<u64>) -> impl Strategy<Value = Tagged> {
    let (lo, hi) = (*range.start(), *range.end());
    prop_oneof![
        2 => Just((None, None, false)),
        3 => (range, blank(), blank())
            .prop_map(|(n, a, b)| (Some(format!("{a}{n}{b}")), Some(n), false)),
        2 => any::<u64>()
            .prop_filter("out of range", move |n| *n < lo || *n > hi)
            .prop_map(|n| (Some(n.to_string()), None, true)),
        2 => prop_oneof![
            "[a-zA-Z.,_ -]{0,8}",
            blank(),
            prop::sample::select(vec!["1.5", "-1", "1e3", "0x10", "10%", "99999999999999999999999", "٣"])
                .prop_map(str::to_owned),
        ]
        .prop_map(|s| (Some(s), None, true)),
    ]
}

fn on_error_setting() -> impl Strategy<Value = (Option<String>, OnTokenError, bool)> {
    let cased = |word: &'static str| {
        (
            prop::collection::vec(any::<bool>(), word.len()),
            blank(),
            blank(),
        )
            .prop_map(move |(upper, a, b)| {
                let word: String = word
                    .chars()
                    .zip(upper)
                    .map(|(c, up)| if up { c.to_ascii_uppercase() } else { c })
                    .collect();
                format!("{a}{word}{b}")
            })
    };
    prop_oneof![
        2 => Just((None, OnTokenError::Continue, false)),
        1 => blank().prop_map(|s| (Some(s), OnTokenError::Continue, false)),
        2 => cased("continue").prop_map(|s| (Some(s), OnTokenError::Continue, false)),
        2 => cased("deny").prop_map(|s| (Some(s), OnTokenError::Deny, false)),
        2 => ".{1,12}"
            .prop_filter("not a keyword", |s| {
                let t = s.trim();
                !t.is_empty() && !t.eq_ignore_ascii_case("continue") && !t.eq_ignore_ascii_case("deny")
            })
            .prop_map(|s| (Some(s), OnTokenError::Deny, true)),
    ]
}

fn read_config(values: &HashMap<&'static str, Option<String>>) -> (Config, Vec<LogRecord>) {
    let logs = RefCell::new(Vec::new());
    let config = Config::from_lookup(
        |name| values.get(name).cloned().flatten(),
        |record| logs.borrow_mut().push(record),
    );
    (config, logs.into_inner())
}

fn logged_settings(logs: &[LogRecord]) -> Result<BTreeSet<String>, TestCaseError> {
    let mut named = BTreeSet::new();
    for record in logs {
        prop_assert_eq!(record.event(), "config_invalid");
        prop_assert_eq!(record.level(), Level::Error);
        let setting = record
            .get("setting")
            .and_then(Value::as_str)
            .unwrap_or_default();
        prop_assert!(names::ALL.contains(&setting), "{:?}", setting);
        prop_assert!(named.insert(setting.to_owned()), "{} logged twice", setting);
        prop_assert!(record.get("message").and_then(Value::as_str).is_some());
    }
    Ok(named)
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn config_invalid_values_fall_back_to_defaults_and_are_logged(
        on_error in on_error_setting(),
        roles_claim in prop::option::of(prop_oneof![
            blank(),
            "[ ]{0,2}https://[a-z.]{1,12}/roles[ \n]{0,2}",
            any::<String>(),
        ]),
        percent in number_setting(1..=50),
        min_seconds in number_setting(0..=86_400),
        budget in number_setting(100..=15_000),
    ) {
        let values: HashMap<&'static str, Option<String>> = HashMap::from([
            (names::ON_TOKEN_ERROR, on_error.0.clone()),
            (names::ROLES_CLAIM, roles_claim.clone()),
            (names::TOKEN_REFRESH_WINDOW_PERCENT, percent.0.clone()),
            (names::TOKEN_REFRESH_MIN_SECONDS, min_seconds.0.clone()),
            (names::TOKEN_REQUEST_BUDGET_MS, budget.0.clone()),
        ]);
        let (config, logs) = read_config(&values);
        let defaults = Settings::default();

        prop_assert_eq!(config.on_error, on_error.1);
        prop_assert_eq!(
            config.roles_claim.as_deref(),
            roles_claim.as_deref().map(str::trim).filter(|c| !c.is_empty())
        );
        prop_assert_eq!(
            config.settings.refresh.window_percent,
            percent.1.unwrap_or(defaults.refresh.window_percent)
        );
        prop_assert_eq!(
            config.settings.refresh.min_window_ms,
            min_seconds.1.map_or(defaults.refresh.min_window_ms, |s| s * 1000)
        );
        prop_assert_eq!(config.settings.retry.budget_ms, budget.1.unwrap_or(defaults.retry.budget_ms));
        prop_assert_eq!(config.settings.retry.max_attempts, defaults.retry.max_attempts);

        let expected: BTreeSet<String> = [
            (names::ON_TOKEN_ERROR, on_error.2),
            (names::TOKEN_REFRESH_WINDOW_PERCENT, percent.2),
            (names::TOKEN_REFRESH_MIN_SECONDS, min_seconds.2),
            (names::TOKEN_REQUEST_BUDGET_MS, budget.2),
        ]
        .into_iter()
        .filter(|(_, logged)| *logged)
        .map(|(name, _)| name.to_owned())
        .collect();
        prop_assert_eq!(logged_settings(&logs)?, expected);
    }

    #[test]
    fn config_from_lookup_never_panics_and_logs_every_fallback(
        values in prop::collection::vec(prop::option::of(arb_text()), 5),
    ) {
        let values: HashMap<&'static str, Option<String>> =
            names::ALL.iter().copied().zip(values.iter().cloned()).collect();
        let (config, logs) = read_config(&values);
        let logged = logged_settings(&logs)?;
        let defaults = Settings::default();
        let set = |name: &str| values.get(name).cloned().flatten().is_some();

        // Each number either came from the value (in range, not logged) or is the default
        // (absent, or logged as invalid).
        for (name, actual, default, range) in [
            (
                names::TOKEN_REFRESH_WINDOW_PERCENT,
                config.settings.refresh.window_percent,
                defaults.refresh.window_percent,
                1..=50,
            ),
            (
                names::TOKEN_REFRESH_MIN_SECONDS,
                config.settings.refresh.min_window_ms / 1000,
                defaults.refresh.min_window_ms / 1000,
                0..=86_400,
            ),
            (
                names::TOKEN_REQUEST_BUDGET_MS,
                config.settings.retry.budget_ms,
                defaults.retry.budget_ms,
                100..=15_000,
            ),
        ] {
            if logged.contains(name) || !set(name) {
                prop_assert_eq!(actual, default, "{}", name);
            } else {
                prop_assert!(range.contains(&actual), "{} = {}", name, actual);
            }
            prop_assert!(!logged.contains(name) || set(name), "{} logged but unset", name);
        }
        if logged.contains(names::ON_TOKEN_ERROR) {
            prop_assert_eq!(config.on_error, OnTokenError::Deny);
        }
        prop_assert!(!logged.contains(names::ROLES_CLAIM));
        prop_assert!(config.roles_claim.as_deref().is_none_or(|c| !c.is_empty() && c.trim() == c));
    }
}

// ---------------------------------------------------------------------------------------------
// Management API: percent-encoding of user ids, role names, error bodies
// ---------------------------------------------------------------------------------------------

/// Decodes a path segment that must consist only of RFC 3986 unreserved characters and
/// upper-case `%XX` escapes; `None` if it has anything else.
fn strict_percent_decode(segment: &str) -> Option<Vec<u8>> {
    let bytes = segment.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
            i += 1;
        } else if b == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            if !hex
                .bytes()
                .all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(&h))
            {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            return None;
        }
    }
    Some(out)
}

fn user_id() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => "(auth0|google-oauth2|samlp|email)\\|[A-Za-z0-9]{1,24}",
        2 => any::<String>(),
        1 => "[/?#%|@:+&= .~_-]{1,12}",
        1 => ".{1,3}".prop_map(|s| format!("../{s}")),
    ]
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn user_ids_are_percent_encoded_into_exactly_one_path_segment(
        user_id in user_id(),
        roles in any::<bool>(),
    ) {
        let host = FakeHost::new();
        host.answer_token(86_400);
        host.answer_management(200, "[]", &[]);
        let state = TokenState::new();
        let secrets = default_secrets();
        let provider = TokenProvider::new(&host, &state, &secrets);
        let client = ManagementClient::new(&provider);
        let (result, suffix) = if roles {
            (block_on(client.user_roles(&user_id)).map(Value::from), "/roles")
        } else {
            (block_on(client.get_user(&user_id)), "")
        };
        let urls: Vec<String> = host.management_requests().into_iter().map(|s| s.url).collect();
        if user_id.is_empty() {
            prop_assert_eq!(result, Err(Error::InvalidArgument("user id must not be empty")));
            prop_assert!(urls.is_empty());
            return Ok(());
        }
        prop_assert!(result.is_ok(), "{:?}", result);
        prop_assert_eq!(urls.len(), 1);
        let prefix = format!("{BASE_URL}/api/v2/users/");
        let segment = urls[0]
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .expect("URL is base/api/v2/users/{id}{suffix}");
        prop_assert!(!segment.is_empty());
        let decoded = strict_percent_decode(segment);
        prop_assert_eq!(decoded.as_deref(), Some(user_id.as_bytes()), "segment {:?}", segment);
    }

    #[test]
    fn role_names_keep_exactly_the_string_names(
        roles in prop::collection::vec(
            prop_oneof![
                3 => (".{0,12}", arb_json()).prop_map(|(name, id)| json!({"id": id, "name": name})),
                1 => arb_json().prop_map(|name| json!({"name": name})),
                1 => arb_json(),
            ],
            0..8,
        ),
    ) {
        let expected: Vec<String> = roles
            .iter()
            .filter_map(|r| match r {
                Value::Object(map) => map.get("name").and_then(Value::as_str).map(str::to_owned),
                _ => None,
            })
            .collect();
        prop_assert_eq!(role_names(&roles), expected);
    }

    #[test]
    fn management_errors_never_panic_and_quote_bounded_text(
        status in prop_oneof![300u16..=599, Just(401u16), Just(429u16)],
        body in prop_oneof![
            arb_text(),
            arb_json().prop_map(|v| v.to_string()),
            (arb_json(), ".{0,400}", ".{0,400}").prop_map(|(e, code, m)| {
                json!({"error": e, "errorCode": code, "message": m}).to_string()
            }),
        ],
        user_id in "[a-z|0-9]{1,20}",
    ) {
        // At most two calls (one retry after a 401 or a 429): two answers of each kind.
        let host = FakeHost::new();
        for _ in 0..2 {
            host.answer_token(86_400);
            host.answer_management(status, body.clone(), &[]);
        }
        let state = TokenState::new();
        let secrets = default_secrets();
        let provider = TokenProvider::new(&host, &state, &secrets);
        let client = ManagementClient::new(&provider);
        let error = block_on(client.get_user(&user_id)).expect_err("a non-2xx answer is an error");
        let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let field = |key: &str| parsed.get(key).and_then(Value::as_str).map(str::to_owned);
        prop_assert_eq!(
            &error,
            &Error::Status {
                endpoint: Endpoint::Management,
                status,
                code: field("errorCode").or_else(|| field("error")),
                message: field("message"),
            }
        );
        let text = error.to_string();
        prop_assert!(text.chars().count() <= 40 + 2 * 201 + 6, "{} chars", text.chars().count());
        // One retry at most: after a 401 with a new token, after a 429 only if the reset fits.
        prop_assert!(host.management_requests().len() <= 2);
    }
}
