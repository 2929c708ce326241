//! The binding layer: the only code that touches `wasm_bindgen` and `js_sys`.
//!
//! It implements the [`crate::host`] traits over the Worker's globals and the Actions runtime's
//! `api` object, and exports the Action under the names Auth0 uses. It reads only the fields it
//! needs from `event` (the secrets and `configuration.ON_TOKEN_ERROR`), never the whole event.

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::action::{DENY_REASON, ON_TOKEN_ERROR, OnTokenError, Outcome, TokenProvider};
use crate::host::{ActionCache, CacheEntry, CacheFault, Clock, HttpClient, HttpResponse, Logger};
use crate::log::{Level, LogRecord};
use crate::secrets::Secrets;

/// Longest wait for the token endpoint. Auth0 recommends under 10 s for outbound calls and gives
/// the whole trigger 20 s.
const TOKEN_REQUEST_TIMEOUT_MS: u32 = 10_000;

#[wasm_bindgen]
extern "C" {
    /// The post-login `api` object built by the Actions runtime.
    pub type Api;
    #[wasm_bindgen(method, getter)]
    fn cache(this: &Api) -> JsCache;
    #[wasm_bindgen(method, getter)]
    fn access(this: &Api) -> Access;

    type JsCache;
    #[wasm_bindgen(method, catch, js_name = get)]
    fn get(this: &JsCache, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = set)]
    fn set(this: &JsCache, key: &str, value: &str, options: &Object) -> Result<JsValue, JsValue>;

    type Access;
    #[wasm_bindgen(method, catch)]
    fn deny(this: &Access, reason: &str) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str, init: &Object) -> Promise;

    #[wasm_bindgen(js_namespace = AbortSignal, js_name = timeout)]
    fn abort_signal_timeout(ms: u32) -> JsValue;

    type FetchResponse;
    #[wasm_bindgen(method, getter)]
    fn status(this: &FetchResponse) -> u16;
    #[wasm_bindgen(method)]
    fn text(this: &FetchResponse) -> Promise;

    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn console_log(line: &str);
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    fn console_warn(line: &str);
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(line: &str);
}

/// The host as seen from inside one Action call.
struct WorkerHost {
    api: Api,
}

impl Clock for WorkerHost {
    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }
}

impl HttpClient for WorkerHost {
    async fn post_json(&self, url: &str, body: String) -> Result<HttpResponse, String> {
        let headers = Object::new();
        set(&headers, "content-type", &"application/json".into());
        set(&headers, "accept", &"application/json".into());
        let init = Object::new();
        set(&init, "method", &"POST".into());
        set(&init, "headers", &headers);
        set(&init, "body", &body.into());
        set(
            &init,
            "signal",
            &abort_signal_timeout(TOKEN_REQUEST_TIMEOUT_MS),
        );
        let response: FetchResponse = JsFuture::from(global_fetch(url, &init))
            .await
            .map_err(|e| describe_js_error(&e))?
            .unchecked_into();
        let status = response.status();
        let body = JsFuture::from(response.text())
            .await
            .map_err(|e| describe_js_error(&e))?
            .as_string()
            .unwrap_or_default();
        Ok(HttpResponse { status, body })
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
        set(
            &options,
            "expires_at",
            &JsValue::from_f64(expires_at_ms as f64),
        );
        let result = self
            .api
            .cache()
            .set(key, value, &options)
            .map_err(|e| CacheFault::Failed(describe_js_error(&e)))?;
        if get(&result, "type").as_string().as_deref() == Some("success") {
            Ok(())
        } else {
            let code = get(&result, "code")
                .as_string()
                .unwrap_or_else(|| "FailedToSetCacheRecord".into());
            Err(CacheFault::Rejected(code))
        }
    }
}

impl Logger for WorkerHost {
    fn log(&self, record: LogRecord) {
        let line = record.to_json_line();
        match record.level() {
            Level::Info => console_log(&line),
            Level::Warn => console_warn(&line),
            Level::Error => console_error(&line),
        }
    }
}

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn set(target: &Object, key: &str, value: &JsValue) {
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

/// Reads `event.secrets` and `event.configuration.ON_TOKEN_ERROR`.
fn read_settings(event: &JsValue) -> (crate::Result<Secrets>, Result<OnTokenError, OnTokenError>) {
    let secrets_object = get(event, "secrets");
    let secrets = Secrets::from_lookup(|name| get(&secrets_object, name).as_string());
    let on_error = get(&get(event, "configuration"), ON_TOKEN_ERROR).as_string();
    (secrets, OnTokenError::parse(on_error.as_deref()))
}

async fn run(event: &JsValue, api: Api) -> (WorkerHost, Outcome) {
    let host = WorkerHost { api };
    let (secrets, on_error) = read_settings(event);
    let on_error = on_error.unwrap_or_else(|fallback| {
        host.log(
            LogRecord::error("config_invalid")
                .field("setting", ON_TOKEN_ERROR)
                .field(
                    "message",
                    "must be \"continue\" or \"deny\"; applying \"deny\"",
                ),
        );
        fallback
    });
    let outcome = TokenProvider::new(&host)
        .on_execute_post_login(secrets, on_error)
        .await;
    (host, outcome)
}

/// `exports.onExecutePostLogin = async (event, api) => {}`, as Auth0 calls it.
///
/// Makes sure a Management API token is cached for later logins. Resolves to `undefined`; when
/// no token can be had it logs why and, if `event.configuration.ON_TOKEN_ERROR` is `deny`,
/// calls `api.access.deny(reason)`. It never rejects for a token or cache problem.
#[wasm_bindgen(js_name = onExecutePostLogin)]
pub async fn on_execute_post_login(event: JsValue, api: Api) -> Result<(), JsValue> {
    let (host, outcome) = run(&event, api).await;
    if let Outcome::Deny(_) = outcome {
        host.api.access().deny(DENY_REASON)?;
    }
    Ok(())
}

/// For JavaScript code in the same Worker (another Action, the login handler): the Management
/// API token for these secrets, from the cache or freshly requested. Rejects with an `Error`
/// whose message says why (never containing a credential) when none can be had.
///
/// The token must stay in process: send it only as `Authorization: Bearer` to the Management API.
#[wasm_bindgen(js_name = getManagementToken)]
pub async fn get_management_token(event: JsValue, api: Api) -> Result<String, JsError> {
    let (_, outcome) = run(&event, api).await;
    match outcome {
        Outcome::Token(token) => Ok(token.into_access_token()),
        Outcome::Continue(error) | Outcome::Deny(error) => Err(JsError::new(&error.to_string())),
    }
}

/// Reports panics through `console.error` instead of an opaque `unreachable` trap.
#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        let line = LogRecord::error("panic")
            .field("message", info.to_string())
            .to_json_line();
        console_error(&line);
    }));
}
