// Where a suspended login's state lives until POST /continue-login takes it, and the guarantee
// that it is taken once.
//
// With the LOGIN_STATES binding (a Durable Object namespace, class LoginStateStore in
// js/login-state-object.js, wrangler.toml), each state is its own object (`idFromName(<state
// key>)`): globally unique and single-threaded, so the first /continue-login anywhere takes the
// state and every later one, in any location, finds nothing — at once, not after KV's ~60 s
// replication. It also makes a state resumable from any location at once (KV is eventually
// consistent: another location may not see a state written a second ago).
//
// Without the binding, or when the object does not answer (2 s, non-2xx, a bad answer), the state
// goes to KV as before (`continue-login/<hash>` in ACTIONS_CACHE, STATE_TTL_SECONDS), and a take
// looks there too: such a state is taken once per location (each isolate remembers what it took)
// and once everywhere only after KV's delete has replicated. Faults are logged; a state that can
// be stored nowhere, or read nowhere, is a 500 answered by the handler.
//
// Object protocol (what LoginStateCore answers):
//   POST /put   { record }  → 204; the record is kept until record.expires_at (an alarm deletes it)
//   POST /take              → 200 record (and it is deleted) | 404 none, taken or expired

import { describeError } from "../log.js";
import { STATE_TTL_SECONDS } from "./suspend.js";

/** Longest wait for the state object's answer before falling back to KV. */
export const STATE_OBJECT_TIMEOUT_MS = 2_000;
const STORAGE_KEY = "record";

const json = (status, body) =>
  new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });

/** The object's side, without the platform (Node tests run it over a fake storage). */
export class LoginStateCore {
  /**
   * @param {{ storage: { get(key: string): Promise<any>, put(key: string, value: any): Promise<void>,
   *   deleteAll(): Promise<void>, setAlarm(at: number): Promise<void> }, now?: () => number }} options
   */
  constructor({ storage, now = Date.now }) {
    this.storage = storage;
    this.now = now;
    /**
     * Puts and takes run one after another (the object's input gate does so too, in workerd).
     * @type {Promise<unknown>}
     */
    this.queue = Promise.resolve();
  }

  fetch(request) {
    const answer = this.queue.then(() => this.#answer(request));
    this.queue = answer.catch(() => {});
    return answer;
  }

  async #answer(request) {
    const { pathname } = new URL(request.url);
    if (request.method !== "POST") return json(405, { error: "use POST" });
    if (pathname === "/put") {
      let record;
      try {
        ({ record } = await request.json());
      } catch {
        return json(400, { error: "the body must be JSON" });
      }
      if (!record || typeof record !== "object" || !Number.isSafeInteger(record.expires_at)) {
        return json(400, { error: "a record with expires_at is required" });
      }
      await this.storage.put(STORAGE_KEY, record);
      await this.storage.setAlarm(record.expires_at);
      return json(204);
    }
    if (pathname === "/take") {
      const record = await this.storage.get(STORAGE_KEY);
      if (record !== undefined) await this.storage.deleteAll();
      if (record === undefined || !(record.expires_at > this.now())) return json(404, { error: "no state" });
      return json(200, record);
    }
    return json(404, { error: "no such route" });
  }

  /** The state's time is up: nothing is kept. */
  alarm() {
    return this.storage.deleteAll();
  }
}

/** Why the object could not be used (a message for the log). */
class StateObjectFault extends Error {}

async function callObject(binding, key, path, body) {
  const stub = binding.get(binding.idFromName(key));
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new StateObjectFault(`no answer within ${STATE_OBJECT_TIMEOUT_MS} ms`)),
      STATE_OBJECT_TIMEOUT_MS,
    );
  });
  try {
    const init = {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    };
    return await Promise.race([stub.fetch(`https://login-state${path}`, init), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Stores a suspended login's `{ key, record }`, stamped with the state's lifetime by the
 * handler's clock: in its object when bound, else (or when the object fails) in KV, whose own
 * expiry is approximate (a take checks `expires_at` too). Throws only when it could be stored
 * nowhere.
 */
export async function storeState(env, continuation, now, log) {
  const stamped = {
    ...continuation.record,
    created_at: now,
    expires_at: now + STATE_TTL_SECONDS * 1000,
  };
  if (env.LOGIN_STATES) {
    try {
      const response = await callObject(env.LOGIN_STATES, continuation.key, "/put", { record: stamped });
      if (response.status === 204) return "object";
      throw new StateObjectFault(`answered ${response.status}`);
    } catch (error) {
      log("warn", "login_state_object_unavailable", {
        op: "put",
        error: describeError(error),
        fallback: "kv",
      });
    }
  }
  await env.ACTIONS_CACHE.put(continuation.key, JSON.stringify(stamped), {
    expirationTtl: STATE_TTL_SECONDS,
  });
  return "kv";
}

/**
 * Takes the state stored under `key`, once: from its object when bound, else (nothing there, or
 * the object failed) from KV, deleting it there. Resolves to the record or null; throws only when
 * KV could not be read either.
 */
export async function takeState(env, key, log) {
  if (env.LOGIN_STATES) {
    try {
      const response = await callObject(env.LOGIN_STATES, key, "/take", {});
      if (response.status === 200) return await response.json();
      if (response.status !== 404) throw new StateObjectFault(`answered ${response.status}`);
    } catch (error) {
      log("warn", "login_state_object_unavailable", {
        op: "take",
        error: describeError(error),
        fallback: "kv",
      });
    }
  }
  const text = await env.ACTIONS_CACHE.get(key);
  const record = text === null ? null : JSON.parse(text);
  if (record !== null) await env.ACTIONS_CACHE.delete(key);
  return record;
}
