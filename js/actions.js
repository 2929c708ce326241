// The Actions bound to the post-login trigger, in execution order, with the Worker variables
// each may see. Another Action (Rust or JS) is added here with the same shape.

import { configurationNames, onExecutePostLogin, pendingWork } from "../build/index.js";

/** @type {import("./runtime/trigger.js").ActionBinding[]} */
export const postLoginActions = [
  {
    name: "management-api-token",
    onExecutePostLogin,
    secrets: ["AUTH0_CUSTOM_DOMAIN", "CLIENT_ID", "CLIENT_SECRET", "ACCOUNT_API"],
    // The Action reports the settings it reads, so the list lives in one place.
    configuration: configurationNames(),
    pending: pendingWork,
  },
];
