// Signed login requests for in-process tests of the handler.
import { signBody } from "../../js/signature.js";

/**
 * A `POST {baseUrl}/post-login` Request with `body` (string or bytes), signed with `secret` at
 * `at` (Unix seconds) unless `signature` is given (`null` sends no X-Signature header);
 * `contentType: null` sends no Content-Type.
 */
export async function signedLoginRequest(
  baseUrl,
  body,
  { secret, contentType = "application/json", at = Math.floor(Date.now() / 1000), signature, headers = {} },
) {
  const header = signature === undefined ? await signBody(body, secret, at) : signature;
  return new Request(`${baseUrl}/post-login`, {
    method: "POST",
    headers: {
      ...(contentType === null ? {} : { "content-type": contentType }),
      ...(header === null ? {} : { "x-signature": header }),
      ...headers,
    },
    body,
  });
}
