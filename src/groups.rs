//! The decisions behind `api.groups` (`@auth0/actions` post-login v3 `GroupsAPI`), made over the
//! user's groups as the Management API lists them (`GET /api/v2/users/{id}/groups`).
//!
//! - A page of groups is `{ "groups": [...], "next"?: cursor }` (checkpoint pagination); a bare
//!   array (the answer without `take`) is a last page.
//! - `hasGroupMembership(groups)` takes group identifiers, "IDs or names" (the types). An
//!   identifier matches a group whose `id` or `name` equals it exactly (case-sensitive), among the
//!   groups that apply to this login: tenant groups (neither `connection_id` nor
//!   `organization_id`), groups of the login's connection, and groups of the login's
//!   organization. A group of another connection or organization does not count: Auth0 hands its
//!   check the connection and organization of the login (the harness), and a group name is unique
//!   only within its connection (the Management API's group schema).
//! - Each identifier gets `{ is_member, matches? }`; `matches` (each `{ id, name, group_type }`,
//!   `group_type` one of `connection`, `organization`, `tenant`) only when it is a member. When
//!   the user has more groups than are read ([`MAX_GROUP_PAGES`] pages of [`GROUP_PAGE_SIZE`]),
//!   an identifier not found is not declared a non-member: it goes to `errors` with
//!   [`INCOMPLETE`].

use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// Groups per page when reading all of them (the Management API's maximum `take`).
pub const GROUP_PAGE_SIZE: u32 = 100;
/// Pages read at most for one membership check (1,000 groups).
pub const MAX_GROUP_PAGES: usize = 10;
/// `take` when the caller gives none (the Management API's default).
pub const DEFAULT_TAKE: u32 = 50;
/// The error code of an identifier that could not be checked because not all groups were read.
pub const INCOMPLETE: &str = "too_many_groups";

/// The connection and organization of the login: which non-tenant groups apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoginScope<'a> {
    /// `event.connection.id`.
    pub connection_id: Option<&'a str>,
    /// `event.organization.id`.
    pub organization_id: Option<&'a str>,
}

/// The `take` sent: the caller's, within 1–100, or the default.
pub fn page_size(take: Option<u32>) -> u32 {
    take.map_or(DEFAULT_TAKE, |t| t.clamp(1, GROUP_PAGE_SIZE))
}

/// A page of groups from the Management API's answer: `{ "groups": [...], "next"?: "…" }`.
/// Only `groups` and a non-empty string `next` are kept.
pub fn page(body: Value) -> Result<Value> {
    let shape = Error::ManagementResponse("expected the user's groups");
    let (groups, next) = match body {
        Value::Array(groups) => (groups, None),
        Value::Object(mut object) => {
            let Some(Value::Array(groups)) = object.remove("groups") else {
                return Err(shape);
            };
            let next = match object.remove("next") {
                Some(Value::String(next)) if !next.is_empty() => Some(next),
                _ => None,
            };
            (groups, next)
        }
        _ => return Err(shape),
    };
    let mut out = Map::new();
    out.insert("groups".into(), Value::Array(groups));
    if let Some(next) = next {
        out.insert("next".into(), Value::String(next));
    }
    Ok(Value::Object(out))
}

fn text<'v>(group: &'v Value, field: &str) -> Option<&'v str> {
    group.get(field)?.as_str().filter(|s| !s.is_empty())
}

/// `connection`, `organization` or `tenant`.
pub fn group_type(group: &Value) -> &'static str {
    if text(group, "connection_id").is_some() {
        "connection"
    } else if text(group, "organization_id").is_some() {
        "organization"
    } else {
        "tenant"
    }
}

/// Whether `group` applies to a login in `scope`.
pub fn applies(group: &Value, scope: LoginScope<'_>) -> bool {
    match group_type(group) {
        "connection" => {
            scope.connection_id.is_some() && text(group, "connection_id") == scope.connection_id
        }
        "organization" => {
            scope.organization_id.is_some()
                && text(group, "organization_id") == scope.organization_id
        }
        _ => true,
    }
}

/// The answer of `hasGroupMembership(keys)` over the user's `groups` (`complete`: all of them
/// were read).
pub fn membership(
    groups: &[Value],
    scope: LoginScope<'_>,
    keys: &[String],
    complete: bool,
) -> Value {
    let mut memberships = Map::new();
    let mut errors = Map::new();
    for key in keys {
        let matches: Vec<Value> = groups
            .iter()
            .filter(|g| applies(g, scope))
            .filter(|g| text(g, "id") == Some(key) || text(g, "name") == Some(key))
            .map(|g| {
                json!({
                    "id": text(g, "id").unwrap_or_default(),
                    "name": text(g, "name").unwrap_or_default(),
                    "group_type": group_type(g),
                })
            })
            .collect();
        if !matches.is_empty() {
            memberships.insert(
                key.clone(),
                json!({ "is_member": true, "matches": matches }),
            );
        } else if complete {
            memberships.insert(key.clone(), json!({ "is_member": false }));
        } else {
            errors.insert(key.clone(), Value::from(INCOMPLETE));
        }
    }
    let mut out = Map::new();
    out.insert("memberships".into(), Value::Object(memberships));
    if !errors.is_empty() {
        out.insert("errors".into(), Value::Object(errors));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups() -> Vec<Value> {
        serde_json::from_value(json!([
            {"id": "grp_t", "name": "staff", "tenant_name": "acme"},
            {"id": "grp_c1", "name": "admins", "connection_id": "con_1"},
            {"id": "grp_c2", "name": "admins", "connection_id": "con_2"},
            {"id": "grp_o1", "name": "org-admins", "organization_id": "org_1"},
            {"id": "grp_bad"}
        ]))
        .unwrap()
    }

    const SCOPE: LoginScope<'static> = LoginScope {
        connection_id: Some("con_1"),
        organization_id: Some("org_1"),
    };

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn page_keeps_groups_and_a_cursor() {
        let body = json!({"groups": [{"id": "grp_1"}], "next": "cur", "total": 3});
        assert_eq!(
            page(body).unwrap(),
            json!({"groups": [{"id": "grp_1"}], "next": "cur"})
        );
        assert_eq!(
            page(json!({"groups": [], "next": ""})).unwrap(),
            json!({"groups": []})
        );
        assert_eq!(
            page(json!([{"id": "g"}])).unwrap(),
            json!({"groups": [{"id": "g"}]})
        );
        for bad in [json!({}), json!({"groups": {}}), json!("x"), json!(null)] {
            assert_eq!(
                page(bad),
                Err(Error::ManagementResponse("expected the user's groups"))
            );
        }
    }

    #[test]
    fn page_size_is_clamped_to_the_api_range() {
        assert_eq!(page_size(None), 50);
        assert_eq!(page_size(Some(0)), 1);
        assert_eq!(page_size(Some(7)), 7);
        assert_eq!(page_size(Some(1000)), 100);
    }

    #[test]
    fn groups_match_by_id_or_name_within_the_login_scope() {
        let out = membership(
            &groups(),
            SCOPE,
            &keys(&["admins", "grp_t", "org-admins", "nobody"]),
            true,
        );
        assert_eq!(
            out,
            json!({"memberships": {
                "admins": {"is_member": true, "matches": [{"id": "grp_c1", "name": "admins", "group_type": "connection"}]},
                "grp_t": {"is_member": true, "matches": [{"id": "grp_t", "name": "staff", "group_type": "tenant"}]},
                "org-admins": {"is_member": true, "matches": [{"id": "grp_o1", "name": "org-admins", "group_type": "organization"}]},
                "nobody": {"is_member": false}
            }})
        );
    }

    #[test]
    fn groups_of_another_connection_or_organization_do_not_count() {
        let elsewhere = LoginScope {
            connection_id: Some("con_9"),
            organization_id: None,
        };
        let out = membership(
            &groups(),
            elsewhere,
            &keys(&["admins", "grp_c2", "org-admins", "staff"]),
            true,
        );
        assert_eq!(out["memberships"]["admins"], json!({"is_member": false}));
        assert_eq!(out["memberships"]["grp_c2"], json!({"is_member": false}));
        assert_eq!(
            out["memberships"]["org-admins"],
            json!({"is_member": false})
        );
        assert_eq!(out["memberships"]["staff"]["is_member"], json!(true));
    }

    #[test]
    fn matching_is_exact_and_case_sensitive() {
        let out = membership(&groups(), SCOPE, &keys(&["Admins", "admin", ""]), true);
        for key in ["Admins", "admin", ""] {
            assert_eq!(
                out["memberships"][key],
                json!({"is_member": false}),
                "{key}"
            );
        }
    }

    #[test]
    fn an_incomplete_read_reports_unfound_identifiers_as_errors() {
        let out = membership(&groups(), SCOPE, &keys(&["staff", "nobody"]), false);
        assert_eq!(out["memberships"]["staff"]["is_member"], json!(true));
        assert!(out["memberships"].get("nobody").is_none());
        assert_eq!(out["errors"], json!({"nobody": INCOMPLETE}));
    }
}
