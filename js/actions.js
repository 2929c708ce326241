// The Actions bound to the post-login trigger, in execution order, with the Worker variables
// each may see: the Rust Action (bindPostLoginActions) and the JS Actions of a Deploy CLI export
// (bindExportedActions, over build/tenant-actions/ — see scripts/lib/tenant-actions.js).

import { createLogger, describeError } from "./log.js";

const log = createLogger("actions-runtime");

/** What an Action call is rejected with when the wasm module panicked. */
export class ActionPanicError extends Error {
  constructor(message) {
    super(message);
    this.name = "ActionPanicError";
  }
}

/**
 * Binds the Rust Action from a wasm-bindgen module (`build/index.js`, or the test build).
 *
 * The Action's exports and their contracts (`src/wasm.rs`):
 * - `onExecutePostLogin(event, api, waitUntil)` returns a `Promise<void>` — for a login that
 *   finished without waiting, always the same resolved one (`finishedLogin()`); work it leaves
 *   running (a token refresh) is handed to `waitUntil`;
 * - `secretNames()` / `configurationNames()` list what it reads from `event.secrets` and
 *   `event.configuration`, which it decodes once per object: the runtime hands out the same
 *   objects for as long as the Worker's environment lives (`js/runtime/trigger.js`);
 * - `panicState()` is `{ count, message, listener }`.
 *
 * A Rust panic aborts the wasm instance (`unreachable`); inside an async call it traps in a
 * microtask, so that call's promise would never settle. The module's panic hook logs the panic,
 * schedules a fresh instance for the next call (wasm-bindgen's `schedule_reinit`) and calls
 * `panicState().listener`: every call in flight is rejected here — failing those executions as
 * an Action error does in Auth0. Later logins run on the fresh instance; only isolate memory (the
 * held token) is lost. A trap that was not a panic asks for a fresh instance the same way.
 * @returns {import("./runtime/trigger.js").ActionBinding[]}
 */
export function bindPostLoginActions(wasm) {
  const inFlight = new Set();
  const panics = wasm.panicState();
  // Set when the instance is broken: the next call runs on a fresh one.
  let reinitScheduled = false;

  panics.listener = (message) => {
    reinitScheduled = true;
    for (const reject of inFlight) reject(new ActionPanicError(`the Action panicked: ${message}`));
    inFlight.clear();
  };

  function trapped(action, error) {
    if (!(error instanceof WebAssembly.RuntimeError)) return;
    log("error", "wasm_trap", { action, error: describeError(error) });
    if (!reinitScheduled) wasm.scheduleReinit();
    reinitScheduled = true;
  }

  // A login that finished without waiting returns this already-resolved promise: nothing to track.
  let finished = wasm.finishedLogin();

  const guarded = (action, fn) => (event, api, waitUntil) => {
    const onFreshInstance = reinitScheduled;
    reinitScheduled = false;
    let result;
    try {
      result = fn(event, api, waitUntil);
    } catch (error) {
      trapped(action, error);
      throw error;
    } finally {
      if (onFreshInstance) {
        log("warn", "wasm_instance_replaced", { action });
        finished = wasm.finishedLogin(); // the fresh instance's own
      }
    }
    if (result === finished) return result;
    return new Promise((resolve, reject) => {
      inFlight.add(reject);
      const settle = (done) => (value) => {
        inFlight.delete(reject);
        done(value);
      };
      result.then(settle(resolve), (error) => {
        trapped(action, error);
        settle(reject)(error);
      });
    });
  };

  const name = "management-api-token";
  return [
    {
      name,
      onExecutePostLogin: guarded(name, wasm.onExecutePostLogin),
      // The Action reports the names it reads, so each list lives in one place (Rust).
      secrets: wasm.secretNames(),
      configuration: wasm.configurationNames(),
      // Other calls into the module on a login's behalf (api.groups through `ManagementApi`)
      // run under the same guard: a panic rejects them too, and the next call gets a fresh
      // instance.
      guard: (call) => guarded(name, call)(),
    },
  ];
}

/**
 * The post-login Actions in the export's order (`triggers/triggers.json`): each exported Action's
 * CommonJS module as Auth0 calls it, and the Rust Action where the export names it
 * (`management-api-token`), or first when it does not.
 * @param {Array<{name: string, rust?: true, module?: object, secrets?: string[]}>} bindings
 * @param {import("./runtime/trigger.js").ActionBinding[]} rustActions from `bindPostLoginActions`
 * @returns {import("./runtime/trigger.js").ActionBinding[]}
 */
export function bindExportedActions(bindings, rustActions) {
  const ordered = [];
  let rustPlaced = false;
  for (const binding of bindings) {
    if (binding.rust) {
      ordered.push(...rustActions);
      rustPlaced = true;
      continue;
    }
    const { onExecutePostLogin, onContinuePostLogin } = binding.module ?? {};
    if (typeof onExecutePostLogin !== "function") {
      throw new TypeError(`Action "${binding.name}": code.js does not export onExecutePostLogin`);
    }
    ordered.push({
      name: binding.name,
      // Called with (event, api), exactly as Auth0 calls it; `this` is the module's exports.
      onExecutePostLogin: (event, api) => onExecutePostLogin.call(binding.module, event, api),
      ...(typeof onContinuePostLogin === "function"
        ? { onContinuePostLogin: (event, api) => onContinuePostLogin.call(binding.module, event, api) }
        : {}),
      secrets: [...(binding.secrets ?? [])],
      configuration: [],
    });
  }
  return rustPlaced ? ordered : [...rustActions, ...ordered];
}
