// api.prompt.render, api.validation.error, api.rules.wasExecuted.
//
// prompt.render: Auth0's schema PostLoginRenderPromptInput (promptId ≤ 48 characters; options
// only `fields` and `vars`, each an object of ≤ 24 properties, field names
// ^[a-zA-Z_][a-zA-Z0-9_]{0,49}$; all options ≤ 24 KB) and the harness's rules ("Redirect and
// render commands cannot be used in the same action.", "Only 1 render command per action is
// allowed."). Rendering suspends the pipeline like a redirect; /continue-login resumes it.
// validation.error: code and message strings ≤ 100 characters (PostLoginValidationErrorInput);
// "Prevent user from logging in by throwing a validation error" — the login is denied.

import {
  byteLength,
  bounded,
  isPlainObject,
  jsonCopy,
  requireOptions,
  requireString,
  typeName,
} from "./checks.js";

export const MAX_PROMPT_ID_LENGTH = 48;
export const MAX_PROMPT_PROPERTIES = 24;
export const MAX_PROMPT_OPTIONS_BYTES = 24 * 1024;
export const MAX_VALIDATION_TEXT_LENGTH = 100;
const FIELD_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,49}$/u;

export function promptApi(ctx) {
  return {
    render(promptId, promptOptions) {
      const method = "api.prompt.render";
      requireString(method, "promptId", promptId, { max: MAX_PROMPT_ID_LENGTH });
      const options = requireOptions(method, promptOptions ?? undefined, ["fields", "vars"]);
      for (const name of ["fields", "vars"]) {
        const value = options[name];
        if (value === undefined) continue;
        if (!isPlainObject(value))
          throw new TypeError(`${method}: options.${name} must be an object, got ${typeName(value)}`);
        const keys = Object.keys(value);
        if (keys.length > MAX_PROMPT_PROPERTIES) {
          throw new RangeError(
            `${method}: options.${name} must not have more than ${MAX_PROMPT_PROPERTIES} properties`,
          );
        }
        if (name === "fields") {
          for (const key of keys) {
            if (!FIELD_NAME.test(key))
              throw new TypeError(`${method}: "${bounded(key)}" is not a valid field name`);
          }
        }
      }
      const copy = jsonCopy(method, options);
      if (byteLength(JSON.stringify(copy)) > MAX_PROMPT_OPTIONS_BYTES) {
        throw new RangeError(
          `${method}: the prompt options must not exceed ${MAX_PROMPT_OPTIONS_BYTES} bytes`,
        );
      }
      if (!ctx.suspend(method, "prompt")) return;
      ctx.result.prompt = {
        id: promptId,
        fields: copy.fields ?? {},
        vars: copy.vars ?? {},
        action: ctx.actionName,
      };
    },
  };
}

export function validationApi(ctx) {
  return {
    error(errorCode, errorMessage) {
      const method = "api.validation.error";
      requireString(method, "errorCode", errorCode, { max: MAX_VALIDATION_TEXT_LENGTH, allowEmpty: true });
      requireString(method, "errorMessage", errorMessage, {
        max: MAX_VALIDATION_TEXT_LENGTH,
        allowEmpty: true,
      });
      if (!ctx.result.access.denied)
        ctx.result.validation = { code: errorCode, message: errorMessage, action: ctx.actionName };
      ctx.deny(errorMessage);
      return ctx.api;
    },
  };
}

/** `executedRules`: the ids of the Rules that ran in this transaction (none: this runtime has no Rules). */
export function rulesApi(ctx) {
  return {
    wasExecuted(ruleId) {
      requireString("api.rules.wasExecuted", "ruleId", ruleId);
      return ctx.executedRules.includes(ruleId);
    },
  };
}
