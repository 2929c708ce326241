//! The two places a token is kept between requests: isolate memory (a hit costs no cache read
//! and no parse) and the trigger cache (`api.cache`, shared by the isolates through KV).

use crate::host::Host;
use crate::log::LogRecord;
use crate::policy::{self, CACHE_KEY, CachedToken, Miss, RefreshPolicy};
use crate::secrets::Secrets;
use crate::state::{Held, RequestKey, TokenIdentity, TokenState};
use crate::token::ManagementToken;

/// Where a login's token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Isolate memory: no cache read, no parse.
    Memory,
    /// The trigger cache (`api.cache`).
    Cache,
    /// A token request this login made.
    Endpoint,
    /// A token request another login of this isolate had in flight.
    Shared,
}

impl Source {
    /// The name in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Memory => "memory",
            Source::Cache => "cache",
            Source::Endpoint => "endpoint",
            Source::Shared => "shared",
        }
    }
}

/// Memory over the trigger cache, for one identity.
#[derive(Debug)]
pub struct Tiers<'a, H> {
    pub(crate) host: &'a H,
    pub(crate) state: &'a TokenState,
    pub(crate) secrets: &'a Secrets,
    pub(crate) refresh: RefreshPolicy,
}

impl<H: Host> Tiers<'_, H> {
    /// A usable token from memory, else from the cache (then held in memory): `take` of it,
    /// where it came from, and whether a background refresh is due. Logs the hit, and the miss
    /// when `log_miss`.
    pub fn lookup<T>(
        &self,
        log_miss: bool,
        take: impl Fn(&ManagementToken) -> T,
    ) -> Option<(T, Source, bool)> {
        let now = self.host.now_ms();
        let from_memory = self.state.with_held(self.secrets, now, |held| {
            (take(&held.token), self.hit(held, Source::Memory, now))
        });
        if let Some((token, refresh_due)) = from_memory {
            return Some((token, Source::Memory, refresh_due));
        }
        let held = self.read_cache(now, log_miss)?;
        let refresh_due = self.hit(&held, Source::Cache, now);
        let token = take(&held.token);
        self.state.hold(held);
        Some((token, Source::Cache, refresh_due))
    }

    /// Logs a hit and says whether a background refresh is due.
    fn hit(&self, held: &Held, source: Source, now: u64) -> bool {
        // The request key (a hash of the secret, three copies) is built only past the refresh
        // point, not on every hit.
        let refresh_due = now >= held.refresh_at_ms && {
            let key = RequestKey::of(self.secrets);
            self.state.flight(&key).is_none() && self.state.cooling(&key, now).is_none()
        };
        let mut record = LogRecord::info("cache_hit")
            .field("tier", source.as_str())
            .field("fingerprint", held.fingerprint.as_str())
            .field("expires_in_s", held.use_until_ms.saturating_sub(now) / 1000);
        if refresh_due {
            record = record.field("refresh", "due");
        }
        self.host.log(record);
        refresh_due
    }

    /// The cache's record for this identity, if usable now.
    pub fn read_cache(&self, now: u64, log_miss: bool) -> Option<Held> {
        let entry = match self.host.cache_get(CACHE_KEY) {
            Ok(entry) => entry,
            Err(fault) => {
                self.host
                    .log(LogRecord::warn("cache_read_failed").field("error", fault.describe()));
                None
            }
        };
        let miss = match entry {
            None => Miss::Empty,
            Some(entry) => match CachedToken::usable(&entry.value, self.secrets, now) {
                Ok((token, use_until)) => {
                    return Some(self.held(token, use_until.min(entry.expires_at_ms)));
                }
                Err(miss) => miss,
            },
        };
        if log_miss {
            self.host
                .log(LogRecord::info("cache_miss").field("reason", miss.as_str()));
        }
        None
    }

    /// `token` as held in memory until `use_until_ms`, with its jittered refresh point.
    pub fn held(&self, token: ManagementToken, use_until_ms: u64) -> Held {
        let refresh_at_ms = self
            .refresh
            .refresh_at_ms(&token, use_until_ms, self.host.random());
        Held {
            identity: TokenIdentity::of(self.secrets),
            fingerprint: token.fingerprint(),
            token,
            use_until_ms,
            refresh_at_ms,
        }
    }

    /// Keeps a new token in memory and in the trigger cache.
    pub fn store(&self, token: &ManagementToken) {
        let now = self.host.now_ms();
        let Some(use_until) = policy::use_until_ms(token, now) else {
            self.host.log(
                LogRecord::warn("cache_write_skipped")
                    .field("reason", "token lifetime shorter than its safety margin"),
            );
            return;
        };
        self.state.hold(self.held(token.clone(), use_until));
        let record = CachedToken::new(self.secrets, token, use_until).to_json();
        match self.host.cache_set(CACHE_KEY, &record, use_until) {
            Ok(()) => self.host.log(
                LogRecord::info("cache_write")
                    .field("fingerprint", token.fingerprint())
                    .field("expires_at", use_until)
                    .field("ttl_s", (use_until - now) / 1000),
            ),
            Err(fault) => self.host.log(
                LogRecord::warn("cache_write_failed")
                    .field("error", fault.describe())
                    .field("value_bytes", record.len()),
            ),
        }
    }

    /// Drops `rejected` from memory, and from the cache if the cache still holds it.
    pub fn discard(&self, rejected: &ManagementToken) {
        self.state.forget(rejected.access_token());
        let cached = self
            .host
            .cache_get(CACHE_KEY)
            .ok()
            .flatten()
            .and_then(|e| CachedToken::usable(&e.value, self.secrets, self.host.now_ms()).ok());
        if cached.is_some_and(|(t, _)| t.access_token() == rejected.access_token())
            && let Err(fault) = self.host.cache_delete(CACHE_KEY)
        {
            self.host
                .log(LogRecord::warn("cache_delete_failed").field("error", fault.describe()));
        }
        self.host
            .log(LogRecord::warn("token_discarded").field("fingerprint", rejected.fingerprint()));
    }
}
