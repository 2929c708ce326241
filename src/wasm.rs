//! The binding layer: the only code that touches `wasm_bindgen` and `js_sys`.
//!
//! It implements the [`crate::host`] traits over the Worker's globals and the Actions runtime's
//! `api` object, keeps the isolate's token memory, and exports the Action under the names Auth0
//! uses. From `event` it reads only `secrets`, `configuration` and `user.user_id` — never the
//! whole event.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, JSON, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};

use crate::action::{DENY_REASON, Outcome, TokenProvider};
use crate::host::{
    ActionCache, CacheEntry, CacheFault, Clock, HttpClient, HttpRequest, HttpResponse, Logger,
    READ_HEADERS, Rng,
};
use crate::log::{Level, LogRecord};
use crate::management::ManagementClient;
use crate::post_login::{self, Config, names};
use crate::secrets::Secrets;
use crate::state::TokenState;

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
    fn set(this: &JsCache, key: &str, value: &str, options: &Object) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = delete)]
    fn delete(this: &JsCache, key: &str) -> Result<JsValue, JsValue>;

    type Access;
    #[wasm_bindgen(method, catch)]
    fn deny(this: &Access, reason: &str) -> Result<JsValue, JsValue>;

    type ClaimSetter;
    #[wasm_bindgen(method, catch, js_name = setCustomClaim)]
    fn set_custom_claim(this: &ClaimSetter, key: &str, value: &JsValue)
    -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str, init: &Object) -> Promise;

    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;

    #[wasm_bindgen(js_namespace = AbortSignal, js_name = timeout)]
    fn abort_signal_timeout(ms: f64) -> JsValue;

    type FetchResponse;
    #[wasm_bindgen(method, getter)]
    fn status(this: &FetchResponse) -> u16;
    #[wasm_bindgen(method, getter)]
    fn headers(this: &FetchResponse) -> FetchHeaders;
    #[wasm_bindgen(method)]
    fn text(this: &FetchResponse) -> Promise;

    type FetchHeaders;
    #[wasm_bindgen(method, js_name = get)]
    fn get_header(this: &FetchHeaders, name: &str) -> Option<String>;

    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(line: &str);
}

// Log lines are written from a microtask, not from inside the wasm call: a `console` call made
// with wasm frames on the stack is far dearer where an inspector records call stacks (measured
// under `wrangler dev`: about 100 µs of the Worker's CPU per line), and order is kept (FIFO).
#[wasm_bindgen(
    inline_js = "export function logLater(level, line) { queueMicrotask(() => console[level](line)); }"
)]
extern "C" {
    #[wasm_bindgen(js_name = logLater)]
    fn log_later(level: &str, line: &str);
}

thread_local! {
    /// The isolate's token memory (memory tier, request in flight, cool-down).
    static STATE: Rc<TokenState> = Rc::new(TokenState::new());
    /// The last `event.secrets` and `event.configuration` objects and what was read from them.
    /// The runtime hands out the same frozen objects while the Worker's environment lives, so
    /// a login recognises them by identity instead of reading and validating them again.
    static INPUTS: RefCell<Option<(JsValue, JsValue, Rc<Inputs>)>> = const { RefCell::new(None) };
    /// The background refresh running now, for `pendingWork()`.
    static BACKGROUND: RefCell<Option<Promise>> = const { RefCell::new(None) };
}

/// The host as seen from inside one Action call.
struct WorkerHost {
    api: Api,
}

impl Clock for WorkerHost {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }

    async fn sleep(&self, ms: u64) {
        let promise = Promise::new(&mut |resolve, _| {
            set_timeout(&resolve, ms as f64);
        });
        let _ = JsFuture::from(promise).await;
    }
}

impl Rng for WorkerHost {
    fn random(&self) -> f64 {
        js_sys::Math::random()
    }
}

impl HttpClient for WorkerHost {
    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        let headers = Object::new();
        put(&headers, "accept", &"application/json".into());
        if let Some(token) = &request.bearer {
            put(&headers, "authorization", &format!("Bearer {token}").into());
        }
        let init = Object::new();
        put(&init, "method", &request.method.as_str().into());
        if let Some(body) = request.json_body {
            put(&headers, "content-type", &"application/json".into());
            put(&init, "body", &body.into());
        }
        put(&init, "headers", &headers);
        put(
            &init,
            "signal",
            &abort_signal_timeout(request.timeout_ms.max(1) as f64),
        );
        let response: FetchResponse = JsFuture::from(global_fetch(&request.url, &init))
            .await
            .map_err(|e| describe_js_error(&e))?
            .unchecked_into();
        let status = response.status();
        let fetched = response.headers();
        let headers = READ_HEADERS
            .iter()
            .filter_map(|name| Some(((*name).to_owned(), fetched.get_header(name)?)))
            .collect();
        let body = JsFuture::from(response.text())
            .await
            .map_err(|e| describe_js_error(&e))?
            .as_string()
            .unwrap_or_default();
        Ok(HttpResponse {
            status,
            body,
            headers,
        })
    }
}

impl ActionCache for WorkerHost {
    fn cache_get(&self, key: &str) -> Result<Option<CacheEntry>, CacheFault> {
        let record = self
            .api
            .cache()
            .get(key)
            .map_err(|e| CacheFault::Failed(describe_js_error(&e)))?;
        if record.is_undefined() || record.is_null() {
            return Ok(None);
        }
        let value = get(&record, "value").as_string();
        let expires_at = get(&record, "expires_at").as_f64();
        match (value, expires_at) {
            (Some(value), Some(expires_at)) if expires_at.is_finite() => Ok(Some(CacheEntry {
                value,
                expires_at_ms: expires_at as u64,
            })),
            _ => Err(CacheFault::Failed(
                "api.cache.get returned something other than {value, expires_at}".into(),
            )),
        }
    }

    fn cache_set(&self, key: &str, value: &str, expires_at_ms: u64) -> Result<(), CacheFault> {
        let options = Object::new();
        put(
            &options,
            "expires_at",
            &JsValue::from_f64(expires_at_ms as f64),
        );
        let result = self
            .api
            .cache()
            .set(key, value, &options)
            .map_err(|e| CacheFault::Failed(describe_js_error(&e)))?;
        write_result(&result, "FailedToSetCacheRecord")
    }

    fn cache_delete(&self, key: &str) -> Result<(), CacheFault> {
        let result = self
            .api
            .cache()
            .delete(key)
            .map_err(|e| CacheFault::Failed(describe_js_error(&e)))?;
        write_result(&result, "FailedToDeleteCacheRecord")
    }
}

impl Logger for WorkerHost {
    fn log(&self, record: LogRecord) {
        log_line(&record);
    }
}

fn log_line(record: &LogRecord) {
    let method = match record.level() {
        Level::Info => "log",
        Level::Warn => "warn",
        Level::Error => "error",
    };
    log_later(method, &record.to_json_line());
}

fn write_result(result: &JsValue, default_code: &str) -> Result<(), CacheFault> {
    if get(result, "type").as_string().as_deref() == Some("success") {
        Ok(())
    } else {
        let code = get(result, "code")
            .as_string()
            .unwrap_or_else(|| default_code.into());
        Err(CacheFault::Rejected(code))
    }
}

fn get(target: &JsValue, key: &str) -> JsValue {
    if target.is_undefined() || target.is_null() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn put(target: &Object, key: &str, value: &JsValue) {
    // Defining a property on a fresh plain object cannot fail.
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

/// A JS exception's `name: message`, never its whole object (which could hold a request).
fn describe_js_error(error: &JsValue) -> String {
    let name = get(error, "name").as_string();
    let message = get(error, "message").as_string();
    match (name, message) {
        (Some(name), Some(message)) => format!("{name}: {message}"),
        (None, Some(message)) => message,
        _ => error
            .as_string()
            .unwrap_or_else(|| "unknown JavaScript error".into()),
    }
}

/// What a call reads from `event.secrets` and `event.configuration`.
struct Inputs {
    secrets: crate::Result<Secrets>,
    config: Config,
}

fn read_inputs(event: &JsValue) -> Rc<Inputs> {
    let secrets_object = get(event, "secrets");
    let configuration = get(event, "configuration");
    let known = INPUTS.with(|memo| {
        memo.borrow()
            .as_ref()
            .filter(|(s, c, _)| Object::is(s, &secrets_object) && Object::is(c, &configuration))
            .map(|(_, _, inputs)| inputs.clone())
    });
    if let Some(inputs) = known {
        return inputs;
    }
    let secrets = Secrets::from_lookup(|name| get(&secrets_object, name).as_string());
    let config = Config::from_lookup(
        |name| get(&configuration, name).as_string(),
        |record| log_line(&record),
    );
    let inputs = Rc::new(Inputs { secrets, config });
    INPUTS.with(|memo| {
        *memo.borrow_mut() = Some((secrets_object, configuration, inputs.clone()));
    });
    inputs
}

/// `event.user.user_id`, read only when needed (the roles claim).
fn user_id(event: &JsValue) -> Option<String> {
    get(&get(event, "user"), "user_id").as_string()
}

/// Starts the background refresh, once per isolate at a time; `pendingWork()` hands its promise
/// to the runtime for `ctx.waitUntil`.
fn spawn_refresh(host: Rc<WorkerHost>, state: Rc<TokenState>, inputs: Rc<Inputs>) {
    if BACKGROUND.with(|b| b.borrow().is_some()) {
        return;
    }
    let promise = future_to_promise(async move {
        if let Ok(secrets) = &inputs.secrets {
            TokenProvider::new(&*host, &state)
                .with_settings(inputs.config.settings)
                .refresh(secrets)
                .await;
        }
        BACKGROUND.with(|b| b.borrow_mut().take());
        Ok(JsValue::UNDEFINED)
    });
    BACKGROUND.with(|b| *b.borrow_mut() = Some(promise));
}

/// `exports.onExecutePostLogin = async (event, api) => {}`, as Auth0 calls it.
///
/// Makes sure a Management API token is at hand (isolate memory, the trigger cache, or one
/// request shared by concurrent logins), refreshes it in the background when it nears expiry,
/// and with `ROLES_CLAIM` configured sets the user's role names as that claim on the ID and
/// access tokens. When no token can be had it logs why and, if `ON_TOKEN_ERROR` is `deny`, calls
/// `api.access.deny(reason)`. It never rejects for a token, cache or Management API problem.
///
/// A login served from memory or the cache (the common case) completes synchronously and
/// returns `undefined`; otherwise it returns a promise. The runtime awaits either.
#[wasm_bindgen(js_name = onExecutePostLogin)]
pub fn on_execute_post_login(event: JsValue, api: Api) -> JsValue {
    let inputs = read_inputs(&event);
    // Test-only hooks: a panic now (synchronous), or after an await (inside the future).
    #[cfg(feature = "test-hooks")]
    let panic_later = match user_id(&event).as_deref() {
        Some("test|panic") => panic!("deliberate panic for user test|panic (test-hooks build)"),
        Some("test|panic-async") => true,
        _ => false,
    };
    #[cfg(not(feature = "test-hooks"))]
    let panic_later = false;
    let host = WorkerHost { api };
    let state = STATE.with(Rc::clone);
    if let (Ok(secrets), None, false) = (&inputs.secrets, &inputs.config.roles_claim, panic_later) {
        let provider = TokenProvider::new(&host, &state).with_settings(inputs.config.settings);
        if let Some(refresh_due) = provider.has_cached(secrets) {
            if refresh_due {
                spawn_refresh(Rc::new(host), state, inputs);
            }
            return JsValue::UNDEFINED;
        }
    }
    let user_id = inputs
        .config
        .roles_claim
        .as_ref()
        .and_then(|_| user_id(&event));
    future_to_promise(async move {
        if panic_later {
            let _ = JsFuture::from(Promise::resolve(&JsValue::NULL)).await;
            panic!("deliberate panic after an await for user test|panic-async (test-hooks build)");
        }
        let provider = TokenProvider::new(&host, &state).with_settings(inputs.config.settings);
        let effects = post_login::execute(
            &provider,
            &inputs.secrets,
            &inputs.config,
            user_id.as_deref(),
        )
        .await;
        if let Some((claim, roles)) = &effects.roles_claim {
            let value: JsValue = roles.iter().map(JsValue::from).collect::<Array>().into();
            host.api.id_token().set_custom_claim(claim, &value)?;
            host.api.access_token().set_custom_claim(claim, &value)?;
        }
        if effects.deny {
            host.api.access().deny(DENY_REASON)?;
        }
        if effects.refresh_due {
            spawn_refresh(Rc::new(host), state, inputs);
        }
        Ok(JsValue::UNDEFINED)
    })
    .into()
}

/// The background work the Action started (a token refresh), as a promise for the runtime to
/// pass to `ctx.waitUntil`; `undefined` when there is none.
#[wasm_bindgen(js_name = pendingWork)]
pub fn pending_work() -> JsValue {
    BACKGROUND.with(|b| {
        b.borrow()
            .clone()
            .map(JsValue::from)
            .unwrap_or(JsValue::UNDEFINED)
    })
}

/// For JavaScript code in the same Worker (another Action, the login handler): the Management
/// API token for these secrets, from memory, the cache or a fresh request. Rejects with an
/// `Error` whose message says why (never containing a credential) when none can be had.
///
/// The token must stay in process: send it only as `Authorization: Bearer` to the Management API.
#[wasm_bindgen(js_name = getManagementToken)]
pub async fn get_management_token(event: JsValue, api: Api) -> Result<String, JsError> {
    let inputs = read_inputs(&event);
    let host = WorkerHost { api };
    let state = STATE.with(Rc::clone);
    let provider = TokenProvider::new(&host, &state).with_settings(inputs.config.settings);
    match provider
        .on_execute_post_login(inputs.secrets.clone(), inputs.config.on_error)
        .await
    {
        Outcome::Token(acquired) => Ok(acquired.token.into_access_token()),
        Outcome::Continue(error) | Outcome::Deny(error) => Err(JsError::new(&error.to_string())),
    }
}

/// The Auth0 Management API for JavaScript in the same Worker, authenticated with the cached
/// token: `new ManagementApi(event, api)`, then `getUser(id)`, `updateAppMetadata(id, patch)`,
/// `getUserRoles(id)`, `getUserPermissions(id)`, each a promise of the API's JSON. A revoked
/// token is replaced and the call retried once. Rejections carry a message, never a credential.
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
    pub fn new(event: JsValue, api: Api) -> ManagementApi {
        ManagementApi {
            host: Rc::new(WorkerHost { api }),
            inputs: read_inputs(&event),
        }
    }

    fn run<F>(&self, call: F) -> Promise
    where
        F: for<'c> AsyncFnOnce(
                &'c ManagementClient<'c, 'c, WorkerHost>,
            ) -> crate::Result<serde_json::Value>
            + 'static,
    {
        let host = self.host.clone();
        let inputs = self.inputs.clone();
        future_to_promise(async move {
            let secrets = inputs
                .secrets
                .as_ref()
                .map_err(|e| JsValue::from(JsError::new(&e.to_string())))?;
            let state = STATE.with(Rc::clone);
            let provider = TokenProvider::new(&*host, &state).with_settings(inputs.config.settings);
            let client = ManagementClient::new(&provider, secrets);
            let value = call(&client)
                .await
                .map_err(|e| JsValue::from(JsError::new(&e.to_string())))?;
            JSON::parse(&value.to_string())
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
        let patch = JSON::stringify(&patch)
            .ok()
            .and_then(|s| s.as_string())
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or(serde_json::Value::Null);
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
}

/// The secret names the Action reads, for the runtime's Action registry.
#[wasm_bindgen(js_name = secretNames)]
pub fn secret_names() -> Array {
    use crate::secrets::{ACCOUNT_API, CLIENT_ID, CLIENT_SECRET, DOMAIN};
    [DOMAIN, CLIENT_ID, CLIENT_SECRET, ACCOUNT_API]
        .iter()
        .map(|n| JsValue::from(*n))
        .collect()
}

/// The configuration names the Action reads, for the runtime's Action registry.
#[wasm_bindgen(js_name = configurationNames)]
pub fn configuration_names() -> Array {
    names::ALL.iter().map(|n| JsValue::from(*n)).collect()
}

/// Global function the runtime defines to hear of a panic (see `js/actions.js`).
const PANIC_LISTENER: &str = "__postLoginActionPanic";

/// Reports panics through `console.error` instead of an opaque `unreachable` trap, and tells
/// the runtime: a panic inside an async call traps in a microtask, where no caller would see it,
/// and the runtime must fail the calls in flight and replace the instance.
#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        console_error(
            &LogRecord::error("panic")
                .field("message", message.clone())
                .to_json_line(),
        );
        let listener = Reflect::get(&js_sys::global(), &JsValue::from_str(PANIC_LISTENER));
        if let Ok(listener) = listener.and_then(|l| l.dyn_into::<Function>()) {
            let _ = listener.call1(&JsValue::NULL, &JsValue::from_str(&message));
        }
    }));
}
