//! The binding: converts values between JavaScript and Rust and delegates to [`Isolate`].
//!
//! It implements the [`crate::host`] traits over the Worker's globals (web-sys) and the Actions
//! runtime's `api` object (declared here: web-sys does not know it), and exports the Action under
//! the names Auth0 uses. From `event` it reads `secrets` and `configuration` (decoded once per
//! object, see [`SettingsObjects`]) and, for the roles claim, `user.user_id` — never the whole
//! event. No decision is made here.

use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use web_sys::{AbortSignal, Headers, RequestInit, Response, WorkerGlobalScope};

use crate::groups::LoginScope;
use crate::host::{
    ActionCache, BrokerClient, CacheEntry, CacheFault, Clock, HttpClient, HttpRequest,
    HttpResponse, Logger, READ_HEADERS, Rng,
};
use crate::isolate::{Background, BackgroundWork, Isolate, Login, SameObjects};
use crate::log::{Level, LogRecord};
use crate::management::ManagementClient;
use crate::post_login::{Config, DENY_REASON, Inputs, names};
use crate::secrets::Secrets;

#[wasm_bindgen]
extern "C" {
    /// The post-login `api` object built by the Actions runtime.
    pub type Api;
    #[wasm_bindgen(method, getter)]
    fn cache(this: &Api) -> JsCache;
    #[wasm_bindgen(method, getter)]
    fn access(this: &Api) -> Access;
    #[wasm_bindgen(method, getter, js_name = idToken)]
    fn id_token(this: &Api) -> ClaimSetter;
    #[wasm_bindgen(method, getter, js_name = accessToken)]
    fn access_token(this: &Api) -> ClaimSetter;

    type JsCache;
    #[wasm_bindgen(method, catch, js_name = get)]
    fn get(this: &JsCache, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = set)]
    fn set(this: &JsCache, key: &str, value: &str, options: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = delete)]
    fn delete(this: &JsCache, key: &str) -> Result<JsValue, JsValue>;

    type Access;
    #[wasm_bindgen(method, catch)]
    fn deny(this: &Access, reason: &str) -> Result<JsValue, JsValue>;

    type ClaimSetter;
    #[wasm_bindgen(method, catch, js_name = setCustomClaim)]
    fn set_custom_claim(this: &ClaimSetter, key: &str, value: &JsValue)
    -> Result<JsValue, JsValue>;

    /// A Durable Object namespace binding (`env.TOKEN_BROKER`); web-sys does not know it.
    #[derive(Clone)]
    pub type BrokerNamespace;
    #[wasm_bindgen(method, catch, js_name = idFromName)]
    fn id_from_name(this: &BrokerNamespace, name: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn get(this: &BrokerNamespace, id: &JsValue) -> Result<BrokerStub, JsValue>;

    type BrokerStub;
    #[wasm_bindgen(method, catch)]
    fn fetch(this: &BrokerStub, url: &str, init: &RequestInit) -> Result<Promise, JsValue>;

    /// The login event, read field by field.
    pub type Event;
    #[wasm_bindgen(method, getter)]
    fn secrets(this: &Event) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn configuration(this: &Event) -> JsValue;
    #[wasm_bindgen(method, getter)]
    fn user(this: &Event) -> JsValue;
}

// Log lines are written from a microtask, not from inside the wasm call: a `console` call made
// with wasm frames on the stack is far dearer where an inspector records call stacks (measured
// under `wrangler dev`: about 100 µs of the Worker's CPU per line), and order is kept (FIFO).
//
// `panics` is the module's panic state for the runtime (`panicState()`): the hook marks it and
// tells the listener the runtime registered, so calls in flight can be failed.
#[wasm_bindgen(inline_js = "
export function logLater(level, line) { queueMicrotask(() => console[level](line)); }
export const panics = { count: 0, message: null, listener: null };
export function reportPanic(message) {
  panics.count++;
  panics.message = message;
  try { panics.listener?.(message); } catch {}
}
")]
extern "C" {
    #[wasm_bindgen(js_name = logLater)]
    fn log_later(level: &str, line: &str);
    #[wasm_bindgen(js_name = reportPanic)]
    fn report_panic(message: &str);
    #[wasm_bindgen(thread_local_v2, js_name = panics)]
    static PANICS: JsValue;
}

thread_local! {
    /// This isolate's memory and decisions.
    static ISOLATE: Rc<Isolate<SettingsObjects>> = Isolate::new();
    /// The promise every login that finished without waiting returns: one resolved promise,
    /// not a new one per hit.
    static FINISHED: Promise = Promise::resolve(&JsValue::UNDEFINED);
    /// The broker binding the runtime handed over (`useTokenBroker`), if any.
    static BROKER: core::cell::RefCell<Option<BrokerNamespace>> = const { core::cell::RefCell::new(None) };
}

fn isolate() -> Rc<Isolate<SettingsObjects>> {
    ISOLATE.with(Rc::clone)
}

fn global() -> WorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// `event.secrets` and `event.configuration`, compared by identity (`Object.is`).
struct SettingsObjects(JsValue, JsValue);

impl SameObjects for SettingsObjects {
    fn same(&self, other: &Self) -> bool {
        Object::is(&self.0, &other.0) && Object::is(&self.1, &other.1)
    }
}

/// The host as seen from inside one Action call.
///
/// The broker object uses the same host over its own storage, so the token code is compiled
/// once for one host type (a second host type doubled it: +73 KB of module).
pub(crate) struct WorkerHost {
    pub(crate) cache: HostCache,
    /// The runtime's `ctx.waitUntil`, if it passed one.
    pub(crate) wait_until: Option<Function>,
}

/// Where a host's trigger cache is.
pub(crate) enum HostCache {
    /// An isolate: the Actions runtime's `api.cache`.
    Api(Api),
    /// The token broker: its Durable Object storage, held in memory. It has no broker itself.
    Broker(Rc<crate::broker_object::Records>),
}

impl Clock for WorkerHost {
    fn now_ms(&self) -> u64 {
        now_ms()
    }

    async fn sleep(&self, ms: u64) {
        sleep(ms).await
    }
}

impl Rng for WorkerHost {
    fn random(&self) -> f64 {
        js_sys::Math::random()
    }
}

impl HttpClient for WorkerHost {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        send(request).await
    }
}

impl BrokerClient for WorkerHost {
    async fn call_broker(
        &self,
        name: &str,
        body: &str,
        timeout_ms: u64,
    ) -> Option<Result<String, String>> {
        if let HostCache::Broker(_) = self.cache {
            return None;
        }
        let namespace = BROKER.with(|broker| broker.borrow().clone())?;
        Some(call_broker(&namespace, name, body, timeout_ms).await)
    }
}

/// Asks the broker instance `name` through its Durable Object binding.
async fn call_broker(
    namespace: &BrokerNamespace,
    name: &str,
    body: &str,
    timeout_ms: u64,
) -> Result<String, String> {
    let stub = namespace
        .id_from_name(name)
        .and_then(|id| namespace.get(&id))
        .map_err(|e| describe_js_error(&e))?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&JsValue::from_str(body));
    init.set_signal(Some(&AbortSignal::timeout_with_f64(
        timeout_ms.max(1) as f64
    )));
    let response: Response = JsFuture::from(
        stub.fetch(crate::broker::BROKER_URL, &init)
            .map_err(|e| describe_js_error(&e))?,
    )
    .await
    .map_err(|e| describe_js_error(&e))?
    .unchecked_into();
    if !response.ok() {
        return Err(format!("the broker answered HTTP {}", response.status()));
    }
    let text = response.text().map_err(|e| describe_js_error(&e))?;
    JsFuture::from(text)
        .await
        .map_err(|e| describe_js_error(&e))?
        .as_string()
        .ok_or_else(|| "the broker's answer is not text".into())
}

pub(crate) fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

pub(crate) async fn sleep(ms: u64) {
    let promise = Promise::new(&mut |resolve, _| {
        let _ = global().set_timeout_with_callback_and_timeout_and_arguments_0(
            &resolve,
            ms.min(i32::MAX as u64) as i32,
        );
    });
    let _ = JsFuture::from(promise).await;
}

/// One request through the global `fetch`, reduced to what the Action reads.
pub(crate) async fn send(request: HttpRequest) -> Result<HttpResponse, String> {
    let headers = Headers::new().map_err(|e| describe_js_error(&e))?;
    let _ = headers.set("accept", "application/json");
    if let Some(token) = &request.bearer {
        let _ = headers.set("authorization", &format!("Bearer {token}"));
    }
    let init = RequestInit::new();
    init.set_method(request.method.as_str());
    if let Some(body) = &request.json_body {
        let _ = headers.set("content-type", "application/json");
        init.set_body(&JsValue::from_str(body));
    }
    init.set_headers(&headers);
    init.set_signal(Some(&AbortSignal::timeout_with_f64(
        request.timeout_ms.max(1) as f64,
    )));
    let response: Response = JsFuture::from(global().fetch_with_str_and_init(&request.url, &init))
        .await
        .map_err(|e| describe_js_error(&e))?
        .unchecked_into();
    let fetched = response.headers();
    let headers = READ_HEADERS
        .iter()
        .filter_map(|name| Some(((*name).to_owned(), fetched.get(name).ok()??)))
        .collect();
    let text = response.text().map_err(|e| describe_js_error(&e))?;
    let body = JsFuture::from(text)
        .await
        .map_err(|e| describe_js_error(&e))?
        .as_string()
        .unwrap_or_default();
    Ok(HttpResponse {
        status: response.status(),
        body,
        headers,
    })
}

/// What `api.cache.get` returns for a present key.
#[derive(Deserialize)]
struct CacheRecord {
    value: String,
    expires_at: f64,
}

/// The options of `api.cache.set`.
#[derive(Serialize)]
struct CacheSetOptions {
    expires_at: u64,
}

/// What `api.cache.set` and `api.cache.delete` return.
#[derive(Deserialize)]
struct CacheWriteResult {
    #[serde(rename = "type")]
    kind: String,
    code: Option<String>,
}

impl ActionCache for WorkerHost {
    fn cache_get(&self, key: &str) -> Result<Option<CacheEntry>, CacheFault> {
        let api = match &self.cache {
            HostCache::Api(api) => api,
            HostCache::Broker(records) => return Ok(records.get(key)),
        };
        let record = api
            .cache()
            .get(key)
            .map_err(|e| CacheFault::Failed(describe_js_error(&e)))?;
        if record.is_undefined() || record.is_null() {
            return Ok(None);
        }
        match serde_wasm_bindgen::from_value::<CacheRecord>(record) {
            Ok(CacheRecord { value, expires_at }) if expires_at.is_finite() => {
                Ok(Some(CacheEntry {
                    value,
                    expires_at_ms: expires_at as u64,
                }))
            }
            _ => Err(CacheFault::Failed(
                "api.cache.get returned something other than {value, expires_at}".into(),
            )),
        }
    }

    fn cache_set(&self, key: &str, value: &str, expires_at_ms: u64) -> Result<(), CacheFault> {
        let api = match &self.cache {
            HostCache::Api(api) => api,
            HostCache::Broker(records) => {
                records.set(key, value, expires_at_ms);
                return Ok(());
            }
        };
        let options = to_js(&CacheSetOptions {
            expires_at: expires_at_ms,
        })
        .map_err(|_| CacheFault::Failed("could not build the cache options".into()))?;
        let result = api
            .cache()
            .set(key, value, &options)
            .map_err(|e| CacheFault::Failed(describe_js_error(&e)))?;
        write_result(result, "FailedToSetCacheRecord")
    }

    fn cache_delete(&self, key: &str) -> Result<(), CacheFault> {
        let api = match &self.cache {
            HostCache::Api(api) => api,
            HostCache::Broker(records) => {
                records.delete(key);
                return Ok(());
            }
        };
        let result = api
            .cache()
            .delete(key)
            .map_err(|e| CacheFault::Failed(describe_js_error(&e)))?;
        write_result(result, "FailedToDeleteCacheRecord")
    }

    async fn cache_reload(&self) {
        // The broker's records are its own storage: nothing is shared to re-read.
        let HostCache::Api(api) = &self.cache else {
            return;
        };
        let cache: JsValue = api.cache().into();
        let symbol = js_sys::Symbol::for_(CACHE_RELOAD_SYMBOL);
        let Ok(reload) = Reflect::get(&cache, &symbol) else {
            return;
        };
        let Some(reload) = reload.dyn_ref::<Function>() else {
            return;
        };
        if let Ok(promise) = reload.call0(&cache) {
            let _ = JsFuture::from(Promise::resolve(&promise)).await;
        }
    }
}

/// The symbol (`Symbol.for`) under which `api.cache` offers the runtime's reload
/// (js/runtime/cache.js `CACHE_RELOAD`).
const CACHE_RELOAD_SYMBOL: &str = "actions-runtime.cache.reload";

/// The name of the symbol under which the Action expects `api.cache`'s reload, for the runtime
/// to check it agrees (tests/unit/cache.test.js).
#[wasm_bindgen(js_name = cacheReloadSymbol)]
pub fn cache_reload_symbol() -> String {
    CACHE_RELOAD_SYMBOL.to_owned()
}

impl Logger for WorkerHost {
    fn log(&self, record: LogRecord) {
        match self.cache {
            HostCache::Api(_) => log_line(&record),
            // Told apart from the Action's own lines in one process's output.
            HostCache::Broker(_) => log_line(&record.field("host", "token-broker")),
        }
    }
}

impl Background for WorkerHost {
    fn wait_until(&self, work: BackgroundWork) {
        let promise = future_to_promise(async move {
            work.await;
            Ok(JsValue::UNDEFINED)
        });
        // Without a waitUntil the work still runs; the Worker may just not wait for it.
        if let Some(wait_until) = &self.wait_until {
            let _ = wait_until.call1(&JsValue::NULL, &promise);
        }
    }
}

pub(crate) fn log_line(record: &LogRecord) {
    let method = match record.level() {
        Level::Info => "log",
        Level::Warn => "warn",
        Level::Error => "error",
    };
    log_later(method, &record.to_json_line());
}

fn write_result(result: JsValue, default_code: &str) -> Result<(), CacheFault> {
    match serde_wasm_bindgen::from_value::<CacheWriteResult>(result) {
        Ok(result) if result.kind == "success" => Ok(()),
        Ok(result) => Err(CacheFault::Rejected(
            result.code.unwrap_or_else(|| default_code.into()),
        )),
        Err(_) => Err(CacheFault::Rejected(default_code.into())),
    }
}

/// A Rust value as a plain JS value (objects, not `Map`s).
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, serde_wasm_bindgen::Error> {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
}

/// A JS exception's `name: message`, never its whole object (which could hold a request).
fn describe_js_error(error: &JsValue) -> String {
    let text = |key: &str| {
        Reflect::get(error, &JsValue::from_str(key))
            .ok()
            .and_then(|v| v.as_string())
    };
    if !error.is_object() {
        return error
            .as_string()
            .unwrap_or_else(|| "unknown JavaScript error".into());
    }
    match (text("name"), text("message")) {
        (Some(name), Some(message)) => format!("{name}: {message}"),
        (None, Some(message)) => message,
        _ => "unknown JavaScript error".into(),
    }
}

/// The string-valued entries of a settings object. Anything that does not decode is absent; a
/// decoding error is never shown, because it could quote a secret's value.
fn string_entries(object: &JsValue) -> std::collections::BTreeMap<String, serde_json::Value> {
    serde_wasm_bindgen::from_value(object.clone()).unwrap_or_default()
}

fn lookup(
    entries: &std::collections::BTreeMap<String, serde_json::Value>,
) -> impl Fn(&'static str) -> Option<String> {
    |name| entries.get(name)?.as_str().map(str::to_owned)
}

/// The inputs of this login's settings objects, decoded once per pair of objects.
fn inputs(event: &Event) -> Rc<Inputs> {
    let (secrets, configuration) = (event.secrets(), event.configuration());
    let key = SettingsObjects(secrets.clone(), configuration.clone());
    isolate().inputs(key, || {
        let secrets = string_entries(&secrets);
        let configuration = string_entries(&configuration);
        Inputs {
            secrets: Secrets::from_lookup(lookup(&secrets)),
            config: Config::from_lookup(lookup(&configuration), |record| log_line(&record)),
        }
    })
}

/// `event.user.user_id`.
fn user_id(event: &Event) -> Option<String> {
    Reflect::get(&event.user(), &JsValue::from_str("user_id"))
        .ok()?
        .as_string()
}

fn js_error(error: crate::Error) -> JsValue {
    JsError::new(&error.to_string()).into()
}

/// `exports.onExecutePostLogin = async (event, api) => {}`, as Auth0 calls it, plus the
/// runtime's `waitUntil` (optional) for work that outlives the login (a token refresh).
///
/// Makes sure a Management API token is at hand (isolate memory, the trigger cache, or one
/// request shared by concurrent logins), refreshes it in the background when it nears expiry,
/// and with `ROLES_CLAIM` configured sets the user's role names as that claim on the ID and
/// access tokens. When no token can be had it logs why and, if `ON_TOKEN_ERROR` is `deny`, calls
/// `api.access.deny(reason)`.
///
/// Returns a `Promise<void>`, like any async Action; it rejects only if an `api` call throws.
#[wasm_bindgen(js_name = onExecutePostLogin)]
pub fn on_execute_post_login(event: Event, api: Api, wait_until: Option<Function>) -> Promise {
    #[cfg(feature = "test-hooks")]
    if let Some(panicking) = test_hooks::panic(&event) {
        return panicking;
    }
    let host = WorkerHost {
        cache: HostCache::Api(api.clone().unchecked_into()),
        wait_until,
    };
    let login = isolate().on_execute_post_login(host, inputs(&event), || user_id(&event));
    let Login::Pending(effects) = login else {
        return finished_login();
    };
    future_to_promise(async move {
        let effects = effects.await;
        if let Some((claim, roles)) = &effects.roles_claim {
            let value: JsValue = roles.iter().map(JsValue::from).collect::<Array>().into();
            api.id_token().set_custom_claim(claim, &value)?;
            api.access_token().set_custom_claim(claim, &value)?;
        }
        if effects.deny {
            api.access().deny(DENY_REASON)?;
        }
        Ok(JsValue::UNDEFINED)
    })
}

/// For JavaScript code in the same Worker (another Action, the login handler): a promise of the
/// Management API token for these secrets, from memory, the cache or a fresh request. Rejects
/// with an `Error` whose message says why (never containing a credential) when none can be had.
///
/// The token must stay in process: send it only as `Authorization: Bearer` to the Management API.
#[wasm_bindgen(js_name = getManagementToken)]
pub async fn get_management_token(event: Event, api: Api) -> Result<String, JsValue> {
    let host = WorkerHost {
        cache: HostCache::Api(api),
        wait_until: None,
    };
    isolate()
        .management_token(&host, &inputs(&event))
        .await
        .map_err(js_error)
}

/// The Auth0 Management API for JavaScript in the same Worker, authenticated with the cached
/// token: `new ManagementApi(event, api)`, then `getUser(id)`, `updateAppMetadata(id, patch)`,
/// `getUserRoles(id)`, `getUserPermissions(id)`, `getUserGroups(id, from, take)`,
/// `hasGroupMembership(id, connectionId, organizationId, groups)`, each a promise of the API's JSON as plain JS
/// values. A revoked token is replaced and the call retried once. Rejections carry a message,
/// never a credential.
#[wasm_bindgen]
pub struct ManagementApi {
    host: Rc<WorkerHost>,
    inputs: Rc<Inputs>,
}

impl core::fmt::Debug for ManagementApi {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ManagementApi")
    }
}

#[wasm_bindgen]
impl ManagementApi {
    /// A client for the secrets in `event` and the trigger cache in `api`.
    #[wasm_bindgen(constructor)]
    pub fn new(event: Event, api: Api) -> ManagementApi {
        ManagementApi {
            host: Rc::new(WorkerHost {
                cache: HostCache::Api(api),
                wait_until: None,
            }),
            inputs: inputs(&event),
        }
    }

    fn run<F>(&self, call: F) -> Promise
    where
        F: for<'c> AsyncFnOnce(
                &'c ManagementClient<'c, 'c, WorkerHost>,
            ) -> crate::Result<serde_json::Value>
            + 'static,
    {
        let (host, inputs) = (self.host.clone(), self.inputs.clone());
        future_to_promise(async move {
            let value = isolate()
                .management(&*host, &inputs, call)
                .await
                .map_err(js_error)?;
            to_js(&value).map_err(|_| js_error(crate::Error::ManagementResponse("not JSON")))
        })
    }

    /// `GET /api/v2/users/{id}`.
    #[wasm_bindgen(js_name = getUser)]
    pub fn get_user(&self, user_id: String) -> Promise {
        self.run(async move |client| client.get_user(&user_id).await)
    }

    /// `PATCH /api/v2/users/{id}` with `{ app_metadata: patch }`.
    #[wasm_bindgen(js_name = updateAppMetadata)]
    pub fn update_app_metadata(&self, user_id: String, patch: JsValue) -> Promise {
        let patch = serde_wasm_bindgen::from_value(patch).unwrap_or(serde_json::Value::Null);
        self.run(async move |client| client.update_app_metadata(&user_id, patch).await)
    }

    /// `GET /api/v2/users/{id}/roles`.
    #[wasm_bindgen(js_name = getUserRoles)]
    pub fn get_user_roles(&self, user_id: String) -> Promise {
        self.run(async move |client| client.user_roles(&user_id).await.map(Into::into))
    }

    /// `GET /api/v2/users/{id}/permissions`.
    #[wasm_bindgen(js_name = getUserPermissions)]
    pub fn get_user_permissions(&self, user_id: String) -> Promise {
        self.run(async move |client| client.user_permissions(&user_id).await.map(Into::into))
    }

    /// `GET /api/v2/users/{id}/groups?take=…[&from=…]`: `{ groups, next? }` (`take` within
    /// 1–100, default 50; a non-finite or non-positive `take` is the default).
    #[wasm_bindgen(js_name = getUserGroups)]
    pub fn get_user_groups(
        &self,
        user_id: String,
        from: Option<String>,
        take: Option<f64>,
    ) -> Promise {
        // Saturating float-to-int conversion: 1e12 becomes u32::MAX, then clamped to 100.
        let take = take
            .filter(|t| t.is_finite() && *t >= 1.0)
            .map(|t| t as u32);
        self.run(async move |client| client.user_groups(&user_id, from.as_deref(), take).await)
    }

    /// `api.groups.hasGroupMembership(groups)` for the login's connection and organization:
    /// `{ memberships: { [group]: { is_member, matches? } }, errors? }` (see `groups.rs`).
    #[wasm_bindgen(js_name = hasGroupMembership)]
    pub fn has_group_membership(
        &self,
        user_id: String,
        connection_id: Option<String>,
        organization_id: Option<String>,
        groups: Vec<String>,
    ) -> Promise {
        self.run(async move |client| {
            let scope = LoginScope {
                connection_id: connection_id.as_deref(),
                organization_id: organization_id.as_deref(),
            };
            client.group_membership(&user_id, scope, &groups).await
        })
    }
}

/// The resolved promise `onExecutePostLogin` returns for a login that finished without waiting
/// (the same object each time, until the instance is replaced): the runtime need not track it.
/// The Durable Object namespace of the fleet's token broker (`env.TOKEN_BROKER`), or
/// `undefined`/`null` for none: the runtime calls it when the Worker's environment is new. With
/// none, each isolate requests its tokens itself.
#[wasm_bindgen(js_name = useTokenBroker)]
pub fn use_token_broker(namespace: JsValue) {
    let namespace = (!namespace.is_undefined() && !namespace.is_null())
        .then(|| namespace.unchecked_into::<BrokerNamespace>());
    BROKER.with(|broker| *broker.borrow_mut() = namespace);
}

#[wasm_bindgen(js_name = finishedLogin)]
pub fn finished_login() -> Promise {
    FINISHED.with(Promise::clone)
}

/// The secret names the Action reads, for the runtime's Action registry.
#[wasm_bindgen(js_name = secretNames)]
pub fn secret_names() -> Array {
    crate::secrets::NAMES
        .iter()
        .map(|n| JsValue::from(*n))
        .collect()
}

/// The configuration names the Action reads, for the runtime's Action registry.
#[wasm_bindgen(js_name = configurationNames)]
pub fn configuration_names() -> Array {
    names::ALL.iter().map(|n| JsValue::from(*n)).collect()
}

/// The module's panic state, `{ count, message, listener }`: the runtime sets `listener` to
/// hear of a panic (it fails the calls in flight); `count` says how many there were.
#[wasm_bindgen(js_name = panicState)]
pub fn panic_state() -> JsValue {
    PANICS.with(JsValue::clone)
}

/// Asks for a fresh instance before the next call: for a trap that was not a panic (the
/// runtime saw a `WebAssembly.RuntimeError` without a panic report).
#[wasm_bindgen(js_name = scheduleReinit)]
pub fn schedule_reinit() {
    wasm_bindgen::handler::schedule_reinit();
}

/// A panic aborts the instance (`unreachable`), which can leave its memory inconsistent; inside
/// an async call it traps in a microtask, where no caller would see it. The hook logs the panic,
/// reports it to the runtime, and schedules a fresh instance for the next call (wasm-bindgen's
/// reinit: the isolate's memory, the held token, is lost; KV still has it).
#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        web_sys::console::error_1(
            &LogRecord::error("panic")
                .field("message", message.clone())
                .to_json_line()
                .into(),
        );
        wasm_bindgen::handler::schedule_reinit();
        report_panic(&message);
    }));
}

/// Deliberate panics for the panic-recovery tests (never in the shipped build).
#[cfg(feature = "test-hooks")]
mod test_hooks {
    use super::*;

    /// `test|panic` panics inside the synchronous part of the call; `test|panic-async` returns
    /// a promise that panics after an await, inside the future.
    pub fn panic(event: &Event) -> Option<Promise> {
        match user_id(event).as_deref() {
            Some("test|panic") => panic!("deliberate panic for user test|panic (test-hooks build)"),
            Some("test|panic-async") => Some(future_to_promise(async {
                let _ = JsFuture::from(Promise::resolve(&JsValue::NULL)).await;
                panic!(
                    "deliberate panic after an await for user test|panic-async (test-hooks build)"
                );
            })),
            _ => None,
        }
    }
}
