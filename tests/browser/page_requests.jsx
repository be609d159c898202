// More frontend patterns (tests/test_browser_page_requests.py): each an async function
// of the case `c` the test passes to window.MORE[name](c), resolving to what
// the page could observe. Raw browser APIs (fetch options, sendBeacon, forms,
// <img>/<script>, sandboxed frames) and more libraries: react-query v5
// useMutation, SWR useSWRMutation, axios interceptors and XSRF defaults, ky,
// ofetch. Clerk's hooks are the stub (getToken() can hand out a fresh token
// per call, as a session refreshing mid-flight does).
import React, { useEffect } from "react";
import { renderUntilDone } from "./render.jsx";
import { QueryClient, QueryClientProvider, useMutation } from "@tanstack/react-query";
import { SWRConfig } from "swr";
import useSWRMutation from "swr/mutation";
import axios from "axios";
import ky from "ky";
import { ofetch } from "ofetch";
import { useAuth } from "@clerk/clerk-react";
import { useApiFetch } from "./patterns.jsx";
import { addFields } from "./forms.jsx";
import { enter, setCookie } from "./page_state.jsx";

const CASE_TIMEOUT_MS = 20_000;

// -- helpers ---------------------------------------------------------------------------

// The request headers each XMLHttpRequest really sets (axios copies its config).
const xhrHeaders = [];
const realSetRequestHeader = XMLHttpRequest.prototype.setRequestHeader;
XMLHttpRequest.prototype.setRequestHeader = function setRequestHeader(name, value) {
  xhrHeaders.push(name.toLowerCase());
  return realSetRequestHeader.call(this, name, value);
};

/** What a page can read of a fetch Response. */
async function seen(res) {
  const text = await res.text().catch(() => "");
  let body = null;
  try { body = JSON.parse(text); } catch (e) { /* not JSON */ }
  const read = {};
  for (const name of READABLE) read[name] = res.headers.get(name);
  return { status: res.status, reason: res.headers.get("x-clerk-auth-reason") || "", user: body?.user_id || "",
           redirected: res.redirected, finalUrl: res.url, type: res.type, headers: read };
}

// Response headers the tests look for on what a page reads (null: not exposed, or not sent).
const READABLE = ["www-authenticate", "retry-after", "x-clerk-auth-status", "x-clerk-auth-reason", "cache-control"];

const blocked = (e) => ({ status: "blocked", error: e.name, message: String(e.message || e) });


/** Render a component using hooks until it calls done(observation). */
const render = (Component, props, wrap = (x) => x) => renderUntilDone(Component, props, wrap, CASE_TIMEOUT_MS);

function fromError(e) {
  const status = e?.status ?? e?.response?.status ?? "";
  const headers = e?.response?.headers;
  const reason = e?.reason ?? (headers?.get ? headers.get("x-clerk-auth-reason") : headers?.["x-clerk-auth-reason"]) ?? "";
  return { outcome: "error", status: status === "" ? "blocked" : status, reason: reason || "", error: e?.name || "",
           message: String(e?.message || e) };
}

// -- state ----------------------------------------------------------------------------------


// -- fetch, with the options real pages use -----------------------------------------------------

/** fetch(c.url, init) with the Bearer token when c.bearer. */
async function plainFetch(c) {
  const headers = { ...(c.headers || {}) };
  if (c.bearer) headers.Authorization = `Bearer ${c.bearer}`;
  const init = { method: c.method || "GET", headers };
  for (const key of ["mode", "credentials", "keepalive", "cache", "redirect"]) if (c[key] !== undefined) init[key] = c[key];
  if (c.body !== undefined) init.body = typeof c.body === "string" ? c.body : JSON.stringify(c.body);
  if (c.bodyKind === "urlencoded") init.body = new URLSearchParams(c.body);
  if (c.bodyKind === "formdata") {
    init.body = new FormData();
    for (const [name, value] of Object.entries(c.body)) init.body.append(name, value);
  }
  if (c.abortAfterMs !== undefined) init.signal = AbortSignal.timeout(c.abortAfterMs);
  if (c.controllerTimeoutMs !== undefined) {
    // The pre-AbortSignal.timeout() idiom: an AbortController and a timer, cleared once answered.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), c.controllerTimeoutMs);
    return fetch(c.url, { ...init, signal: controller.signal }).then(seen, blocked).finally(() => clearTimeout(timer));
  }
  if (c.asRequest) return fetch(new Request(c.url, init)).then(seen, blocked);
  if (c.abortNow) {
    const controller = new AbortController();
    init.signal = controller.signal;
    const pending = fetch(c.url, init);
    controller.abort();
    return pending.then(seen, blocked);
  }
  return fetch(c.url, init).then(seen, blocked);
}

/** Promise.all of c.count requests, each asking getToken() for its token. */
function ConcurrentProbe({ c, done }) {
  const apiFetch = useApiFetch();
  useEffect(() => {
    const one = (i) => apiFetch(`${c.url}${c.url.includes("?") ? "&" : "?"}n=${i}`).then(
      (data) => ({ status: 200, user: data?.user_id || "" }), (e) => fromError(e));
    const started = performance.now();
    Promise.all(Array.from({ length: c.count }, (_, i) => one(i))).then((all) => done({
      statuses: all.map((r) => r.status), users: [...new Set(all.map((r) => r.user))], ms: Math.round(performance.now() - started),
    }));
  }, []);
  return null;
}

// -- what a page loads without CORS --------------------------------------------------------------

function load(tag, src) {
  return new Promise((resolve) => {
    const element = document.createElement(tag);
    element.onload = () => resolve("load");
    element.onerror = () => resolve("error");
    element.src = src;
    document.body.appendChild(element);
  });
}

async function embed(c) {
  const errors = [];
  const onError = (e) => errors.push(String(e.message));
  window.addEventListener("error", onError);
  const before = new Set(Object.keys(window));
  const result = await load(c.tag, c.url);
  window.removeEventListener("error", onError);
  return { result, errors, newGlobals: Object.keys(window).filter((k) => !before.has(k)) };
}

/** Whether this page can read a window or frame it opened (false: cross-origin). */
function canRead(win) {
  try {
    return { readable: true, text: win.document.body.innerText.slice(0, 200) };
  } catch (e) {
    return { readable: false, error: e.name };
  }
}

/** canRead(win) once its navigation away from about:blank committed (or after waitMs). */
async function readWhenNavigated(win, waitMs) {
  const deadline = performance.now() + waitMs;
  while (performance.now() < deadline) {
    const read = canRead(win);
    if (!read.readable || (win.location.href !== "about:blank" && win.document.readyState === "complete")) return read;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return canRead(win);
}

/** An HTML form POSTed into a hidden frame (the classic cross-site request),
 * or with c.window, into a new window (target=_blank-like, named). */
async function formPost(c) {
  const form = document.createElement("form");
  form.method = c.method || "POST";
  form.action = c.url;
  form.enctype = c.enctype || "text/plain";
  if (c.window) {
    const name = `win${Math.random().toString(36).slice(2)}`;
    const win = window.open("about:blank", name);
    form.target = name;
    addFields(form, c.fields);
    document.body.appendChild(form);
    form.submit();
    const read = await readWhenNavigated(win, c.waitMs ?? 1500);
    win.close();
    return { window: true, ...read };
  }
  const frame = document.createElement("iframe");
  frame.name = `sink${Math.random().toString(36).slice(2)}`;
  frame.hidden = true;
  document.body.appendChild(frame);
  form.target = frame.name;
  addFields(form, c.fields);
  document.body.appendChild(form);
  const loaded = new Promise((resolve) => { frame.onload = () => resolve("loaded"); setTimeout(() => resolve("timeout"), 5000); });
  form.submit();
  const frameLoaded = await loaded;
  return { frame: frameLoaded, ...canRead(frame.contentWindow) };
}

/** A top-level navigation (GET) in a new window: what the page can read of it. */
async function navigate(c) {
  const win = window.open(c.url, `nav${Math.random().toString(36).slice(2)}`);
  const read = await readWhenNavigated(win, c.waitMs ?? 1500);
  win.close();
  return read;
}

/** navigator.sendBeacon: a POST with the cookies, no preflight, no answer to read. */
async function beacon(c) {
  const body = c.blobType ? new Blob([c.body], { type: c.blobType }) : c.body;
  return { queued: navigator.sendBeacon(c.url, body) };
}

/** fetch from a sandboxed frame: the page's origin is "null". */
function sandboxed(c) {
  const script = `(async () => {
    const init = ${JSON.stringify(c.init)};
    const r = await fetch(${JSON.stringify(c.url)}, init).then((x) => x.type === "opaque" ? "opaque" : x.status, (e) => "blocked");
    parent.postMessage({ sandboxed: r }, "*");
  })();`;
  return new Promise((resolve) => {
    const frame = document.createElement("iframe");
    frame.sandbox = "allow-scripts";
    const listener = (event) => {
      if (event.source !== frame.contentWindow) return;
      window.removeEventListener("message", listener);
      frame.remove();
      resolve({ status: event.data.sandboxed });
    };
    window.addEventListener("message", listener);
    frame.srcdoc = `<script>${script}<\/script>`;
    document.body.appendChild(frame);
  });
}

function eventSource(c) {
  return new Promise((resolve) => {
    const source = new EventSource(c.url, { withCredentials: true });
    const messages = [];
    const finish = (result) => { source.close(); resolve({ result, messages }); };
    source.onmessage = (event) => messages.push(event.data);
    source.onopen = () => finish("open");
    source.onerror = () => finish("error");
    setTimeout(() => finish("timeout"), 5000);
  });
}

// -- libraries -----------------------------------------------------------------------------------------

/** react-query v5 useMutation around the README's apiFetch (POST JSON). */
function MutationProbe({ c, done }) {
  const apiFetch = useApiFetch();
  const mutation = useMutation({
    mutationFn: (title) => apiFetch(c.url, { method: c.method || "POST", headers: { "Content-Type": "application/json" },
                                             body: JSON.stringify({ title }) }),
  });
  useEffect(() => {
    mutation.mutateAsync(c.title).then(
      (data) => done({ outcome: "data", status: 201, user: data?.user_id || "", todos: data?.todos || [] }),
      (e) => done({ ...fromError(e), failureCount: mutation.failureCount }));
  }, []);
  return null;
}

function useMutationV5(c) {
  const client = new QueryClient();
  return render(MutationProbe, { c }, (el) => <QueryClientProvider client={client}>{el}</QueryClientProvider>);
}

/** SWR 2's useSWRMutation with apiFetch, triggered once. */
function SWRMutationProbe({ c, done }) {
  const apiFetch = useApiFetch();
  const { trigger } = useSWRMutation(c.url, (url, { arg }) => apiFetch(url, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(arg),
  }));
  useEffect(() => {
    trigger({ title: c.title }).then(
      (data) => done({ outcome: "data", status: 201, user: data?.user_id || "", todos: data?.todos || [] }),
      (e) => done(fromError(e)));
  }, []);
  return null;
}

function useSWRMutationCase(c) {
  return render(SWRMutationProbe, { c }, (el) => <SWRConfig value={{ provider: () => new Map() }}>{el}</SWRConfig>);
}

/** axios.create + a request interceptor asking getToken() per request (README). */
function AxiosProbe({ c, done }) {
  const { getToken } = useAuth();
  useEffect(() => {
    const api = axios.create({ baseURL: c.base, withCredentials: true, ...(c.axios || {}) });
    api.interceptors.request.use(async (config) => {
      const token = await getToken();
      if (token) config.headers.Authorization = `Bearer ${token}`;
      return config;
    });
    xhrHeaders.length = 0;
    const sentXsrf = () => xhrHeaders.includes("x-xsrf-token");
    const call = c.method === "post" ? api.post(c.path, c.body) : api.get(c.path);
    call.then((res) => done({ outcome: "data", status: res.status, user: res.data?.user_id || "", sentXsrf: sentXsrf() }),
              (e) => done({ ...fromError(e), sentXsrf: sentXsrf() }));
  }, []);
  return null;
}

/** ky with a beforeRequest hook adding the token, its HTTPError, and its retries. */
async function kyCase(c) {
  const { getToken } = useAuthOutsideReact();
  const api = ky.create({
    credentials: c.credentials || "same-origin",
    retry: c.retry ?? 0,
    timeout: c.timeout ?? 10_000,
    hooks: { beforeRequest: [async ({ request }) => {
      const token = await getToken();
      if (token) request.headers.set("Authorization", `Bearer ${token}`);
    }] },
  });
  const started = performance.now();
  try {
    const data = await api(c.url, { method: c.method || "get", ...(c.json ? { json: c.json } : {}) }).json();
    return { outcome: "data", status: 200, user: data?.user_id || "", ms: Math.round(performance.now() - started) };
  } catch (e) {
    const res = e.response;
    return { outcome: "error", error: e.name, status: res ? res.status : "blocked", message: String(e.message || e),
             reason: res ? res.headers.get("x-clerk-auth-reason") || "" : "", ms: Math.round(performance.now() - started) };
  }
}

/** ofetch with an onRequest hook adding the token, and its FetchError. */
async function ofetchCase(c) {
  const { getToken } = useAuthOutsideReact();
  const api = ofetch.create({
    credentials: c.credentials || "same-origin",
    retry: c.retry ?? 0,
    async onRequest({ options }) {
      const token = await getToken();
      if (token) options.headers.set("Authorization", `Bearer ${token}`);
    },
  });
  try {
    const data = await api(c.url, { method: c.method || "GET", ...(c.json ? { body: c.json } : {}) });
    return { outcome: "data", status: 200, user: data?.user_id || "" };
  } catch (e) {
    return { outcome: "error", error: e.name, status: e.response ? e.response.status : "blocked",
             reason: e.response ? e.response.headers.get("x-clerk-auth-reason") || "" : "", data: e.data?.reason || "" };
  }
}

/** getToken outside React, as ClerkJS pages call Clerk.session.getToken() (the stub's useAuth() is a plain function). */
function useAuthOutsideReact() {
  return { getToken: useAuth().getToken };
}

// -- the registry ----------------------------------------------------------------------------------

window.MORE = {
  enter,
  fetch: plainFetch,
  concurrent: (c) => render(ConcurrentProbe, { c }),
  embed,
  formPost,
  navigate,
  beacon,
  sandboxed,
  eventSource,
  useMutation: useMutationV5,
  useSWRMutation: useSWRMutationCase,
  axios: (c) => render(AxiosProbe, { c }),
  ky: kyCase,
  ofetch: ofetchCase,
};
window.__ready = true;
