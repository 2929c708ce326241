// Persists one trigger's `api.cache` in Workers KV, with the isolate's memory in front.
//
// - One KV key per trigger holds all its records (layout and sealing: js/runtime/cache-value.js).
// - The isolate keeps the records in memory and shares them between its executions (Auth0's
//   cache is best-effort across executions, and module scope in Auth0's Node 22 runtime is
//   reused the same way). A cold isolate reads KV once (concurrent logins share the read). A
//   warm isolate never reads KV while its copy holds live records and has lost none to expiry:
//   memory already has what the Actions stored. Only a copy that is empty or lost a record (another
//   isolate may have stored a newer one) is re-read, at most once per sync interval (default
//   60 s, KV's own edge-cache time). A re-read keeps this copy's changes not yet written back.
// - Changes are written back after the response, through `ctx.waitUntil`, only when something
//   changed — as a delta (the keys that changed), so several isolates changing different keys
//   at once all keep their change:
//   - writer mode "on" (default): the delta goes to the trigger's single writer, a Durable Object
//     (js/cache-writer-object.js) that merges it per key into its records, writes KV and answers
//     with the merged records, which this copy adopts (it then sees other isolates' keys). When
//     the writer is unbound, throws, answers badly or takes more than 2 s, the delta is merged into
//     a fresh read of KV here (read-modify-write) instead, `cache_writer_unavailable` is logged
//     and the writer is skipped for 30 s; the delta is sent to the writer again once it is back,
//     so its next write does not drop it;
//   - writer mode "off": the whole copy is written over the KV value (the behaviour before the
//     writer existed: last write of the whole value wins).
//   A delta that could not be written at all is kept for the next write; nothing is lost.
// - The KV expiration follows the records: the latest `expires_at` among them (KV needs at least
//   60 s ahead), so an Action's 86,000 s record lives 86,000 s in KV.
// - With TOKEN_ENCRYPTION_KEY the value is sealed (AES-256-GCM); see cache-value.js.
// - A KV, writer or key fault never fails a login: it is logged and the Actions see what memory
//   holds (nothing, on a cold isolate).

import { describeError } from "../log.js";
import { TriggerCache } from "./cache.js";
import { checkRecords, mergeDelta } from "./cache-merge.js";
import { decodeStored, encodeStored, hasKey, kvExpiration, sealingKid } from "./cache-value.js";

export { KV_MIN_EXPIRATION_SECONDS } from "./cache-value.js";

/** How long the isolate's copy is used before KV is read again. */
export const DEFAULT_SYNC_INTERVAL_MS = 60_000;
/** Longest wait for the cache writer's answer before falling back to KV. */
export const WRITER_TIMEOUT_MS = 2_000;
/** After a writer fault, how long persists go straight to KV. */
export const WRITER_PAUSE_MS = 30_000;
/** Most changes kept for re-sending to the writer after fallbacks. */
const MAX_UNSYNCED = 64;

/** The KV key holding a trigger's cache. */
export const kvKey = (trigger) => `actions-cache/${trigger}`;

/**
 * The ACTIONS_CACHE_WRITER binding, as far as it is used here (a DurableObjectNamespace).
 * @typedef {{ idFromName(name: string): unknown,
 *   get(id: unknown): { fetch(url: string, init: RequestInit): Promise<Response> } }} CacheWriterBinding
 */

/** Why the writer could not be used (a message for the log, never a secret). */
class WriterFault extends Error {}

/** `promise`, or a WriterFault after `ms`. */
function within(promise, ms) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new WriterFault(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** One trigger's cache in one isolate, backed by KV. */
export class KvTriggerCache {
  /**
   * @param {string} trigger e.g. "post-login"
   * @param {{ now?: () => number, log: (level: string, event: string, fields?: object) => void,
   *   syncIntervalMs?: number, encryptionKey?: string, writerMode?: "on" | "off",
   *   writerTimeoutMs?: number, writerPauseMs?: number }} options
   *   `writerMode` defaults to "off" here; the login handler passes ACTIONS_CACHE_WRITER_MODE
   *   (default "on").
   */
  constructor(
    trigger,
    {
      now = Date.now,
      log,
      syncIntervalMs = DEFAULT_SYNC_INTERVAL_MS,
      encryptionKey,
      writerMode = "off",
      writerTimeoutMs = WRITER_TIMEOUT_MS,
      writerPauseMs = WRITER_PAUSE_MS,
    },
  ) {
    this.trigger = trigger;
    this.key = kvKey(trigger);
    this.now = now;
    this.log = log;
    this.syncIntervalMs = syncIntervalMs;
    this.keySpec = encryptionKey;
    this.writerMode = writerMode;
    this.writerTimeoutMs = writerTimeoutMs;
    this.writerPauseMs = writerPauseMs;
    this.cache = new TriggerCache({ now });
    this.syncedAt = -Infinity;
    this.loading = null;
    this.persisting = null;
    this.persistAgain = false;
    /** Changes written to KV by a fallback, not yet merged by the writer (re-sent to it). */
    this.unsynced = new Map();
    this.writerPausedUntil = -Infinity;
    this.unboundLogged = false;
    /** null: not checked yet; then "" (usable, or no key) or why the key cannot be used. */
    this.keyProblem = null;
    /** KV operations and writer calls this isolate made, for logs and tests. */
    this.counts = { reads: 0, writes: 0, writer: 0 };
  }

  /** Why TOKEN_ENCRYPTION_KEY cannot be used ("" when it can, or is not set); logged once. */
  #checkKey() {
    if (this.keyProblem !== null) return this.keyProblem;
    this.keyProblem = "";
    if (hasKey(this.keySpec)) {
      try {
        sealingKid(this.keySpec);
      } catch (error) {
        this.keyProblem = error.message;
        this.log("error", "token_encryption_key_invalid", {
          message: this.keyProblem,
          effect: "the trigger cache is neither read nor written",
        });
      }
    }
    return this.keyProblem;
  }

  /**
   * The cache for a login: the isolate's copy; read from KV on a cold isolate, and re-read when
   * the copy is empty or lost a record and is older than the sync interval.
   * Resolves to `{ cache, kvRead }`; never rejects.
   * @param {KVNamespace | undefined} kv
   */
  async forLogin(kv) {
    this.cache.reload ??= () => this.reload(kv);
    const cold = this.syncedAt === -Infinity;
    const recent = this.now() - this.syncedAt < this.syncIntervalMs;
    if (!cold && (recent || !this.cache.needsSync())) return { cache: this.cache, kvRead: false };
    this.loading ??= this.#sync(kv).finally(() => (this.loading = null));
    await this.loading;
    return { cache: this.cache, kvRead: true };
  }

  /**
   * Re-reads KV into this copy now, however recent the last read (keeping changes not yet
   * written back), sharing a read already under way. Never rejects.
   * @param {KVNamespace | undefined} kv
   */
  async reload(kv) {
    this.loading ??= this.#sync(kv).finally(() => (this.loading = null));
    await this.loading;
  }

  async #sync(kv) {
    if (!kv) {
      this.log("error", "kv_unavailable", { reason: "no ACTIONS_CACHE binding" });
      this.syncedAt = this.now();
      return;
    }
    if (this.#checkKey()) {
      this.syncedAt = this.now();
      return;
    }
    let read;
    try {
      read = await this.#read(kv);
    } catch (error) {
      this.log("error", "kv_read_failed", { key: this.key, error: describeError(error) });
      this.syncedAt = this.now();
      return;
    }
    this.syncedAt = this.now();
    // Changes not yet written back are newer than what KV holds: adopt keeps them.
    this.cache.adopt(read.entries);
    // Unreadable: the next write replaces it.
    if (read.unreadable) this.cache.rewrite = true;
  }

  /** KV's records: `{ entries, kid, unreadable }`; logs the read. Throws on a KV fault. */
  async #read(kv) {
    this.counts.reads++;
    const text = await kv.get(this.key, { type: "text" });
    this.log("info", "kv_read", { key: this.key, found: text !== null, reads: this.counts.reads });
    if (text === null) return { entries: [], kid: null, unreadable: false };
    const decoded = await decodeStored(text, this.keySpec, this.key);
    if (decoded.unreadable) {
      this.log("warn", "kv_value_unreadable", {
        key: this.key,
        bytes: text.length,
        reason: decoded.unreadable,
      });
      return { entries: [], kid: null, unreadable: true };
    }
    return { entries: decoded.entries, kid: decoded.kid, unreadable: false };
  }

  /**
   * Writes the changes back if there are any. Never rejects. Persists of one isolate run one at a
   * time: one asked for while another runs is done by the running one, right after.
   * @param {KVNamespace | undefined} kv
   * @param {CacheWriterBinding | undefined} [writer] the ACTIONS_CACHE_WRITER binding
   */
  persist(kv, writer) {
    if (this.persisting) {
      this.persistAgain = true;
      return this.persisting;
    }
    if (!kv || !this.cache.dirty) return Promise.resolve();
    this.persisting = this.#persistLoop(kv, writer).finally(() => (this.persisting = null));
    return this.persisting;
  }

  async #persistLoop(kv, writer) {
    do {
      this.persistAgain = false;
      if (this.#checkKey()) {
        this.log("error", "kv_write_failed", { key: this.key, error: "TOKEN_ENCRYPTION_KEY is invalid" });
        return;
      }
      const delta = this.cache.takeDelta();
      let written;
      try {
        written =
          this.writerMode === "off" ? await this.#writeWhole(kv) : await this.#writeDelta(kv, writer, delta);
      } catch (error) {
        written = false;
        this.log("error", "kv_write_failed", { key: this.key, error: describeError(error) });
      }
      // Try again with the next login's write.
      if (!written) {
        this.cache.restoreDelta(delta);
        return;
      }
    } while (this.persistAgain && this.cache.dirty);
  }

  /** Writer mode "off": the whole copy over the KV value. */
  async #writeWhole(kv) {
    await this.#put(kv, this.cache.entries(), "kv");
    return true;
  }

  /** Puts `entries` (or deletes the key when there are none) and logs it. Throws on a fault. */
  async #put(kv, entries, via) {
    this.counts.writes++;
    const stored = await encodeStored(entries, this.keySpec, this.key);
    if (stored === null) {
      await kv.delete(this.key);
      this.log("info", "kv_write", { key: this.key, records: 0, writes: this.counts.writes, via });
      return;
    }
    const expiration = kvExpiration(stored.latest, this.now());
    await kv.put(this.key, stored.value, { expiration });
    this.log("info", "kv_write", {
      key: this.key,
      records: entries.length,
      expiration,
      writes: this.counts.writes,
      via,
    });
  }

  /** Writer mode "on": the delta to the writer, or merged into KV here when it is unavailable. */
  async #writeDelta(kv, writer, delta) {
    const at = this.now();
    // Re-sent changes first: the delta's are newer.
    const outgoing = new Map(this.unsynced);
    for (const [key, record] of delta.changes) {
      outgoing.delete(key);
      outgoing.set(key, record);
    }
    for (const [key, record] of outgoing)
      if (record !== null && record.expires_at <= at) outgoing.set(key, null);
    const changes = [...outgoing];

    let reason = null;
    if (!writer) {
      reason = "no ACTIONS_CACHE_WRITER binding";
    } else if (at < this.writerPausedUntil) {
      reason = "paused after a fault";
    } else {
      try {
        const answer = await this.#askWriter(writer, { changes, rewrite: delta.rewrite });
        this.unsynced.clear();
        this.cache.adopt(answer.records);
        this.syncedAt = this.now();
        this.log("info", "kv_write", {
          key: this.key,
          records: answer.records.length,
          changes: changes.length,
          kv: answer.kv,
          writer_calls: this.counts.writer,
          via: "writer",
        });
        if (answer.rejected.length > 0) {
          this.log("warn", "cache_write_rejected", {
            key: this.key,
            rejected: answer.rejected.map(({ key, code }) => ({ key: key.slice(0, 64), code })),
          });
        }
        return true;
      } catch (error) {
        reason = error instanceof WriterFault ? error.message : describeError(error);
        this.writerPausedUntil = this.now() + this.writerPauseMs;
      }
    }
    // Logged at each fault, and once for a missing binding (a configuration, not an event).
    if (reason !== "paused after a fault" && (writer || !this.unboundLogged)) {
      this.unboundLogged ||= !writer;
      this.log("warn", "cache_writer_unavailable", {
        key: this.key,
        reason,
        fallback: "kv_read_modify_write",
      });
    }
    await this.#readModifyWrite(kv, changes, delta.rewrite);
    if (writer) {
      for (const [key, record] of changes) {
        this.unsynced.delete(key);
        this.unsynced.set(key, record);
      }
      while (this.unsynced.size > MAX_UNSYNCED) this.unsynced.delete(this.unsynced.keys().next().value);
    }
    return true;
  }

  /** Re-reads KV, applies `changes` per key, writes if that changed anything. Throws on a fault. */
  async #readModifyWrite(kv, changes, rewrite) {
    let read;
    try {
      read = await this.#read(kv);
    } catch (error) {
      // Without a read there is nothing to merge into: write this isolate's copy whole (the
      // behaviour without a writer: last write wins) rather than lose its change.
      this.log("warn", "kv_merge_read_failed", {
        key: this.key,
        error: describeError(error),
        write: "whole_copy",
      });
      await this.#put(kv, this.cache.entries(), "kv");
      this.syncedAt = this.now();
      return;
    }
    const merged = mergeDelta(read.entries, changes, this.now());
    const current = read.kid === sealingKid(this.keySpec) || (read.kid === null && !read.unreadable);
    if (merged.changed || rewrite || read.unreadable || !current) await this.#put(kv, merged.entries, "kv");
    if (merged.rejected.length > 0) {
      this.log("warn", "cache_write_rejected", {
        key: this.key,
        rejected: merged.rejected.map(({ key, code }) => ({ key: key.slice(0, 64), code })),
      });
    }
    this.cache.adopt(merged.entries);
    this.syncedAt = this.now();
  }

  /** The writer's answer `{ records, rejected, kv }`, or a WriterFault / the error it threw. */
  async #askWriter(writer, delta) {
    this.counts.writer++;
    const call = (async () => {
      const stub = writer.get(writer.idFromName(this.trigger));
      const response = await stub.fetch("https://cache-writer/merge", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ v: 1, trigger: this.trigger, ...delta }),
      });
      if (!response.ok) {
        await response.body?.cancel();
        throw new WriterFault(`answered ${response.status}`);
      }
      let body;
      try {
        body = await response.json();
      } catch {
        throw new WriterFault("answered a body that is not JSON");
      }
      if (body?.v !== 1) throw new WriterFault("answered an unknown body");
      try {
        return {
          records: checkRecords(body.records),
          rejected: Array.isArray(body.rejected)
            ? body.rejected.filter((r) => typeof r?.key === "string")
            : [],
          kv: typeof body.kv === "string" ? body.kv.slice(0, 16) : "unknown",
        };
      } catch (error) {
        throw new WriterFault(`answered bad records (${error.message})`);
      }
    })();
    // A late answer must not surface as an unhandled rejection after the timeout.
    call.catch(() => {});
    return within(call, this.writerTimeoutMs);
  }
}
