//! Single-flight: the one token request an isolate has in flight, which concurrent logins
//! wait on instead of sending their own.

use core::cell::RefCell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::rc::Rc;

use crate::error::Result;
use crate::token::ManagementToken;

/// A token request in flight; its outcome once landed.
#[derive(Debug, Default)]
pub struct Flight {
    outcome: RefCell<Option<Result<ManagementToken>>>,
    waiters: RefCell<Vec<Waker>>,
}

impl Flight {
    /// Lands the flight: every waiter, present and future, gets `outcome`.
    pub(crate) fn complete(&self, outcome: Result<ManagementToken>) {
        *self.outcome.borrow_mut() = Some(outcome);
        for waker in self.waiters.borrow_mut().drain(..) {
            waker.wake();
        }
    }

    /// Waits for the outcome.
    pub fn wait(self: Rc<Self>) -> FlightWait {
        FlightWait(self)
    }
}

/// The future of [`Flight::wait`].
#[derive(Debug)]
pub struct FlightWait(Rc<Flight>);

impl Future for FlightWait {
    type Output = Result<ManagementToken>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(outcome) = self.0.outcome.borrow().as_ref() {
            return Poll::Ready(outcome.clone());
        }
        self.0.waiters.borrow_mut().push(cx.waker().clone());
        Poll::Pending
    }
}
