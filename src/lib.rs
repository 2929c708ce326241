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
//! - [`action`] is the Action itself, written against the small host traits in [`host`]
//!   (clock, HTTP, cache, log) so tests inject a fake clock and a fake token endpoint;
//! - [`log`] builds the structured log lines; it can never be handed a credential.
//!
//! The `wasm` module (compiled only for `wasm32`) is the one place that touches
//! `wasm_bindgen`/`js_sys`: it implements the host traits over `fetch`, `api.cache` and
//! `console`, and exports `onExecutePostLogin(event, api)` and `getManagementToken(event, api)`.
#![deny(missing_docs, missing_debug_implementations)]

pub mod action;
pub mod error;
pub mod host;
pub mod log;
pub mod management;
pub mod policy;
pub mod post_login;
pub mod retry;
pub mod secrets;
pub mod state;
pub mod token;

#[cfg(target_arch = "wasm32")]
mod wasm;

pub use action::{OnTokenError, TokenProvider};
pub use error::{Error, Result};
pub use secrets::Secrets;
pub use token::ManagementToken;
