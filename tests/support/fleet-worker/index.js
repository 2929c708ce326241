// Test-only Worker entry (see wrangler.toml beside it): js/index.js without the Deploy CLI export,
// plus a "cache-probe" Action after the Rust Action. A login's `request.query` tells the probe:
//   cache_set  JSON object {key: value}: api.cache.set(key, value) for each (default lifetime);
//              each outcome's `type` goes to the ID token claim https://fleet.test/cache_set
//   cache_get  JSON array of keys: their api.cache values (null when absent) go to the ID token
//              claim https://fleet.test/cache
import * as action from "../../../build/index.js";
import { bindPostLoginActions } from "../../../js/actions.js";
import { withTokenBroker } from "../../../js/broker.js";
import { createLoginHandler } from "../../../js/handler.js";

export { TokenBroker } from "../../../build/index.js";
export { TriggerCacheWriter } from "../../../js/cache-writer-object.js";

const cacheProbe = {
  name: "cache-probe",
  onExecutePostLogin(event, api) {
    const { cache_set: set, cache_get: get } = event.request.query ?? {};
    if (set) {
      const outcomes = {};
      for (const [key, value] of Object.entries(JSON.parse(set))) {
        outcomes[key] = api.cache.set(key, value).type;
      }
      api.idToken.setCustomClaim("https://fleet.test/cache_set", outcomes);
    }
    if (get) {
      const values = {};
      for (const key of JSON.parse(get)) values[key] = api.cache.get(key)?.value ?? null;
      api.idToken.setCustomClaim("https://fleet.test/cache", values);
    }
  },
  secrets: [],
  configuration: [],
};

export default withTokenBroker(
  action,
  createLoginHandler({ actions: [...bindPostLoginActions(action), cacheProbe] }),
);
