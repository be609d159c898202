// The published @clerk/backend as an oracle: one JSON case per stdin line,
// one JSON verdict per stdout line, in order. Started once per test session by
// tests/test_differential_clerk_backend.py, from a directory holding this file
// beside the node_modules that `npm ci` installed from package-lock.json.
//
// A case:
//   {"id", "now" (ms since the epoch: Date.now() while the case runs),
//    "client": {secretKey, publishableKey, apiUrl, machineSecretKey},   -> createClerkClient
//    "method", "url", "headers": [[name, value], ...]                   -> new Request
//    "options": {jwtKey, authorizedParties, audience, acceptsToken, issuer, ...}
//    "verifyToken": "<token>" (optional: call verifyToken(token, options) instead),
//    "immediateTimers": true (optional: every setTimeout fires at once — @clerk/backend's
//                       retry backoff of a failing JWKS fetch takes seconds; the retries stay)}
// A verdict:
//   {"id", "status", "reason", "isAuthenticated", "tokenType",
//    "auth": {isAuthenticated, tokenType, userId, sessionId, sessionStatus, orgId, subject, id,
//             scopes, claims, machineId, clientId, name},
//    "fetched": ["<method> <url>", ...]}
//   or {"id", "error": "<message>", "fetched"} when @clerk/backend throws.
// "fetched" lists every fetch() the case made. Only loopback URLs are fetched:
// any other is refused (a TypeError, as fetch gives when offline) and listed
// too, so the test can fail on it; the oracle never reaches the network.

import { createInterface } from 'node:readline';

let fetched = [];
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const method = init?.method ?? (typeof input === 'object' && 'method' in input ? input.method : 'GET');
  fetched.push(`${method} ${url}`);
  if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(url)) {
    return Promise.reject(new TypeError(`oracle: no network beyond 127.0.0.1 (${url})`));
  }
  return realFetch(input, init);
};

let immediateTimers = false;
const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = (callback, delay, ...args) => realSetTimeout(callback, immediateTimers ? 0 : delay, ...args);

// Imported after fetch and setTimeout are wrapped: @clerk/backend binds fetch when it loads.
const { createClerkClient, verifyToken } = await import('@clerk/backend');

// stdout carries verdicts only: whatever the SDK prints goes to stderr.
console.log = console.info = console.warn = console.debug = console.error;

const realNow = Date.now;
let frozen = null;
Date.now = () => (frozen === null ? realNow() : frozen);

const clients = new Map();

function clientFor(config) {
  const key = JSON.stringify(config);
  if (!clients.has(key)) {
    clients.set(key, createClerkClient({ telemetry: { disabled: true }, ...config }));
  }
  return clients.get(key);
}

function summary(auth) {
  if (!auth) {
    return null;
  }
  return {
    isAuthenticated: !!auth.isAuthenticated,
    tokenType: auth.tokenType ?? null,
    userId: auth.userId ?? null,
    sessionId: auth.sessionId ?? null,
    sessionStatus: auth.sessionStatus ?? null,
    orgId: auth.orgId ?? null,
    subject: auth.subject ?? null,
    id: auth.id ?? null,
    scopes: auth.scopes ?? null,
    claims: auth.claims ?? null,
    machineId: auth.machineId ?? null,
    clientId: auth.clientId ?? null,
    name: auth.name ?? null,
  };
}

async function answer(input) {
  frozen = typeof input.now === 'number' ? input.now : null;
  fetched = [];
  immediateTimers = input.immediateTimers === true;
  try {
    if (typeof input.verifyToken === 'string') {
      // The exported verifyToken returns the payload, or throws the TokenVerificationError.
      let data;
      try {
        data = await verifyToken(input.verifyToken, input.options ?? {});
      } catch (error) {
        return { status: 'signed-out', reason: error?.reason ?? 'unexpected-error', isAuthenticated: false };
      }
      const orgId = data.org_id ?? data.o?.id ?? null;
      return { status: 'signed-in', reason: null, isAuthenticated: true, claims: { sub: data.sub, sid: data.sid, orgId } };
    }
    const headers = new Headers();
    for (const [name, value] of input.headers ?? []) {
      headers.append(name, value);
    }
    const request = new Request(input.url, { method: input.method ?? 'GET', headers });
    const state = await clientFor(input.client ?? {}).authenticateRequest(request, input.options ?? {});
    return {
      status: state.status,
      reason: state.reason ?? null,
      isAuthenticated: !!state.isAuthenticated,
      tokenType: state.tokenType ?? null,
      auth: summary(state.toAuth()),
    };
  } catch (error) {
    return { error: String(error?.message ?? error) };
  } finally {
    frozen = null;
    immediateTimers = false;
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) {
    continue;
  }
  let input;
  try {
    input = JSON.parse(line);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ id: null, error: `bad case: ${error.message}` })}\n`);
    continue;
  }
  const verdict = await answer(input);
  process.stdout.write(`${JSON.stringify({ id: input.id ?? null, ...verdict, fetched })}\n`);
}
