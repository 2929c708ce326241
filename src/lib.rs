//! A post-login Action in the style of Auth0 Actions that obtains an Auth0 Management API
//! token by the client-credentials grant and keeps it in the trigger cache (`api.cache`), so
//! logins reuse one token instead of requesting one each.
//!
//! The crate is split so that everything with a decision in it runs natively under `cargo test`:
//!
//! - [`secrets`] validates the Action's secrets (domain, client, audience);
//! - [`token`] validates a token endpoint response and the JWT inside it;
//! - [`policy`] decides what goes into the cache, for how long, and whether a cached record may
//!   be used;
//! - [`tiers`] holds a token in isolate memory over the trigger cache, [`flight`] lets
//!   concurrent misses share one request, [`http`] sends and retries every request to Auth0;
//! - [`provider`] is the token lifecycle of one identity (acquire, refresh, discard),
//!   [`management`] the Management API client over it, [`groups`] the decisions of
//!   `api.groups` over the user's groups;
//! - [`broker`] is the fleet's token broker (a Durable Object) and how an isolate asks it;
//! - [`post_login`] is one execution of the Action, [`isolate`] what an isolate keeps between
//!   executions and which of them finish without waiting;
//! - all of it is written against the small host traits in [`host`] (clock, HTTP, cache, log),
//!   so tests inject a fake clock and a fake tenant; [`log`] builds the structured log lines and
//!   is never handed a credential.
//!
//! The `wasm` module (compiled only for `wasm32`) is the one place that touches
//! `wasm_bindgen`, `js_sys` and `web_sys`: it implements the host traits over `fetch`,
//! `api.cache` and `console`, converts values, and delegates each export to [`isolate`].
#![deny(missing_docs, missing_debug_implementations)]

pub mod broker;
pub mod error;
pub mod flight;
pub mod groups;
pub mod host;
pub mod http;
pub mod isolate;
pub mod log;
pub mod management;
pub mod policy;
pub mod post_login;
pub mod provider;
pub mod retry;
pub mod secrets;
pub mod state;
pub mod tiers;
pub mod token;

#[cfg(target_arch = "wasm32")]
mod wasm;

#[cfg(target_arch = "wasm32")]
mod broker_object;

pub use error::{Error, Result};
pub use post_login::OnTokenError;
pub use provider::TokenProvider;
pub use secrets::Secrets;
pub use token::ManagementToken;
