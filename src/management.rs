//! A small Auth0 Management API v2 client over the cached token: enough for real post-login
//! work (read a user, update `app_metadata`, list roles and permissions).
//!
//! A 401 means the token was revoked or signed with a rotated key: the client drops it (memory
//! and trigger cache), obtains a new one and retries once. A 429 is retried once if the reset
//! fits in the time budget.

use serde_json::Value;

use crate::action::TokenProvider;
use crate::error::{Error, Result};
use crate::host::{Host, HttpRequest, HttpResponse, Method};
use crate::log::LogRecord;
use crate::retry::rate_limit_reset_ms;
use crate::secrets::Secrets;

const MAX_REQUEST_TIMEOUT_MS: u64 = 10_000;

/// Management API calls for one login.
#[derive(Debug)]
pub struct ManagementClient<'p, 'a, H> {
    provider: &'p TokenProvider<'a, H>,
    secrets: &'p Secrets,
}

impl<'p, 'a, H: Host> ManagementClient<'p, 'a, H> {
    /// A client that authenticates with `provider`'s token for `secrets`.
    pub fn new(provider: &'p TokenProvider<'a, H>, secrets: &'p Secrets) -> Self {
        ManagementClient { provider, secrets }
    }

    /// `GET /api/v2/users/{id}`.
    pub async fn get_user(&self, user_id: &str) -> Result<Value> {
        self.call(Method::Get, &user_path(user_id, "")?, None).await
    }

    /// `PATCH /api/v2/users/{id}` with `{ "app_metadata": patch }`: top-level keys are merged,
    /// a key set to `null` is removed. Returns the updated user.
    pub async fn update_app_metadata(&self, user_id: &str, patch: Value) -> Result<Value> {
        if !patch.is_object() {
            return Err(Error::InvalidArgument(
                "app_metadata patch must be a JSON object",
            ));
        }
        let body = serde_json::json!({ "app_metadata": patch }).to_string();
        self.call(Method::Patch, &user_path(user_id, "")?, Some(body))
            .await
    }

    /// `GET /api/v2/users/{id}/roles`.
    pub async fn user_roles(&self, user_id: &str) -> Result<Vec<Value>> {
        self.list(&user_path(user_id, "/roles")?).await
    }

    /// `GET /api/v2/users/{id}/permissions`.
    pub async fn user_permissions(&self, user_id: &str) -> Result<Vec<Value>> {
        self.list(&user_path(user_id, "/permissions")?).await
    }

    async fn list(&self, path: &str) -> Result<Vec<Value>> {
        match self.call(Method::Get, path, None).await? {
            Value::Array(items) => Ok(items),
            _ => Err(Error::ManagementResponse("expected a JSON array")),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<String>) -> Result<Value> {
        let host = self.provider.host();
        // The token has its own budget; the call's budget starts once there is a token.
        let mut token = self.provider.acquire(self.secrets).await?.token;
        let deadline = host
            .now_ms()
            .saturating_add(self.provider.settings().retry.budget_ms);
        let mut renewed = false;
        let mut waited = false;
        loop {
            let started = host.now_ms();
            let url = format!("{}/api/v2{path}", self.secrets.domain().base_url());
            let remaining = deadline.saturating_sub(started).max(1);
            let answer = host
                .send(HttpRequest {
                    method,
                    url,
                    bearer: Some(token.access_token().to_owned()),
                    json_body: body.clone(),
                    timeout_ms: remaining.min(MAX_REQUEST_TIMEOUT_MS),
                })
                .await;
            let now = host.now_ms();
            let response: HttpResponse = match answer {
                Ok(response) => response,
                Err(reason) => {
                    host.log(
                        LogRecord::error("management_request")
                            .field("method", method.as_str())
                            .field("path", path)
                            .field("outcome", "no_response")
                            .field("error", reason.clone())
                            .field("duration_ms", now.saturating_sub(started)),
                    );
                    return Err(Error::ManagementTransport(reason));
                }
            };
            host.log(
                LogRecord::info("management_request")
                    .field("method", method.as_str())
                    .field("path", path)
                    .field("status", response.status)
                    .field("duration_ms", now.saturating_sub(started)),
            );
            match response.status {
                200..=299 => {
                    return serde_json::from_str(&response.body)
                        .map_err(|_| Error::ManagementResponse("body is not JSON"));
                }
                401 if !renewed => {
                    renewed = true;
                    self.provider.discard(self.secrets, &token);
                    token = self.provider.acquire(self.secrets).await?.token;
                }
                429 if !waited => {
                    waited = true;
                    let reset = rate_limit_reset_ms(&response, now).unwrap_or(u64::MAX);
                    let wait = reset.saturating_sub(now);
                    if now.saturating_add(wait) >= deadline {
                        return Err(management_error(&response));
                    }
                    host.log(LogRecord::info("management_retry").field("wait_ms", wait));
                    host.sleep(wait).await;
                }
                _ => return Err(management_error(&response)),
            }
        }
    }
}

/// The names of roles as the Management API lists them (`[{ "name": … }]`).
pub fn role_names(roles: &[Value]) -> Vec<String> {
    roles
        .iter()
        .filter_map(|role| role.get("name")?.as_str().map(str::to_owned))
        .collect()
}

fn management_error(response: &HttpResponse) -> Error {
    let body: Value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    Error::ManagementApi {
        status: response.status,
        error: text("errorCode").or_else(|| text("error")),
        message: text("message"),
    }
}

fn user_path(user_id: &str, suffix: &str) -> Result<String> {
    if user_id.is_empty() {
        return Err(Error::InvalidArgument("user id must not be empty"));
    }
    Ok(format!("/users/{}{suffix}", percent_encode(user_id)))
}

/// Percent-encodes everything but RFC 3986 unreserved characters (`auth0|123` → `auth0%7C123`).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_percent_encoded() {
        assert_eq!(
            user_path("auth0|123", "/roles").unwrap(),
            "/users/auth0%7C123/roles"
        );
        assert_eq!(
            user_path("google-oauth2|a/b?c", "").unwrap(),
            "/users/google-oauth2%7Ca%2Fb%3Fc"
        );
        assert_eq!(user_path("é", "").unwrap(), "/users/%C3%A9");
        assert_eq!(
            user_path("", ""),
            Err(Error::InvalidArgument("user id must not be empty"))
        );
    }

    #[test]
    fn role_names_skip_malformed_entries() {
        let roles = serde_json::json!([{"id": "r1", "name": "admin"}, {"id": "r2"}, "x", {"name": 3}, {"name": "editor"}]);
        assert_eq!(role_names(roles.as_array().unwrap()), ["admin", "editor"]);
    }

    #[test]
    fn management_errors_keep_auth0_fields() {
        let response = HttpResponse {
            status: 403,
            body: r#"{"statusCode":403,"error":"Forbidden","message":"Insufficient scope, expected any of: read:users","errorCode":"insufficient_scope"}"#.into(),
            headers: vec![],
        };
        assert_eq!(
            management_error(&response),
            Error::ManagementApi {
                status: 403,
                error: Some("insufficient_scope".into()),
                message: Some("Insufficient scope, expected any of: read:users".into()),
            }
        );
    }
}
