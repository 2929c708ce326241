// "naive": what people write before they add caching — a token by client credentials on every
// login. The seed port's request and validation (./seed.js), no api.cache at all.

import { requestToken } from "./seed.js";

export async function onExecutePostLogin(event) {
  await requestToken(event.secrets);
}
