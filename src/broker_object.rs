//! The token broker's Durable Object class, `TokenBroker`: one instance per token identity,
//! hosting a [`Broker`]. It only binds: the request body goes to [`Broker::serve_json`] over a
//! host whose trigger cache is the object's storage, and what the broker stored is written back
//! to storage after each answer, so a recycled object serves the token it had instead of
//! requesting a new one. The Worker exports it through `js/broker-object.js`, which constructs
//! it with `{ storage }`: the object's storage, sealed with `TOKEN_ENCRYPTION_KEY` when that is
//! set (only `storage` of the state is read here).
//!
//! Declared with wasm-bindgen over `worker-sys`'s Durable Object externs, as workers-rs's
//! `#[durable_object]` expands to (a class with `constructor(state, env)` and `fetch`); the macro
//! itself also links every handler a Durable Object can have (alarms, WebSockets, sockets) and
//! measured +125 KB raw / +46 KB gzip on this module, where this class costs a few KB.

use core::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use web_sys::{Request, Response, ResponseInit};
use worker_sys::{DurableObjectState, DurableObjectStorage};

use crate::broker::Broker;
use crate::host::CacheEntry;
use crate::log::LogRecord;
use crate::wasm::{self, HostCache, WorkerHost};

/// The storage key holding the broker's records.
const STORAGE_KEY: &str = "records";

/// The fleet's token broker (a SQLite-backed Durable Object class; see `wrangler.toml`).
#[wasm_bindgen]
pub struct TokenBroker {
    object: Rc<BrokerObject>,
}

impl core::fmt::Debug for TokenBroker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("TokenBroker")
    }
}

#[wasm_bindgen]
impl TokenBroker {
    /// `new TokenBroker(state, env)`, as the runtime constructs a Durable Object.
    #[wasm_bindgen(constructor)]
    pub fn new(state: DurableObjectState, _env: JsValue) -> TokenBroker {
        let records = Rc::new(Records::default());
        TokenBroker {
            object: Rc::new(BrokerObject {
                storage: state.storage().ok(),
                broker: Broker::new(),
                records: records.clone(),
                host: WorkerHost {
                    cache: HostCache::Broker(records),
                    wait_until: None,
                },
            }),
        }
    }

    /// The object's `fetch(request)`: a `POST` of a broker request, answered with the broker's
    /// reply (JSON). Resolves to a `Response`.
    pub fn fetch(&self, request: Request) -> Promise {
        let object = self.object.clone();
        future_to_promise(async move {
            if request.method() != "POST" {
                let init = ResponseInit::new();
                init.set_status(405);
                return Ok(Response::new_with_opt_str_and_init(
                    Some("the token broker takes POST"),
                    &init,
                )?
                .into());
            }
            let body = JsFuture::from(request.text()?)
                .await?
                .as_string()
                .unwrap_or_default();
            object.load().await;
            let reply = object.broker.serve_json(&object.host, &body).await;
            object.save().await;
            Ok(Response::new_with_opt_str(Some(&reply))?.into())
        })
    }
}

struct BrokerObject {
    storage: Option<DurableObjectStorage>,
    broker: Broker,
    records: Rc<Records>,
    host: WorkerHost,
}

impl BrokerObject {
    /// Reads the stored records into memory, once per object.
    async fn load(&self) {
        if self.records.loaded.get() {
            return;
        }
        let Some(storage) = &self.storage else {
            self.records.loaded.set(true);
            return;
        };
        let stored = match storage.get(STORAGE_KEY) {
            Ok(promise) => JsFuture::from(promise).await,
            Err(error) => Err(error),
        };
        // Another request may have stored a token while this one read.
        if self.records.loaded.replace(true) {
            return;
        }
        let text = match stored {
            Ok(value) => value.as_string(),
            Err(_) => {
                wasm::log_line(&LogRecord::warn("broker_storage_read_failed"));
                return;
            }
        };
        let Some(text) = text else { return };
        match serde_json::from_str::<BTreeMap<String, StoredEntry>>(&text) {
            Ok(records) => {
                *self.records.records.borrow_mut() = records
                    .into_iter()
                    .map(|(key, entry)| {
                        let entry = CacheEntry {
                            value: entry.value,
                            expires_at_ms: entry.expires_at,
                        };
                        (key, entry)
                    })
                    .collect();
            }
            Err(_) => wasm::log_line(&LogRecord::warn("broker_storage_unreadable")),
        }
    }

    /// Writes the records back when the broker changed them.
    async fn save(&self) {
        let Some(storage) = &self.storage else { return };
        if !self.records.changed.replace(false) {
            return;
        }
        let records: BTreeMap<String, StoredEntry> = self
            .records
            .records
            .borrow()
            .iter()
            .map(|(key, entry)| {
                let stored = StoredEntry {
                    value: entry.value.clone(),
                    expires_at: entry.expires_at_ms,
                };
                (key.clone(), stored)
            })
            .collect();
        let text = serde_json::to_string(&records).unwrap_or_default();
        let written = match storage.put(STORAGE_KEY, JsValue::from_str(&text)) {
            Ok(promise) => JsFuture::from(promise).await.map(drop),
            Err(error) => Err(error),
        };
        if written.is_err() {
            self.records.changed.set(true);
            wasm::log_line(&LogRecord::warn("broker_storage_write_failed"));
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredEntry {
    value: String,
    expires_at: u64,
}

/// The broker's records (its trigger cache), held in memory over the object's storage.
#[derive(Default)]
pub(crate) struct Records {
    records: RefCell<BTreeMap<String, CacheEntry>>,
    loaded: Cell<bool>,
    changed: Cell<bool>,
}

impl Records {
    pub(crate) fn get(&self, key: &str) -> Option<CacheEntry> {
        let now = wasm::now_ms();
        self.records
            .borrow()
            .get(key)
            .filter(|entry| entry.expires_at_ms > now)
            .cloned()
    }

    pub(crate) fn set(&self, key: &str, value: &str, expires_at_ms: u64) {
        let entry = CacheEntry {
            value: value.to_owned(),
            expires_at_ms,
        };
        self.records.borrow_mut().insert(key.to_owned(), entry);
        self.loaded.set(true);
        self.changed.set(true);
    }

    pub(crate) fn delete(&self, key: &str) {
        self.records.borrow_mut().remove(key);
        self.changed.set(true);
    }
}
