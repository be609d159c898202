// Runs the cases the test put in window.CONFIG, one after another, and shows
// each as a row: what the page saw on the wire (every fetch / XHR it made),
// what the pattern's code got (data, error, or a retry scheduled), and whether
// that is what the test expects. The test reads window.__results.
import React, { useEffect } from "react";
import { createRoot } from "react-dom/client";
import { SWRConfig } from "swr";
import { QueryClient as QueryClientV3, QueryClientProvider as QueryClientProviderV3 } from "react-query";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import axios from "axios";
import { setClerkState } from "@clerk/clerk-react";
import * as P from "./patterns.jsx";

const C = window.CONFIG;
const CASE_TIMEOUT_MS = 15_000;

// -- what goes over the wire -----------------------------------------------------------

let wire = [];
const realFetch = window.fetch.bind(window);
window.fetch = async (input, init) => {
  const record = { status: "pending", reason: "", retryAfter: "" };
  wire.push(record);
  try {
    const res = await realFetch(input, init);
    record.status = res.type === "opaque" ? "opaque" : res.status;
    record.reason = res.headers.get("x-clerk-auth-reason") || "";
    record.retryAfter = res.headers.get("retry-after") || "";
    return res;
  } catch (e) {
    record.status = "blocked";
    throw e;
  }
};
const realSend = XMLHttpRequest.prototype.send;
XMLHttpRequest.prototype.send = function send(body) {
  const record = { status: "pending", reason: "", retryAfter: "" };
  wire.push(record);
  // readyState 4 comes before the load / error events the pattern waits for.
  this.addEventListener("readystatechange", () => {
    if (this.readyState !== XMLHttpRequest.DONE) return;
    record.status = this.status === 0 ? "blocked" : this.status;
    if (this.status !== 0) {
      record.reason = this.getResponseHeader("x-clerk-auth-reason") || "";
      record.retryAfter = this.getResponseHeader("retry-after") || "";
    }
  });
  return realSend.call(this, body);
};

// -- cookies and the signed-in state ------------------------------------------------

function setCookie(name, value) {
  document.cookie = value == null ? `${name}=; path=/; max-age=0` : `${name}=${value}; path=/; SameSite=Lax`;
}

function enterState(c) {
  setClerkState(c.token, c.token ? c.sid : null);
  setCookie("__session", c.cookie);
  setCookie("__client_uat", c.clientUat);
}

// -- running one pattern ---------------------------------------------------------------

async function fromResponse(res) {
  const body = await res.json().catch(() => null);
  return { outcome: "data", user: body?.user_id || "" };
}

function fromData(data) {
  return { outcome: "data", user: data?.user_id || "", data };
}

function fromError(e) {
  const status = e.status ?? e.response?.status;
  return { outcome: "error", errorStatus: status ?? "", message: e.message || String(e) };
}

/** Render `element(done)` in a fresh root until it calls done(observation). */
function render(element, cleanup) {
  return new Promise((resolve) => {
    const host = document.createElement("div");
    document.getElementById("probes").appendChild(host);
    const root = createRoot(host);
    let settled = false;
    const finish = (observation) => {
      if (settled) return;
      settled = true;
      setTimeout(() => {
        cleanup?.();
        root.unmount();
        host.remove();
        resolve(observation);
      }, 0);
    };
    setTimeout(() => finish({ outcome: "timeout" }), CASE_TIMEOUT_MS);
    root.render(element(finish));
  });
}

/** Run a plain async function that needs hooks (it gets their values). */
function withHooks(useIt, act) {
  function Probe({ done }) {
    const value = useIt();
    useEffect(() => {
      act(value).then(done, (e) => done(fromError(e)));
    }, []);
    return null;
  }
  return render((done) => <Probe done={done} />);
}

function swrProbe(useIt, config, recordDelay) {
  const retry = { scheduled: false, delay: "" };
  function Probe({ done }) {
    const { data, error } = useIt();
    useEffect(() => {
      if (data !== undefined) done(fromData(data));
      else if (error !== undefined) {
        // SWR decides (shouldRetryOnError) and calls onErrorRetry before it renders the error.
        done(retry.scheduled ? { ...fromError(error), outcome: "retrying", retryIn: retry.delay } : fromError(error));
      }
    }, [data, error]);
    return null;
  }
  const value = {
    ...config,
    provider: () => new Map(),
    // Record the retry SWR asks for instead of waiting for it.
    onErrorRetry: (err, key, cfg, revalidate, opts) => {
      retry.scheduled = true;
      retry.delay = recordDelay(opts.retryCount, err);
    },
  };
  return render((done) => (
    <SWRConfig value={value}>
      <Probe done={done} />
    </SWRConfig>
  ));
}

/** A QueryClient with the given default query options; retryDelay is
 * watched, so the probe knows the failure and the delay the library asked for. */
function queryClient(QueryClient, defaults) {
  const seen = { error: null, delay: "" };
  const options = { ...defaults };
  if (defaults.retryDelay) {
    options.retryDelay = (attempt, error) => {
      seen.error = error;
      seen.delay = defaults.retryDelay(attempt, error);
      return seen.delay;
    };
  }
  return { client: new QueryClient({ defaultOptions: { queries: options } }), seen };
}

function queryProbe(useIt, { client, seen }, Provider, pendingStatus) {
  function Probe({ done }) {
    const q = useIt();
    useEffect(() => {
      if (q.status === "success") done(fromData(q.data));
      else if (q.status === "error") done(fromError(q.error));
      else if (q.status === pendingStatus && q.failureCount >= 1) {
        // The query failed once and is waiting to retry: the library chose to retry.
        const error = seen.error ?? q.failureReason ?? {};
        done({ ...fromError(error), outcome: "retrying", retryIn: seen.delay });
      }
    }, [q.status, q.failureCount]);
    return null;
  }
  return render(
    (done) => (
      <Provider client={client}>
        <Probe done={done} />
      </Provider>
    ),
    () => {
      client.cancelQueries();
      client.clear();
    },
  );
}

const NO_DELAY = () => "";

const PATTERNS = {
  // docs, same origin
  "docs fetch": (c) => P.docsFetch(c.url).then(fromData),
  "docs useSWR": (c) => swrProbe(() => P.useDocsSWR(c.url), {}, NO_DELAY),
  "docs useQuery v3": (c) => queryProbe(() => P.useDocsQuery(c.url), queryClient(QueryClientV3, {}), QueryClientProviderV3, "loading"),
  "docs axios.get": (c) => axios.get(c.url).then((res) => fromData(res.data)),
  // docs, cross origin
  "docs useFetch": (c) => withHooks(P.useFetch, (authenticatedFetch) => authenticatedFetch(c.url).then(fromData)),
  "docs useClerkSWR": (c) => swrProbe(() => P.useClerkSWR(c.url), {}, NO_DELAY),
  "docs useClerkQuery v3": (c) => queryProbe(() => P.useClerkQuery(c.url), queryClient(QueryClientV3, {}), QueryClientProviderV3, "loading"),
  "docs fetch include": (c) => P.docsIncludeFetch(c.url).then(fromResponse),
  "docs axios withCredentials": (c) => P.docsBackend(c.base).get(c.path).then((res) => fromData(res.data)),
  "docs XHR": (c) => P.docsXhr(c.url, c.url.startsWith("http")).then((xhr) => {
    let body = null;
    try { body = JSON.parse(xhr.response); } catch (e) { /* not JSON */ }
    return { outcome: "data", user: body?.user_id || "" };
  }),
  // recommended
  "apiFetch": (c) => withHooks(P.useApiFetch, (apiFetch) => apiFetch(c.url).then(fromData)),
  "useApiSWR": (c) => swrProbe(() => P.useApiSWR(c.url), P.swrConfig, P.retryDelay),
  "useApiQuery v3": (c) => queryProbe(() => P.useApiQueryV3(c.url), queryClient(QueryClientV3, P.queryDefaults), QueryClientProviderV3, "loading"),
  "useApiQuery v5": (c) => queryProbe(() => P.useApiQuery(c.url), queryClient(QueryClient, P.queryDefaults), QueryClientProvider, "pending"),
  "useApiAxios": (c) => withHooks(() => P.useApiAxios(c.base), (api) => api.get(c.path).then((res) => fromData(res.data))),
  // writes
  "POST text/plain include": (c) => fetch(c.url, {
    method: "POST", credentials: "include", headers: { "Content-Type": "text/plain" }, body: JSON.stringify({ title: c.title }),
  }).then(fromResponse),
  "POST no-cors include": (c) => fetch(c.url, {
    method: "POST", mode: "no-cors", credentials: "include", headers: { "Content-Type": "text/plain" }, body: JSON.stringify({ title: c.title }),
  }).then(() => ({ outcome: "data", user: "" })),
  "apiFetch POST json": (c) => withHooks(P.useApiFetch, (apiFetch) => apiFetch(c.url, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ title: c.title }),
  }).then(fromData)),
};

// -- the cases -----------------------------------------------------------------------

// Provisional: the test checks "server" (Chromium's network log) and marks the row again.
export function matches(expect, got) {
  return Object.entries(expect).every(([key, value]) => key === "server" || String(got[key]) === String(value));
}

function show(value) {
  return value === undefined || value === "" ? "" : String(value);
}

function addRow(c, got, ok) {
  const row = document.querySelector("#results tbody").insertRow();
  row.className = ok ? "pass" : "fail";
  const e = c.expect;
  const rest = Object.entries(e).filter(([k, v]) => !["status", "reason", "outcome", "user", "server"].includes(k) && !(k === "calls" && v === 1));
  const expected = [e.status, e.reason, "→", e.outcome, e.user, ...rest.map(([k, v]) => `${k}=${v}`)].filter((v) => v !== undefined && v !== "")
    .join(" ") + (e.server !== undefined && typeof e.status !== "number" ? ` | server: ${e.server}` : "");
  let result = got.outcome;
  if (got.user) result += ` ${got.user}`;
  if (got.errorStatus) result += ` (${got.errorStatus})`;
  if (got.retryIn !== undefined && got.retryIn !== "") result += ` in ${got.retryIn} ms`;
  const cells = [c.id, c.pattern, c.target, c.state, expected, show(got.status), show(got.reason), result, got.calls, ok ? "✓" : "✗"];
  for (const cell of cells) row.insertCell().textContent = show(cell);
  row.insertCell().dataset.server = c.id; // filled in by the test from Chromium's network log
}

async function runCase(c) {
  enterState(c);
  wire = [];
  let observation;
  try {
    observation = await PATTERNS[c.pattern](c);
  } catch (e) {
    observation = fromError(e);
  }
  const last = wire[wire.length - 1] || { status: "none", reason: "", retryAfter: "" };
  const got = { ...observation, data: undefined, status: last.status, reason: last.reason, retryAfter: last.retryAfter,
                calls: wire.length };
  // A retry scheduled after exactly the Retry-After the server sent.
  got.retryHonoured = got.retryAfter !== "" && Number(got.retryIn) === Number(got.retryAfter) * 1000;
  const ok = matches(c.expect, got);
  addRow(c, got, ok);
  return { id: c.id, ...got, ok };
}

async function main() {
  document.getElementById("origin").textContent = location.origin;
  document.getElementById("role").textContent = C.role;
  const results = [];
  for (const c of C.cases) {
    results.push(await runCase(c));
  }
  enterState({ token: null, cookie: null, clientUat: null });
  return results;
}

main()
  .then((results) => { window.__results = results; })
  .catch((e) => { window.__error = String(e && e.stack || e); })
  .finally(() => { window.__done = true; });
