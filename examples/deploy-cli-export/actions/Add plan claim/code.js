/**
 * Handler that will be called during the execution of a PostLogin flow.
 * Puts the user's plan (app_metadata.plan, default "free") and how long ago the account was
 * created into the ID token under the CLAIM_NAMESPACE secret.
 *
 * @param {Event} event - Details about the user and the context in which they are logging in.
 * @param {PostLoginAPI} api - Interface whose methods can be used to change the behavior of the login.
 */
const ms = require("ms");

exports.onExecutePostLogin = async (event, api) => {
  const namespace = event.secrets.CLAIM_NAMESPACE || "https://example.com";
  const plan = event.user.app_metadata.plan || "free";
  api.idToken.setCustomClaim(`${namespace}/plan`, plan);
  if (event.user.created_at) {
    const age = Date.now() - Date.parse(event.user.created_at);
    if (Number.isFinite(age) && age >= 0) {
      api.idToken.setCustomClaim(`${namespace}/account_age`, ms(age, { long: true }));
    }
  }
};
