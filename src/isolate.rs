//! What one Worker isolate keeps between logins, and every decision the binding would
//! otherwise make: the token memory ([`TokenState`]), the decoded settings (recognised by the
//! identity of the objects they came from), the one background refresh, and which logins finish
//! synchronously.
//!
//! The `wasm` module holds one [`Isolate`] and only converts values; everything here runs under
//! `cargo test` with the fake host.

use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use std::rc::Rc;

use crate::error::Result;
use crate::host::Host;
use crate::management::ManagementClient;
use crate::post_login::{self, Effects, Inputs, Outcome};
use crate::provider::TokenProvider;
use crate::state::TokenState;

/// Work that outlives the login that started it.
pub type BackgroundWork = Pin<Box<dyn Future<Output = ()>>>;

/// The host's `ctx.waitUntil`: keeps the Worker alive until `work` is done.
pub trait Background {
    /// Runs `work` after the response, without delaying it.
    fn wait_until(&self, work: BackgroundWork);
}

impl<T: Background + ?Sized> Background for Rc<T> {
    fn wait_until(&self, work: BackgroundWork) {
        (**self).wait_until(work)
    }
}

/// The identity of the objects the settings were read from. The runtime hands an Action the
/// same `event.secrets` and `event.configuration` objects for as long as the Worker's
/// environment lives (`js/runtime/trigger.js`), so equal identity means equal settings and the
/// Action decodes and validates them once per isolate instead of once per login.
pub trait SameObjects {
    /// Whether `self` and `other` name the same objects.
    fn same(&self, other: &Self) -> bool;
}

/// How a login went on after its synchronous part.
pub enum Login<F> {
    /// Finished without waiting (a token was at hand): nothing to apply.
    Done,
    /// The login has to wait; the future yields what to apply.
    Pending(F),
}

impl<F> core::fmt::Debug for Login<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Login::Done => "Login::Done",
            Login::Pending(_) => "Login::Pending",
        })
    }
}

/// One isolate's memory. Hold it in an `Rc`: background work keeps it alive.
#[derive(Debug)]
pub struct Isolate<K> {
    state: TokenState,
    inputs: RefCell<Option<(K, Rc<Inputs>)>>,
    refreshing: Cell<bool>,
}

impl<K> Default for Isolate<K> {
    fn default() -> Self {
        Isolate {
            state: TokenState::new(),
            inputs: RefCell::new(None),
            refreshing: Cell::new(false),
        }
    }
}

/// Clears the refresh slot when the refresh ends or is dropped unfinished.
struct RefreshSlot<K>(Rc<Isolate<K>>);

impl<K> Drop for RefreshSlot<K> {
    fn drop(&mut self) {
        self.0.refreshing.set(false);
    }
}

impl<K: SameObjects + 'static> Isolate<K> {
    /// An empty isolate.
    pub fn new() -> Rc<Self> {
        Rc::new(Self::default())
    }

    /// The token memory.
    pub fn state(&self) -> &TokenState {
        &self.state
    }

    /// Whether a background refresh is running.
    pub fn refreshing(&self) -> bool {
        self.refreshing.get()
    }

    /// The inputs read from the objects `key` names: `decode()` the first time, the same
    /// decoded inputs while the objects stay the same.
    pub fn inputs(&self, key: K, decode: impl FnOnce() -> Inputs) -> Rc<Inputs> {
        if let Some((known, inputs)) = self.inputs.borrow().as_ref()
            && known.same(&key)
        {
            return inputs.clone();
        }
        let inputs = Rc::new(decode());
        *self.inputs.borrow_mut() = Some((key, inputs.clone()));
        inputs
    }

    /// `onExecutePostLogin` for one login. With a token in memory or the cache and no roles
    /// claim to set, the login is [`Login::Done`] at once (starting a background refresh when
    /// one is due); otherwise the returned future runs the Action and yields its [`Effects`].
    /// `user_id` is read only when the roles claim needs it.
    pub fn on_execute_post_login<H: Host + Background + 'static>(
        self: &Rc<Self>,
        host: H,
        inputs: Rc<Inputs>,
        user_id: impl FnOnce() -> Option<String>,
    ) -> Login<impl Future<Output = Effects> + 'static> {
        if let (Ok(secrets), None) = (&inputs.secrets, &inputs.config.roles_claim) {
            let provider = TokenProvider::new(&host, &self.state, secrets)
                .with_settings(inputs.config.settings);
            if let Some(refresh_due) = provider.has_cached() {
                if refresh_due {
                    self.start_refresh(Rc::new(host), inputs);
                }
                return Login::Done;
            }
        }
        let user_id = inputs.config.roles_claim.as_ref().and_then(|_| user_id());
        let isolate = self.clone();
        Login::Pending(async move {
            let effects =
                post_login::execute(&host, &isolate.state, &inputs, user_id.as_deref()).await;
            if effects.refresh_due {
                isolate.start_refresh(Rc::new(host), inputs);
            }
            effects
        })
    }

    /// Hands a refresh to the host's [`Background`], unless one is running already.
    fn start_refresh<H: Host + Background + 'static>(
        self: &Rc<Self>,
        host: Rc<H>,
        inputs: Rc<Inputs>,
    ) {
        if self.refreshing.replace(true) {
            return;
        }
        let slot = RefreshSlot(self.clone());
        let worker = host.clone();
        host.wait_until(Box::pin(async move {
            if let Ok(secrets) = &inputs.secrets {
                TokenProvider::new(&*worker, &slot.0.state, secrets)
                    .with_settings(inputs.config.settings)
                    .refresh()
                    .await;
            }
            drop(slot);
        }));
    }

    /// The Management API token for JavaScript in the same Worker, or the (logged) reason
    /// there is none.
    pub async fn management_token<H: Host>(&self, host: &H, inputs: &Inputs) -> Result<String> {
        match post_login::login_token(host, &self.state, &inputs.secrets, &inputs.config).await {
            Outcome::Token(acquired) => Ok(acquired.token.into_access_token()),
            Outcome::Continue(error) | Outcome::Deny(error) => Err(error),
        }
    }

    /// Runs `call` with a Management API client over this isolate's token.
    pub async fn management<H: Host, T>(
        &self,
        host: &H,
        inputs: &Inputs,
        call: impl for<'c> AsyncFnOnce(&'c ManagementClient<'c, 'c, H>) -> Result<T>,
    ) -> Result<T> {
        let secrets = inputs.secrets.as_ref().map_err(Clone::clone)?;
        let provider =
            TokenProvider::new(host, &self.state, secrets).with_settings(inputs.config.settings);
        call(&ManagementClient::new(&provider)).await
    }
}
