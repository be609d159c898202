// Frontend patterns a new user tries that tests/browser/page_requests.jsx does not
// (tests/test_browser_newcomer_patterns.py): ky and ofetch with their *default*
// retries and a refresh-on-401 hook, @tanstack/react-query mutations with
// optimistic updates and query cancellation, getToken({ template }) and
// getToken({ skipCache: true }), custom request headers, fetch's cache modes,
// what a page can read of every answer. Each pattern is an async function of
// the case `c` the test passes to window.P3[name](c); every call adds a row to
// the page's table, which the test screenshots. Clerk's hooks are the stub.
import React, { useEffect } from "react";
import { renderUntilDone } from "./render.jsx";
import { QueryClient, QueryClientProvider, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import ky from "ky";
import { ofetch } from "ofetch";
import { getTokenCalls, setClerkState, useAuth } from "@clerk/clerk-react";
import { useApiFetch, shouldRetry, retryDelay } from "./patterns.jsx";
import { enter, setCookie } from "./page_state.jsx";

const CASE_TIMEOUT_MS = 25_000;
// Response headers a page may want: ours, and those a CORS page can always read.
const READABLE = ["www-authenticate", "retry-after", "x-clerk-auth-status", "x-clerk-auth-reason", "cache-control",
                  "content-type"];

// -- helpers ---------------------------------------------------------------------------


function headersOf(res) {
  const read = {};
  for (const name of READABLE) read[name] = res.headers.get(name);
  return read;
}

/** What a page can read of a fetch Response. */
async function seen(res) {
  const text = await res.text().catch(() => "");
  let body = null;
  try { body = JSON.parse(text); } catch (e) { /* not JSON */ }
  return { status: res.status, reason: res.headers.get("x-clerk-auth-reason") || "", user: body?.user_id || "",
           headers: headersOf(res), length: text.length };
}

const blocked = (e) => ({ status: "blocked", error: e?.name || "", message: String(e?.message || e) });

function errorOf(e) {
  const res = e?.response;
  return { outcome: "error", error: e?.name || "", status: e?.status ?? (res ? res.status : "blocked"),
           reason: e?.reason ?? (res?.headers?.get ? res.headers.get("x-clerk-auth-reason") || "" : ""),
           message: String(e?.message || e) };
}

/** Render a component using hooks until it calls done(observation). */
const render = (Component, props, wrap = (x) => x) => renderUntilDone(Component, props, wrap, CASE_TIMEOUT_MS);

/** getToken outside React, as ClerkJS pages call Clerk.session.getToken(). */
const getToken = (options) => useAuth().getToken(options);

// -- state -------------------------------------------------------------------------------


// -- fetch -------------------------------------------------------------------------------

/** fetch(c.url) as a page writes it: the token from getToken(c.tokenOptions)
 * ("docs": `Bearer ${await getToken()}` whatever it is; "if-any": only a token),
 * c.headers, c.method, a JSON c.body, c.credentials, c.cache. */
async function plainFetch(c) {
  const headers = { ...(c.headers || {}) };
  if (c.auth) {
    const token = await getToken(c.tokenOptions);
    if (c.auth === "docs" || token) headers.Authorization = `Bearer ${token}`;
  }
  const init = { method: c.method || "GET", headers };
  for (const key of ["credentials", "cache", "mode"]) if (c[key] !== undefined) init[key] = c[key];
  if (c.body !== undefined) init.body = JSON.stringify(c.body);
  if (c.abortAfterHeaders) {
    // Abort once the answer's head arrived, before reading its body.
    const controller = new AbortController();
    try {
      const res = await fetch(c.url, { ...init, signal: controller.signal });
      controller.abort();
      const body = await res.text().then(() => "read", (e) => e.name);
      return { status: res.status, body };
    } catch (e) {
      return blocked(e);
    }
  }
  if (c.abortAfterMs !== undefined) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), c.abortAfterMs);
    return fetch(c.url, { ...init, signal: controller.signal }).then(seen, blocked).finally(() => clearTimeout(timer));
  }
  return fetch(c.url, init).then(seen, blocked);
}

/** The README's apiFetch (patterns.jsx) with c.init; its ApiError's fields. */
function ApiFetchProbe({ c, done }) {
  const apiFetch = useApiFetch();
  useEffect(() => {
    apiFetch(c.url, c.init || {}).then(
      (data) => done({ outcome: "data", status: 200, user: data?.user_id || "" }),
      (e) => done({ ...errorOf(e), retryAfter: e?.retryAfter ?? null }));
  }, []);
  return null;
}

// -- ky and ofetch, as their READMEs set them up ------------------------------------------------

/** ky with its default retry (2 retries of GET/PUT/DELETE on 408/413/429/5xx,
 * Retry-After honoured on 413/429/503), a beforeRequest hook adding the token
 * and, with c.refresh, ky's documented "retry with a fresh token on a 401"
 * afterResponse hook, asking getToken({ skipCache: true }). */
async function kyDefault(c) {
  const options = {
    credentials: c.credentials || "same-origin",
    hooks: {
      beforeRequest: [async ({ request }) => {
        const token = await getToken();
        if (token) request.headers.set("Authorization", `Bearer ${token}`);
      }],
      afterResponse: c.refresh ? [async ({ request, response, retryCount }) => {
        if (response.status === 401 && retryCount === 0) {
          const token = await getToken({ skipCache: true });
          if (!token) return undefined;
          const headers = new Headers(request.headers);
          headers.set("Authorization", `Bearer ${token}`);
          return ky.retry({ request: new Request(request, { headers }), code: "TOKEN_REFRESHED" });
        }
        return undefined;
      }] : [],
    },
  };
  if (c.retry !== undefined) options.retry = c.retry;
  const api = ky.create(options);
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const res = await api(c.url, { method: c.method || "get", ...(c.json !== undefined ? { json: c.json } : {}) });
    const data = res.status === 204 ? null : await res.json().catch(() => null);
    return { outcome: "data", status: res.status, user: data?.user_id || "", tokenCalls: getTokenCalls(), ms: ms() };
  } catch (e) {
    const res = e.response;
    return { outcome: "error", error: e.name, status: res ? res.status : "blocked",
             reason: res ? res.headers.get("x-clerk-auth-reason") || "" : "",
             retryAfter: res ? res.headers.get("retry-after") : null, tokenCalls: getTokenCalls(), ms: ms(),
             message: String(e.message || e) };
  }
}

/** ofetch with its default retry (1 retry of a GET on 408/409/425/429/5xx,
 * *no* delay) and an onRequest hook adding the token; with c.honourRetryAfter,
 * the retryDelay the README advises for ofetch. */
async function ofetchDefault(c) {
  const options = {
    credentials: c.credentials || "same-origin",
    async onRequest({ options: o }) {
      const token = await getToken();
      if (token) o.headers.set("Authorization", `Bearer ${token}`);
    },
  };
  if (c.retry !== undefined) options.retry = c.retry;
  const delays = [];
  if (c.honourRetryAfter) {
    // The README's, verbatim.
    const retryDelay = ({ response }) => Number(response?.headers.get("retry-after")) * 1000 || 0;
    options.retryDelay = (context) => { const ms = retryDelay(context); delays.push(ms); return ms; };
  }
  const api = ofetch.create(options);
  try {
    const data = await api(c.url, { method: c.method || "GET", ...(c.json !== undefined ? { body: c.json } : {}) });
    return { outcome: "data", status: 200, user: data?.user_id || "", delays };
  } catch (e) {
    return { outcome: "error", error: e.name, status: e.response ? e.response.status : "blocked",
             reason: e.response ? e.response.headers.get("x-clerk-auth-reason") || "" : "",
             data: e.data?.reason || "", delays };
  }
}

// -- @tanstack/react-query v5: mutations, optimistic updates, cancellation -------------------------------------

/** The todo list (useQuery) and an optimistic useMutation on it: onMutate
 * adds the title to the cached list, onError rolls back, onSettled
 * invalidates. The mutation runs with c.mutateAs's token (null: signed out). */
function OptimisticProbe({ c, done }) {
  const apiFetch = useApiFetch();
  const client = useQueryClient();
  const list = useQuery({ queryKey: ["todos", c.url], queryFn: () => apiFetch(c.url) });
  const seenWhileMutating = React.useRef(null);
  const mutation = useMutation({
    mutationFn: (title) => apiFetch(c.mutateUrl || c.url, {
      method: c.method || "POST", headers: { "Content-Type": "application/json", ...(c.headers || {}) },
      body: JSON.stringify({ title }),
    }),
    onMutate: async (title) => {
      await client.cancelQueries({ queryKey: ["todos", c.url] });
      const previous = client.getQueryData(["todos", c.url]);
      client.setQueryData(["todos", c.url], (old) => ({ ...old, todos: [...(old?.todos || []), title] }));
      seenWhileMutating.current = client.getQueryData(["todos", c.url]).todos.includes(title);
      return { previous };
    },
    onError: (error, title, context) => client.setQueryData(["todos", c.url], context.previous),
    onSettled: () => client.invalidateQueries({ queryKey: ["todos", c.url] }),
  });
  const started = React.useRef(false);
  useEffect(() => {
    if (list.status !== "success" || started.current) return;
    started.current = true;
    if ("mutateAs" in c) setClerkState(c.mutateAs, c.sid ?? null);
    mutation.mutateAsync(c.title).then(
      (data) => ({ outcome: "data", status: 201, user: data?.user_id || "" }),
      (e) => errorOf(e),
    ).then((result) => done({
      ...result, optimistic: seenWhileMutating.current,
      cached: client.getQueryData(["todos", c.url])?.todos || [],
    }));
  }, [list.status]);
  useEffect(() => {
    if (list.status === "error") done({ ...errorOf(list.error), stage: "list" });
  }, [list.status]);
  return null;
}

function optimistic(c) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: shouldRetry, retryDelay } } });
  return render(OptimisticProbe, { c }, (el) => <QueryClientProvider client={client}>{el}</QueryClientProvider>);
}

/** useQuery whose queryFn hands react-query's AbortSignal to fetch; the query
 * is cancelled while in flight, then refetched. */
function CancelProbe({ c, done }) {
  const apiFetch = useApiFetch();
  const client = useQueryClient();
  const key = ["cancel", c.url];
  const q = useQuery({ queryKey: key, queryFn: ({ signal }) => apiFetch(c.url, { signal }) });
  const cancelled = React.useRef(null);
  useEffect(() => {
    // Cancel on the first render, with the request in flight.
    client.cancelQueries({ queryKey: key }).then(() => {
      cancelled.current = client.getQueryState(key)?.fetchStatus;
      client.refetchQueries({ queryKey: key });
    });
  }, []);
  useEffect(() => {
    if (cancelled.current === null) return;
    if (q.status === "success" && q.fetchStatus === "idle") done({ outcome: "data", user: q.data?.user_id || "", cancelled: cancelled.current });
    if (q.status === "error") done({ ...errorOf(q.error), cancelled: cancelled.current });
  }, [q.status, q.fetchStatus]);
  return null;
}

function cancel(c) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: shouldRetry, retryDelay } } });
  return render(CancelProbe, { c }, (el) => <QueryClientProvider client={client}>{el}</QueryClientProvider>);
}

// -- the log the screenshot shows ---------------------------------------------------------------------------------

function logRow(name, c, got) {
  const row = document.querySelector("#log tbody").insertRow();
  const short = (value) => (typeof value === "string" && value.length > 60 ? `${value.slice(0, 57)}…` : value);
  const { headers, tokenCalls, ...rest } = got || {};
  const summary = Object.entries(rest).filter(([, v]) => v !== "" && v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${short(typeof v === "object" ? JSON.stringify(v) : String(v))}`).join(" ");
  const method = c.method || (name === "optimistic" ? "POST" : "GET");
  const target = c.mutateUrl || c.url;
  const sent = [method.toUpperCase(), target?.replace(/\?probe=\d+/, "?…").replace(/&probe=\d+/, "")];
  for (const cell of [document.querySelectorAll("#log tbody tr").length, c.label || name, sent.join(" "), summary]) {
    row.insertCell().textContent = String(cell ?? "");
  }
}

const PATTERNS = {
  fetch: plainFetch,
  apiFetch: (c) => render(ApiFetchProbe, { c }),
  ky: kyDefault,
  ofetch: ofetchDefault,
  optimistic,
  cancel,
};

window.P3 = { enter };
for (const [name, run] of Object.entries(PATTERNS)) {
  window.P3[name] = async (c) => {
    const got = await run(c);
    logRow(name, c, got);
    return got;
  };
}
document.getElementById("origin").textContent = location.origin;
window.__ready = true;
