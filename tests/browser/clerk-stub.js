// A stand-in for Clerk's React hooks (@clerk/clerk-react, @clerk/nextjs): the
// only part of the frontend that is not the real library. The bundle maps both
// package names here, so the patterns import them exactly as Clerk's docs do.
// The test mints the tokens; the harness picks which one getToken() returns.

const state = { token: null, sessionId: null, fresh: [] };

/** Harness only: what the next getToken() resolves to (null: signed out). */
export function setClerkState(token, sessionId, fresh = []) {
  state.token = token;
  state.sessionId = sessionId;
  state.fresh = [...fresh];
}

/** Resolves to the current token; with `fresh` tokens queued, each call hands
 * out the next one, as Clerk does when it refreshes the session mid-flight. */
async function getToken() {
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
