// A stand-in for Clerk's React hooks (@clerk/clerk-react, @clerk/nextjs): the
// only part of the frontend that is not the real library. The bundle maps both
// package names here, so the patterns import them exactly as Clerk's docs do.
// The test mints the tokens; the harness picks which one getToken() returns.

const state = { token: null, sessionId: null, fresh: [], templates: {}, calls: [] };

/** Harness only: what the next getToken() resolves to (null: signed out);
 * `templates` maps a JWT template's name to what getToken({ template }) gives. */
export function setClerkState(token, sessionId, fresh = [], templates = {}) {
  state.token = token;
  state.sessionId = sessionId;
  state.fresh = [...fresh];
  state.templates = { ...templates };
  state.calls = [];
}

/** Harness only: the options of each getToken() call since setClerkState. */
export function getTokenCalls() {
  return state.calls.map((options) => ({ ...options }));
}

/** Resolves to the current token; with `fresh` tokens queued, each call hands
 * out the next one, as Clerk does when it refreshes the session mid-flight.
 * getToken({ template }) resolves to that template's token (null signed out,
 * as Clerk does); getToken({ skipCache: true }) takes the next fresh one. */
async function getToken(options = {}) {
  state.calls.push(options || {});
  if (options?.template) return state.token === null ? null : state.templates[options.template] ?? null;
  if (state.fresh.length) state.token = state.fresh.shift();
  return state.token;
}

/** useAuth(): { isLoaded, isSignedIn, sessionId, getToken } */
export function useAuth() {
  return { isLoaded: true, isSignedIn: state.token !== null, sessionId: state.sessionId, getToken };
}

/** useSession(): { isLoaded, isSignedIn, session }, plus the older shape the
 * docs destructure ({ getToken } = useSession(), session?.id). */
export function useSession() {
  const session = state.token === null ? null : { id: state.sessionId, getToken };
  return { isLoaded: true, isSignedIn: session !== null, session, id: session?.id, getToken };
}
