// Round 20's patterns (tests/test_browser_round20.py): API clients built the
// way their READMEs show — an instance with a base URL and a hook that adds
// `Authorization: Bearer ${await getToken()}` — for wretch, redaxios, axios,
// ky and ofetch; and what a page can read of the headers an answer carries.
// Each window.R20[name](c) resolves to what the page observed. Clerk's hooks
// are the stub; every library is the real one from the npm registry.
import wretch from "wretch";
import { queryStringAddon } from "wretch/addons";
import { retry } from "wretch/middlewares";
import redaxios from "redaxios";
import axios from "axios";
import ky from "ky";
import { ofetch } from "ofetch";
import React, { useEffect } from "react";
import { QueryClient, QueryClientProvider, useMutation } from "@tanstack/react-query";
import useSWRMutation from "swr/mutation";
import { useAuth } from "@clerk/clerk-react";
import { renderUntilDone } from "./render.jsx";
import { enter, setCookie } from "./page_state.jsx";

// The headers the tests ask a page to read (null: not sent, or not exposed to it).
const READ = ["x-clerk-auth-reason", "retry-after", "www-authenticate", "etag", "location", "x-total-count", "x-request-id"];
const log = [];


/** getToken() as a component gets it from useAuth(). */
const getToken = (options) => useAuth().getToken(options);

function headersOf(headers) {
  const read = {};
  for (const name of READ) read[name] = headers?.get ? headers.get(name) : headers?.[name] ?? null;
  return read;
}

function observed(status, headers, body) {
  const read = headersOf(headers);
  return { status, reason: read["x-clerk-auth-reason"] || "", user: body?.user_id || "", headers: read,
           error: body?.error || "", recorded: body?.recorded === true,
           // The refusal's JSON as the client parsed it (a string: the client did not parse it).
           body: typeof body === "string" ? "text" : body ? { error: body.error, reason: body.reason, message: typeof body.message === "string" && body.message !== "" } : null };
}

async function parsed(res) {
  const text = await res.text().catch(() => "");
  try { return JSON.parse(text); } catch (e) { return null; }
}

/** The Authorization header the hooks add: none signed out, unless c.naive
 * (the docs' template literal, which makes `Bearer null`). */
async function authorization(c) {
  const token = await getToken();
  return token || c.naive ? `Bearer ${token}` : null;
}

function note(c, got) {
  log.push({ lib: c.lib, url: `${c.base}${c.path}`, method: c.method || "get", got });
  const row = document.createElement("tr");
  for (const cell of [log.length, c.lib, `${(c.method || "get").toUpperCase()} ${c.base}${c.path}`,
                      `${got.outcome} ${got.status} ${got.reason || ""} ${got.user || ""}`]) {
    const td = document.createElement("td");
    td.textContent = String(cell);
    row.appendChild(td);
  }
  document.querySelector("#log tbody")?.appendChild(row);
  return got;
}

const blocked = (e) => ({ outcome: "error", status: "blocked", error: e?.name || "", message: String(e?.message || e) });

// -- the clients ----------------------------------------------------------------------------

/** The README's `until` for wretch's retry(): a 503 is not retried here (wait its Retry-After). */
const untilNot503 = (res) => !!res && (res.ok || (res.status >= 400 && res.status < 500) || res.status === 503);

/** wretch: .auth() per call, .options() for the cookie, catchers for 401/403. */
async function wretchCall(c) {
  const method = c.method || "get";
  let w = wretch(c.base).addon(queryStringAddon).url(c.path).options({ credentials: c.credentials || "same-origin" });
  if (c.query) w = w.query(c.query);
  // wretch's retry middleware: its defaults, but c.retry's attempts and delay.
  if (c.retry) w = w.middlewares([retry({ ...c.retry, ...(c.retryAfter ? { until: untilNot503 } : {}) })]);
  const auth = await authorization(c);
  if (auth) w = w.auth(auth);
  if (c.json !== undefined) w = w.json(c.json);
  // wretch 3 puts the refusal's body text in err.message: the page parses it.
  const json = (err) => { try { return JSON.parse(err.message); } catch (e) { return null; } };
  const fromError = (outcome) => async (err) => ({ outcome, ...observed(err.status, err.response?.headers, json(err)) });
  // wretch's README: on a 401, renew the credentials and replay the request once.
  const replay = async (err, request) => {
    const token = await getToken({ skipCache: true });
    return request.auth(`Bearer ${token}`).fetch()
      .unauthorized(fromError("unauthorized"))
      .res(async (res) => ({ outcome: "data", replayed: true, ...observed(res.status, res.headers, await parsed(res)) }));
  };
  try {
    return await w[method]()
      .unauthorized(c.refresh ? replay : fromError("unauthorized"))
      .forbidden(fromError("forbidden"))
      .error(503, fromError("unavailable"))
      .res(async (res) => ({ outcome: "data", ...observed(res.status, res.headers, await parsed(res)) }));
  } catch (e) {
    return e?.status ? { outcome: "error", ...observed(e.status, e.response?.headers, json(e)) } : blocked(e);
  }
}

/** redaxios: an instance with baseURL and withCredentials; it rejects with the response. */
async function redaxiosCall(c) {
  const api = redaxios.create({ baseURL: c.base, withCredentials: c.credentials === "include" });
  const auth = await authorization(c);
  try {
    const res = await api.request({ url: c.path, method: c.method || "get", data: c.json, params: c.query,
                                    headers: auth ? { Authorization: auth } : {} });
    return { outcome: "data", ...observed(res.status, res.headers, res.data) };
  } catch (e) {
    return e?.status ? { outcome: "error", ...observed(e.status, e.headers, e.data) } : blocked(e);
  }
}

/** axios: axios.create({ baseURL }) and a request interceptor awaiting getToken(). */
async function axiosCall(c) {
  const api = axios.create({ baseURL: c.base, withCredentials: c.credentials === "include" });
  api.interceptors.request.use(async (config) => {
    const auth = await authorization(c);
    if (auth && !config._retry) config.headers.Authorization = auth;
    return config;
  });
  // The usual "refresh on 401" response interceptor: one retry with a fresh token.
  if (c.refresh) {
    api.interceptors.response.use(undefined, async (error) => {
      const config = error.config;
      if (error.response?.status !== 401 || config._retry) throw error;
      config._retry = true;
      config.headers.Authorization = `Bearer ${await getToken({ skipCache: true })}`;
      const res = await api.request(config);
      res.replayed = true;
      return res;
    });
  }
  try {
    const res = await api.request({ url: c.path, method: c.method || "get", data: c.json, params: c.query });
    if (res.replayed) return { outcome: "data", replayed: true, ...observed(res.status, res.headers, res.data) };
    return { outcome: "data", ...observed(res.status, res.headers, res.data) };
  } catch (e) {
    const res = e?.response;
    return res ? { outcome: "error", ...observed(res.status, res.headers, res.data) } : blocked(e);
  }
}

/** ky: ky.create({ prefix }) and a beforeRequest hook setting the header. */
async function kyCall(c) {
  const api = ky.create({
    prefix: c.base || "/", credentials: c.credentials || "same-origin", retry: 0,
    hooks: { beforeRequest: [async ({ request }) => {
      const auth = await authorization(c);
      if (auth) request.headers.set("Authorization", auth);
    }] },
  });
  try {
    const res = await api(c.path.replace(/^\//, ""), { method: c.method || "get", json: c.json, searchParams: c.query });
    return { outcome: "data", ...observed(res.status, res.headers, await parsed(res)) };
  } catch (e) {
    const res = e?.response;
    // ky 2 has read the refusal's body already: its JSON is error.data.
    return res ? { outcome: "error", ...observed(res.status, res.headers, e.data) } : blocked(e);
  }
}

/** ofetch: ofetch.create({ baseURL, onRequest }) setting the header. */
async function ofetchCall(c) {
  const api = ofetch.create({
    baseURL: c.base || undefined, credentials: c.credentials || "same-origin", retry: 0,
    async onRequest({ options }) {
      const auth = await authorization(c);
      if (auth) options.headers.set("Authorization", auth);
    },
  });
  try {
    const res = await api.raw(c.path, { method: (c.method || "get").toUpperCase(), body: c.json, query: c.query });
    return { outcome: "data", ...observed(res.status, res.headers, res._data) };
  } catch (e) {
    const res = e?.response;
    return res ? { outcome: "error", ...observed(res.status, res.headers, e.data) } : blocked(e);
  }
}

/** Plain fetch, to read the answer's headers. */
async function fetchCall(c) {
  const headers = { ...(c.headers || {}) };
  const auth = await authorization(c);
  if (auth) headers.Authorization = auth;
  if (c.json !== undefined) headers["Content-Type"] = "application/json";
  try {
    const res = await fetch(`${c.base}${c.path}`, { method: (c.method || "get").toUpperCase(), headers,
                                                    credentials: c.credentials || "same-origin", keepalive: !!c.keepalive, referrerPolicy: c.referrerPolicy,
                                                    body: c.json === undefined ? undefined : JSON.stringify(c.json) });
    return { outcome: res.ok ? "data" : "error", ...observed(res.status, res.headers, await parsed(res)) };
  } catch (e) {
    return blocked(e);
  }
}

/** A classic HTML form POST (urlencoded) into a hidden frame; c.noReferrer: the page's
 * referrer policy is no-referrer (a <meta>, as helmet's default header does);
 * c.sandbox: posted from a sandboxed frame of this page (an opaque origin). */
function formPost(c) {
  if (c.noReferrer && !document.querySelector('meta[name="referrer"]')) {
    const meta = document.createElement("meta");
    meta.name = "referrer";
    meta.content = "no-referrer";
    document.head.appendChild(meta);
  }
  const action = new URL(`${c.base}${c.path}`, location.href).href;
  const frame = document.createElement("iframe");
  frame.name = `form-${Math.random().toString(36).slice(2)}`;
  frame.style.display = "none";
  if (c.sandbox) {
    frame.sandbox = "allow-forms allow-scripts";
    frame.srcdoc = `<form method="post" action="${action}"><input name="title" value="sandboxed"></form>` +
                   "<script>document.forms[0].submit()</" + "script>";
    document.body.appendChild(frame);
    return { outcome: "sent", status: "sent" };
  }
  document.body.appendChild(frame);
  const form = document.createElement("form");
  form.method = "post";
  form.action = action;
  form.target = frame.name;
  const input = document.createElement("input");
  input.name = "title";
  input.value = "form";
  form.appendChild(input);
  document.body.appendChild(form);
  form.submit();
  return { outcome: "sent", status: "sent" };
}

const CLIENTS = { wretch: wretchCall, redaxios: redaxiosCall, axios: axiosCall, ky: kyCall, ofetch: ofetchCall, fetch: fetchCall, form: formPost };

// -- the same calls as mutations of react hooks --------------------------------------------------

/** A client's observation as a mutation's outcome: data resolves, anything else throws. */
async function mutationFn(c) {
  const got = await CLIENTS[c.lib](c);
  if (got.outcome !== "data") throw Object.assign(new Error(`HTTP ${got.status}`), { got });
  return got;
}

function TanstackMutation({ c, done }) {
  const mutation = useMutation({ mutationFn: () => mutationFn(c) });
  useEffect(() => { mutation.mutate(); }, []);
  useEffect(() => {
    if (mutation.isSuccess) done({ hook: "useMutation", ...mutation.data });
    if (mutation.isError) done({ hook: "useMutation", ...(mutation.error.got || blocked(mutation.error)), outcome: "error" });
  }, [mutation.status]);
  return null;
}

function SwrMutation({ c, done }) {
  const { trigger } = useSWRMutation(`${c.base}${c.path}`, () => mutationFn(c));
  useEffect(() => {
    trigger().then((data) => done({ hook: "useSWRMutation", ...data }),
                   (error) => done({ hook: "useSWRMutation", ...(error.got || blocked(error)), outcome: "error" }));
  }, []);
  return null;
}

async function hookCall(c) {
  if (c.hook === "useSWRMutation") return renderUntilDone(SwrMutation, { c });
  const client = new QueryClient();
  return renderUntilDone(TanstackMutation, { c }, (x) => <QueryClientProvider client={client}>{x}</QueryClientProvider>);
}

/** One call of c.lib; the row it adds to the page's table is what the screenshot shows. */
async function call(c) {
  return note(c.hook ? { ...c, lib: `${c.hook}(${c.lib})` } : c, await (c.hook ? hookCall(c) : CLIENTS[c.lib](c)));
}

/** Many calls in a row (one page load per group of cases). */
async function calls(cases) {
  const out = [];
  for (const c of cases) out.push(await call(c));
  return out;
}


document.getElementById("origin").textContent = location.origin;
window.R20 = { enter, call, calls };
window.__ready = true;
