//! The Action's secrets, validated.
//!
//! The names are the seed Action's: `AUTH0_CUSTOM_DOMAIN`, `CLIENT_ID`, `CLIENT_SECRET` and
//! `ACCOUNT_API`. Values are trimmed of surrounding whitespace first, because Auth0 identifiers
//! and secrets never contain any and a pasted trailing newline is the commonest mistake.

use core::fmt;
use std::net::Ipv4Addr;

use crate::error::{Error, Result, SecretProblem};

/// Name of the secret holding the tenant domain.
pub const DOMAIN: &str = "AUTH0_CUSTOM_DOMAIN";
/// Name of the secret holding the machine-to-machine application's client id.
pub const CLIENT_ID: &str = "CLIENT_ID";
/// Name of the secret holding the machine-to-machine application's client secret.
pub const CLIENT_SECRET: &str = "CLIENT_SECRET";
/// Name of the secret holding the audience (the Management API identifier).
pub const ACCOUNT_API: &str = "ACCOUNT_API";
/// Every secret the Action reads from `event.secrets`.
pub const NAMES: [&str; 4] = [DOMAIN, CLIENT_ID, CLIENT_SECRET, ACCOUNT_API];

/// Validated secrets. `Debug` never prints the client secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secrets {
    domain: Domain,
    client_id: String,
    client_secret: String,
    audience: String,
}

impl Secrets {
    /// Validates secrets given by a lookup function (the Action's `event.secrets`).
    ///
    /// Errors name the first secret that is missing, empty or malformed.
    pub fn from_lookup(mut lookup: impl FnMut(&'static str) -> Option<String>) -> Result<Self> {
        let mut required = |name: &'static str| -> Result<String> {
            let value = lookup(name).ok_or(Error::Secret {
                name,
                problem: SecretProblem::Missing,
            })?;
            let trimmed = value.trim();
            if trimmed.is_empty() {
                return Err(Error::Secret {
                    name,
                    problem: SecretProblem::Empty,
                });
            }
            Ok(trimmed.to_owned())
        };
        let domain = required(DOMAIN)?;
        let client_id = required(CLIENT_ID)?;
        let client_secret = required(CLIENT_SECRET)?;
        let audience = required(ACCOUNT_API)?;
        let domain = Domain::parse(&domain).map_err(|problem| Error::Secret {
            name: DOMAIN,
            problem: SecretProblem::Invalid(problem),
        })?;
        Ok(Secrets {
            domain,
            client_id,
            client_secret,
            audience,
        })
    }

    /// The tenant's base URL.
    pub fn domain(&self) -> &Domain {
        &self.domain
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret. Only the token request body may use it.
    pub fn client_secret(&self) -> &str {
        &self.client_secret
    }

    /// The audience the token is requested for (`ACCOUNT_API`).
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The JSON body of a client-credentials token request.
    pub fn token_request_body(&self) -> String {
        serde_json::json!({
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "audience": self.audience,
        })
        .to_string()
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("domain", &self.domain)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("audience", &self.audience)
            .finish()
    }
}

/// A tenant base URL: `https://host[:port]`, or `http://` for a loopback host (local simulators).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    base_url: String,
}

impl Domain {
    /// Parses `host`, `https://host[:port]`, or `http://loopback[:port]`; one trailing `/` is
    /// allowed. A path, query, fragment or userinfo is refused, as is `http://` to anything but
    /// `localhost`, `127.0.0.0/8` or `[::1]`: a client secret must never cross the network in clear.
    pub fn parse(input: &str) -> core::result::Result<Self, &'static str> {
        let (scheme, rest) = if let Some(rest) = strip_prefix_ignore_case(input, "https://") {
            ("https", rest)
        } else if let Some(rest) = strip_prefix_ignore_case(input, "http://") {
            ("http", rest)
        } else if input.contains("://") {
            return Err("must use https:// (or http:// for a loopback host)");
        } else {
            ("https", input)
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('/') {
            return Err("must be a host name without a path");
        }
        if authority.contains('?') || authority.contains('#') {
            return Err("must be a host name without a query or fragment");
        }
        if authority.contains('@') {
            return Err("must not contain user information");
        }
        let (host, port) = split_host_port(authority)?;
        let host = host.to_ascii_lowercase();
        if scheme == "http" && !is_loopback(&host) {
            return Err("http:// is allowed only for localhost, 127.0.0.0/8 or [::1]");
        }
        let mut base_url = format!("{scheme}://{host}");
        if let Some(port) = port {
            base_url.push(':');
            base_url.push_str(port);
        }
        Ok(Domain { base_url })
    }

    /// `scheme://host[:port]`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The client-credentials token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/oauth/token", self.base_url)
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base_url)
    }
}

fn strip_prefix_ignore_case<'a>(input: &'a str, prefix: &str) -> Option<&'a str> {
    let head = input.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &input[prefix.len()..])
}

fn split_host_port(authority: &str) -> core::result::Result<(&str, Option<&str>), &'static str> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']').ok_or("has an unterminated IPv6 address")?;
        let host = &authority[..end + 2];
        let after = &rest[end + 1..];
        if rest[..end].parse::<std::net::Ipv6Addr>().is_err() {
            return Err("has an invalid IPv6 address");
        }
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err("has text after the IPv6 address"),
            },
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("has no host name");
    }
    if !host.starts_with('[') {
        let valid_label = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if host.len() > 253 || !host.split('.').all(valid_label) {
            return Err("is not a valid host name");
        }
    }
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && matches!(port.parse::<u32>(), Ok(1..=65535));
        if !valid {
            return Err("has an invalid port");
        }
    }
    Ok((host, port))
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host == "[::1]"
        || host
            .parse::<Ipv4Addr>()
            .is_ok_and(|ip| ip.octets()[0] == 127)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(pairs: &[(&'static str, &str)]) -> Result<Secrets> {
        Secrets::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    const GOOD: [(&str, &str); 4] = [
        (DOMAIN, "tenant.eu.auth0.com"),
        (CLIENT_ID, "cid"),
        (CLIENT_SECRET, "shh"),
        (ACCOUNT_API, "https://tenant.eu.auth0.com/api/v2/"),
    ];

    fn with(name: &'static str, value: Option<&str>) -> Result<Secrets> {
        let pairs: Vec<_> = GOOD
            .iter()
            .filter(|(k, _)| *k != name)
            .copied()
            .chain(value.map(|v| (name, v)))
            .collect();
        secrets(&pairs)
    }

    #[test]
    fn bare_host_becomes_https() {
        let s = secrets(&GOOD).unwrap();
        assert_eq!(s.domain().base_url(), "https://tenant.eu.auth0.com");
        assert_eq!(
            s.domain().token_url(),
            "https://tenant.eu.auth0.com/oauth/token"
        );
    }

    #[test]
    fn values_are_trimmed() {
        let s = with(CLIENT_SECRET, Some("  shh\n")).unwrap();
        assert_eq!(s.client_secret(), "shh");
    }

    #[test]
    fn each_missing_or_empty_secret_is_named() {
        for name in [DOMAIN, CLIENT_ID, CLIENT_SECRET, ACCOUNT_API] {
            assert_eq!(
                with(name, None).unwrap_err(),
                Error::Secret {
                    name,
                    problem: SecretProblem::Missing
                }
            );
            assert_eq!(
                with(name, Some(" \t")).unwrap_err(),
                Error::Secret {
                    name,
                    problem: SecretProblem::Empty
                }
            );
        }
    }

    #[test]
    fn accepted_domains_normalise() {
        for (input, base) in [
            ("tenant.auth0.com", "https://tenant.auth0.com"),
            ("https://tenant.auth0.com", "https://tenant.auth0.com"),
            ("https://tenant.auth0.com/", "https://tenant.auth0.com"),
            ("HTTPS://Login.Example.COM", "https://login.example.com"),
            (
                "https://login.example.com:8443",
                "https://login.example.com:8443",
            ),
            ("http://localhost:8788", "http://localhost:8788"),
            ("http://127.0.0.1:1", "http://127.0.0.1:1"),
            ("http://127.9.8.7", "http://127.9.8.7"),
            ("http://[::1]:65535/", "http://[::1]:65535"),
            ("https://[2001:db8::1]", "https://[2001:db8::1]"),
        ] {
            assert_eq!(
                Domain::parse(input).map(|d| d.base_url).as_deref(),
                Ok(base),
                "{input}"
            );
        }
    }

    #[test]
    fn refused_domains_say_why() {
        for (input, why) in [
            (
                "http://tenant.auth0.com",
                "http:// is allowed only for localhost, 127.0.0.0/8 or [::1]",
            ),
            (
                "http://10.0.0.1:80",
                "http:// is allowed only for localhost, 127.0.0.0/8 or [::1]",
            ),
            (
                "http://128.0.0.1",
                "http:// is allowed only for localhost, 127.0.0.0/8 or [::1]",
            ),
            (
                "http://[::2]",
                "http:// is allowed only for localhost, 127.0.0.0/8 or [::1]",
            ),
            (
                "ftp://tenant.auth0.com",
                "must use https:// (or http:// for a loopback host)",
            ),
            (
                "https://tenant.auth0.com/api",
                "must be a host name without a path",
            ),
            (
                "https://tenant.auth0.com//",
                "must be a host name without a path",
            ),
            (
                "https://tenant.auth0.com?x=1",
                "must be a host name without a query or fragment",
            ),
            (
                "tenant.auth0.com#frag",
                "must be a host name without a query or fragment",
            ),
            (
                "https://user:pw@tenant.auth0.com",
                "must not contain user information",
            ),
            ("https://tenant.auth0.com:0", "has an invalid port"),
            ("https://tenant.auth0.com:65536", "has an invalid port"),
            ("https://tenant.auth0.com:", "has an invalid port"),
            ("https://tenant.auth0.com:+80", "has an invalid port"),
            ("https://", "has no host name"),
            ("https://:443", "has no host name"),
            ("https://ten ant.auth0.com", "is not a valid host name"),
            ("https://tenant..auth0.com", "is not a valid host name"),
            ("https://-tenant.auth0.com", "is not a valid host name"),
            ("https://[::1", "has an unterminated IPv6 address"),
            ("https://[::1]x", "has text after the IPv6 address"),
            ("https://[zz::1]", "has an invalid IPv6 address"),
        ] {
            assert_eq!(Domain::parse(input), Err(why), "{input}");
        }
    }

    #[test]
    fn bad_domain_error_names_the_secret() {
        let err = with(DOMAIN, Some("http://evil.example")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret AUTH0_CUSTOM_DOMAIN: http:// is allowed only for localhost, 127.0.0.0/8 or [::1]"
        );
    }

    #[test]
    fn debug_output_redacts_the_client_secret() {
        let s = with(CLIENT_SECRET, Some("super-secret-value")).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("super-secret-value"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn token_request_body_is_the_client_credentials_grant() {
        let s = secrets(&GOOD).unwrap();
        let body: serde_json::Value = serde_json::from_str(&s.token_request_body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "grant_type": "client_credentials",
                "client_id": "cid",
                "client_secret": "shh",
                "audience": "https://tenant.eu.auth0.com/api/v2/",
            })
        );
    }
}
