//! The crate's error type.
//!
//! Every message is safe to log: no variant ever carries the client secret or an access token.
//! Text that comes from the token endpoint (`error`, `error_description`) is length-limited.

use thiserror::Error;

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can stop the Action from producing a Management API token.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// A secret is missing or malformed. Configuration problem; retrying will not help.
    #[error("secret {name}: {problem}")]
    Secret {
        /// The secret's name, e.g. `AUTH0_CUSTOM_DOMAIN`.
        name: &'static str,
        /// What is wrong with it.
        problem: SecretProblem,
    },
    /// A request never got an HTTP answer (DNS, connection, TLS, timeout).
    #[error("{} request failed: {reason}", .endpoint.name())]
    Transport {
        /// Which endpoint was called.
        endpoint: Endpoint,
        /// What the host said (never the request itself).
        reason: String,
    },
    /// An endpoint answered with an error status, described by Auth0's error body.
    #[error("{} answered HTTP {status}{}", .endpoint.answer_name(), describe_endpoint_error(.code, .message))]
    Status {
        /// Which endpoint answered.
        endpoint: Endpoint,
        /// HTTP status.
        status: u16,
        /// Auth0's `error` (token endpoint) or `errorCode`/`error` (Management API).
        code: Option<String>,
        /// Auth0's `error_description` (token endpoint) or `message` (Management API).
        message: Option<String>,
    },
    /// The token endpoint answered 200 but the response or the token in it is unusable.
    #[error("invalid token response: {0}")]
    InvalidToken(TokenProblem),
    /// No request was made: an earlier failure put token requests on hold (the negative cache).
    #[error("token requests paused for {} s after: {last}", .remaining_ms.div_ceil(1000))]
    CoolingDown {
        /// Time left until requests may be made again.
        remaining_ms: u64,
        /// The failure that started the cool-down.
        last: Box<Error>,
    },
    /// The Management API answered 2xx with a body that is not the expected JSON.
    #[error("Management API answered with unexpected JSON: {0}")]
    ManagementResponse(&'static str),
    /// The fleet's token broker could not get a token; `kind` is the [`Error::kind`] of the
    /// failure it saw (one of the token-side kinds), `message` its description.
    #[error("{message}")]
    Brokered {
        /// The broker's failure kind.
        kind: &'static str,
        /// What the broker reported (never a credential).
        message: String,
    },
    /// A Management API call was given an unusable argument.
    #[error("invalid Management API argument: {0}")]
    InvalidArgument(&'static str),
}

/// The Auth0 endpoint a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /oauth/token` (the Authentication API).
    Token,
    /// `/api/v2/*` (the Management API).
    Management,
}

impl Endpoint {
    /// The name in "… request failed" messages.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Token => "token",
            Endpoint::Management => "Management API",
        }
    }

    fn answer_name(self) -> &'static str {
        match self {
            Endpoint::Token => "token endpoint",
            Endpoint::Management => "Management API",
        }
    }
}

impl Error {
    /// The error for an answer with status `status`, from Auth0's error body in either of its
    /// two shapes (`{error, error_description}` from the Authentication API,
    /// `{statusCode, error, message, errorCode}` from the Management API), or from none.
    ///
    /// ```
    /// use post_login_action::error::{Endpoint, Error};
    /// let body = r#"{"error":"access_denied","error_description":"Unauthorized"}"#;
    /// assert_eq!(
    ///     Error::from_response(Endpoint::Token, 401, body).to_string(),
    ///     "token endpoint answered HTTP 401: access_denied (Unauthorized)"
    /// );
    /// ```
    pub fn from_response(endpoint: Endpoint, status: u16, body: &str) -> Error {
        let body: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        let text = |key: &str| body.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        Error::Status {
            endpoint,
            status,
            code: text("errorCode").or_else(|| text("error")),
            message: text("error_description").or_else(|| text("message")),
        }
    }
}

/// What is wrong with a secret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SecretProblem {
    /// Not set at all.
    #[error("is missing")]
    Missing,
    /// Set to an empty or all-whitespace string.
    #[error("is empty")]
    Empty,
    /// Set, but not usable; the text says why (it never repeats the value).
    #[error("{0}")]
    Invalid(&'static str),
}

/// Why a 200 response from the token endpoint was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TokenProblem {
    /// The body is not a JSON object.
    #[error("body is not a JSON object")]
    NotJson,
    /// A required field is absent or has the wrong JSON type.
    #[error("field `{0}` is missing or not of the expected type")]
    MissingField(&'static str),
    /// `token_type` is not `Bearer`.
    #[error("token_type is {0:?}, expected \"Bearer\"")]
    TokenType(String),
    /// `expires_in` is zero, negative or not a finite number.
    #[error("expires_in must be a positive number of seconds")]
    ExpiresIn,
    /// `access_token` is not a JWT (three base64url parts with a JSON header and payload).
    #[error("access_token is not a JWT: {0}")]
    NotJwt(&'static str),
    /// The JWT has no numeric `exp` claim.
    #[error("access_token has no numeric exp claim")]
    MissingExp,
    /// The JWT's `exp` is not in the future.
    #[error("access_token is already expired")]
    Expired,
    /// The JWT's `aud` neither is nor contains the configured audience.
    #[error("access_token audience does not include the configured ACCOUNT_API")]
    Audience,
}

/// Longest piece of endpoint-supplied text we repeat in a message.
const MAX_QUOTED_CHARS: usize = 200;

fn describe_endpoint_error(error: &Option<String>, description: &Option<String>) -> String {
    let mut out = String::new();
    if let Some(code) = error {
        out.push_str(": ");
        out.push_str(&truncate(code));
    }
    if let Some(text) = description {
        out.push_str(if error.is_some() { " (" } else { ": (" });
        out.push_str(&truncate(text));
        out.push(')');
    }
    out
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

impl Error {
    /// A stable, machine-readable name for the kind of failure, used as the `error` field of
    /// log lines so dashboards can group on it.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Secret { .. } => "secret",
            Error::Transport {
                endpoint: Endpoint::Token,
                ..
            } => "transport",
            Error::Status {
                endpoint: Endpoint::Token,
                ..
            } => "token_endpoint",
            Error::InvalidToken(_) => "invalid_token",
            Error::CoolingDown { .. } => "cooling_down",
            Error::Transport {
                endpoint: Endpoint::Management,
                ..
            } => "management_transport",
            Error::Status {
                endpoint: Endpoint::Management,
                ..
            } => "management_api",
            Error::ManagementResponse(_) => "management_response",
            Error::InvalidArgument(_) => "invalid_argument",
            Error::Brokered { kind, .. } => kind,
        }
    }

    /// The most likely cause of a token endpoint refusal, in words an operator can act on.
    pub fn likely_cause(&self) -> Option<&'static str> {
        if let Error::CoolingDown { last, .. } = self {
            return last.likely_cause();
        }
        let Error::Status {
            endpoint: Endpoint::Token,
            status,
            code,
            ..
        } = self
        else {
            return None;
        };
        Some(match (status, code.as_deref()) {
            (401, _) => "wrong CLIENT_ID or CLIENT_SECRET",
            (403, Some("unauthorized_client")) => {
                "the client_credentials grant is not enabled for this application"
            }
            (403, _) => "no client grant authorizes this application for ACCOUNT_API",
            (400, _) => "the token request was malformed or named an unknown audience",
            (429, _) => "rate limited by Auth0",
            (500..=599, _) => "Auth0 is failing or unavailable",
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_error(status: u16, code: Option<&str>, message: Option<String>) -> Error {
        Error::Status {
            endpoint: Endpoint::Token,
            status,
            code: code.map(str::to_owned),
            message,
        }
    }

    #[test]
    fn endpoint_error_quotes_auth0_fields_and_truncates_long_text() {
        let err = token_error(403, Some("access_denied"), Some("x".repeat(500)));
        let text = err.to_string();
        assert!(text.starts_with("token endpoint answered HTTP 403: access_denied ("));
        assert!(text.chars().count() < 300, "{text}");
        assert_eq!(
            err.likely_cause(),
            Some("no client grant authorizes this application for ACCOUNT_API")
        );
    }

    #[test]
    fn both_auth0_error_shapes_parse_into_one_error() {
        assert_eq!(
            Error::from_response(
                Endpoint::Token,
                401,
                r#"{"error":"access_denied","error_description":"Unauthorized"}"#
            ),
            token_error(401, Some("access_denied"), Some("Unauthorized".into()))
        );
        let management = Error::from_response(
            Endpoint::Management,
            403,
            r#"{"statusCode":403,"error":"Forbidden","message":"Insufficient scope","errorCode":"insufficient_scope"}"#,
        );
        assert_eq!(
            management,
            Error::Status {
                endpoint: Endpoint::Management,
                status: 403,
                code: Some("insufficient_scope".into()),
                message: Some("Insufficient scope".into()),
            }
        );
        assert_eq!(
            management.to_string(),
            "Management API answered HTTP 403: insufficient_scope (Insufficient scope)"
        );
        assert_eq!(
            Error::from_response(Endpoint::Token, 502, "<html>bad gateway</html>"),
            token_error(502, None, None)
        );
    }

    #[test]
    fn likely_causes_name_the_misconfiguration() {
        assert_eq!(
            token_error(401, Some("access_denied"), None).likely_cause(),
            Some("wrong CLIENT_ID or CLIENT_SECRET")
        );
        assert_eq!(
            token_error(403, Some("unauthorized_client"), None).likely_cause(),
            Some("the client_credentials grant is not enabled for this application")
        );
        assert_eq!(token_error(302, None, None).likely_cause(), None);
        let transport = Error::Transport {
            endpoint: Endpoint::Token,
            reason: "reset".into(),
        };
        assert_eq!(transport.likely_cause(), None);
        assert_eq!(transport.to_string(), "token request failed: reset");
    }
}
