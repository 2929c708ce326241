/**
 * Handler that will be called during the execution of a PostLogin flow.
 * Denies the login of a user whose app_metadata says they are suspended.
 *
 * @param {Event} event - Details about the user and the context in which they are logging in.
 * @param {PostLoginAPI} api - Interface whose methods can be used to change the behavior of the login.
 */
exports.onExecutePostLogin = async (event, api) => {
  if (event.user.app_metadata.suspended === true) {
    api.access.deny("This account is suspended.");
  }
};
