// What a test page's case sets before its request, shared by the bundles
// (bodies, newcomer, page_requests, round20, round22): Clerk's stubbed
// session state and the cookies ClerkJS would have written.
import { setClerkState } from "@clerk/clerk-react";

/** Set (or, with value null, remove) a cookie on the page's origin. */
export function setCookie(name, value, attributes = "SameSite=Lax") {
  document.cookie = value == null ? `${name}=; path=/; max-age=0` : `${name}=${value}; path=/; ${attributes}`;
}

/** Enter case c's state: getToken()'s token, the session ID, fresh tokens,
 * templates, and the __session / __client_uat (and XSRF-TOKEN) cookies. */
export function enter(c) {
  setClerkState(c.token ?? null, c.sid ?? null, c.fresh ?? [], c.templates ?? {});
  if ("cookie" in c) setCookie("__session", c.cookie, c.cookieAttributes);
  if ("clientUat" in c) setCookie("__client_uat", c.clientUat, c.cookieAttributes);
  if ("xsrf" in c) setCookie("XSRF-TOKEN", c.xsrf);
  return true;
}
