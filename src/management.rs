//! A small Auth0 Management API v2 client over the cached token: enough for real post-login
//! work (read a user, update `app_metadata`, list roles, permissions and groups, check group
//! membership).
//!
//! A 401 means the token was revoked or signed with a rotated key: the client drops it (memory
//! and trigger cache), obtains a new one and retries once. A 429 is retried if the reset fits
//! in the time budget. Network errors and 5xx are not retried: a write may have been applied.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::error::{Endpoint, Error, Result};
use crate::groups::{self, GROUP_PAGE_SIZE, LoginScope, MAX_GROUP_PAGES};
use crate::host::{Host, HttpRequest, Method};
use crate::http::{self, Retries};
use crate::provider::TokenProvider;

/// One try, and one more after a 429 whose reset fits the budget.
const MANAGEMENT_RETRIES: Retries = Retries {
    max_attempts: 2,
    transient: false,
};

/// Management API calls for one login.
#[derive(Debug)]
pub struct ManagementClient<'p, 'a, H> {
    provider: &'p TokenProvider<'a, H>,
}

impl<'p, 'a, H: Host> ManagementClient<'p, 'a, H> {
    /// A client that authenticates with `provider`'s token.
    pub fn new(provider: &'p TokenProvider<'a, H>) -> Self {
        ManagementClient { provider }
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

    /// `GET /api/v2/users/{id}/groups?take=…[&from=…]`: one page of the user's groups
    /// (checkpoint pagination), `{ "groups": [...], "next"?: cursor }`. `take` is kept within
    /// 1–100 (default 50).
    pub async fn user_groups(
        &self,
        user_id: &str,
        from: Option<&str>,
        take: Option<u32>,
    ) -> Result<Value> {
        let mut path = user_path(user_id, "/groups")?;
        path.push_str(&format!("?take={}", groups::page_size(take)));
        if let Some(from) = from.filter(|f| !f.is_empty()) {
            path.push_str(&format!(
                "&from={}",
                utf8_percent_encode(from, PATH_SEGMENT)
            ));
        }
        groups::page(self.call(Method::Get, &path, None).await?)
    }

    /// `api.groups.hasGroupMembership(keys)` for a login in `scope`: reads the user's groups
    /// (at most [`MAX_GROUP_PAGES`] pages of 100) and decides with [`groups::membership`].
    pub async fn group_membership(
        &self,
        user_id: &str,
        scope: LoginScope<'_>,
        keys: &[String],
    ) -> Result<Value> {
        let mut all = Vec::new();
        let mut from: Option<String> = None;
        let mut complete = false;
        for _ in 0..MAX_GROUP_PAGES {
            let page = self
                .user_groups(user_id, from.as_deref(), Some(GROUP_PAGE_SIZE))
                .await?;
            if let Some(Value::Array(items)) = page.get("groups") {
                all.extend(items.iter().cloned());
            }
            match page.get("next").and_then(Value::as_str) {
                Some(next) if from.as_deref() != Some(next) => from = Some(next.to_owned()),
                _ => {
                    complete = true;
                    break;
                }
            }
        }
        Ok(groups::membership(&all, scope, keys, complete))
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
        let mut token = self.provider.acquire().await?.token;
        let retry = self.provider.settings().retry;
        let deadline = host.now_ms().saturating_add(retry.budget_ms);
        let url = format!(
            "{}/api/v2{path}",
            self.provider.secrets().domain().base_url()
        );
        let mut renewed = false;
        loop {
            let bearer = token.access_token().to_owned();
            let outcome = http::retrying(
                host,
                Endpoint::Management,
                &retry,
                MANAGEMENT_RETRIES,
                deadline,
                async |attempt, timeout_ms| {
                    let request = HttpRequest {
                        method,
                        url: url.clone(),
                        bearer: Some(bearer.clone()),
                        json_body: body.clone(),
                        timeout_ms,
                    };
                    let response = http::send(host, Endpoint::Management, path, attempt, request)
                        .await
                        .map_err(|error| (error, None))?;
                    if !(200..300).contains(&response.status) {
                        let error = Error::from_response(
                            Endpoint::Management,
                            response.status,
                            &response.body,
                        );
                        return Err((error, Some(response)));
                    }
                    serde_json::from_str(&response.body)
                        .map_err(|_| (Error::ManagementResponse("body is not JSON"), None))
                },
            )
            .await;
            match outcome {
                Ok(value) => return Ok(value),
                Err((Error::Status { status: 401, .. }, _)) if !renewed => {
                    renewed = true;
                    self.provider.discard(&token);
                    token = self.provider.acquire().await?.token;
                }
                Err((error, _)) => return Err(error),
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

fn user_path(user_id: &str, suffix: &str) -> Result<String> {
    if user_id.is_empty() {
        return Err(Error::InvalidArgument("user id must not be empty"));
    }
    Ok(format!(
        "/users/{}{suffix}",
        utf8_percent_encode(user_id, PATH_SEGMENT)
    ))
}

/// Everything but RFC 3986 unreserved characters (`auth0|123` → `auth0%7C123`).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

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
}
