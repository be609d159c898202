// The README's "Calling it from the frontend" snippets, run as written:
// tests/test_browser_readme.py pastes them (README.md's code blocks, verbatim
// but for the example API address) into readme-snippets.jsx beside a copy of
// this file, which drives them. Only Clerk's hooks are the stub.
import React, { useEffect } from "react";
import { renderUntilDone } from "./render.jsx";
import { QueryClientProvider } from "@tanstack/react-query";
import { SWRConfig } from "swr";
import { setClerkState } from "@clerk/clerk-react";
import * as S from "./readme-snippets.jsx";

const CASE_TIMEOUT_MS = 20_000;

/** Render a component using hooks until it calls done(observation). */
const render = (Component, props, wrap = (x) => x) => renderUntilDone(Component, props, wrap, CASE_TIMEOUT_MS);

function setCookie(name, value) {
  document.cookie = value == null ? `${name}=; path=/; max-age=0` : `${name}=${value}; path=/; SameSite=Lax`;
}

const fromError = (e) => ({ outcome: "error", name: e?.name || "", status: e?.status ?? e?.response?.status ?? "blocked",
                            reason: e?.reason ?? e?.response?.headers?.["x-clerk-auth-reason"] ?? "",
                            retryAfter: e?.retryAfter ?? null, message: String(e?.message || e) });
const fromData = (data) => ({ outcome: "data", user: data?.user_id || "", method: data?.method || "" });

/** The init a case asks for, with Headers / Request objects built here (they do not cross evaluate()). */
function buildInit(c) {
  const init = { ...(c.init || {}) };
  if (c.headersObject) init.headers = new Headers(c.headersObject);
  if (init.body && typeof init.body !== "string") init.body = JSON.stringify(init.body);
  return init;
}

function FetchProbe({ c, done }) {
  const apiFetch = S.useApiFetch();
  useEffect(() => {
    const input = c.asRequest ? new Request(c.url, buildInit(c)) : c.url;
    const call = c.asRequest ? apiFetch(input) : apiFetch(input, buildInit(c));
    call.then((data) => done(fromData(data)), (e) => done(fromError(e)));
  }, []);
  return null;
}

/** react-query v5 with the README's queryClient and useApi: the first settled state, or the first retry's delay. */
function QueryProbe({ c, done }) {
  const query = S.useApi(c.url);
  useEffect(() => {
    if (query.isSuccess) done(fromData(query.data));
    else if (query.isError) done({ ...fromError(query.error), failureCount: query.failureCount });
    else if (c.untilRetry && query.failureCount >= 2) done({ outcome: "retrying", failureCount: query.failureCount });
  }, [query.status, query.fetchStatus, query.failureCount]);
  return null;
}

function SWRProbe({ c, done }) {
  const { data, error } = S.useApiSWR(c.url);
  useEffect(() => {
    if (data) done(fromData(data));
    else if (error && !c.untilRetry) setTimeout(() => done(fromError(error)), c.settleMs ?? 1500);
  }, [data, error]);
  return null;
}

function AxiosProbe({ c, done }) {
  const api = S.useApiAxios();
  useEffect(() => {
    api.get(c.path).then((res) => done(fromData(res.data)), (e) => done(fromError(e)));
  }, []);
  return null;
}

window.README = {
  enter(c) {
    setClerkState(c.token ?? null, c.sid ?? null, []);
    if ("cookie" in c) setCookie("__session", c.cookie);
    if ("clientUat" in c) setCookie("__client_uat", c.clientUat);
    return true;
  },
  fetch: (c) => render(FetchProbe, { c }),
  query: (c) => {
    S.queryClient.clear();
    return render(QueryProbe, { c }, (el) => <QueryClientProvider client={S.queryClient}>{el}</QueryClientProvider>);
  },
  swr: (c) => render(SWRProbe, { c }, (el) => (
    <SWRConfig value={{ ...S.swrConfig, provider: () => new Map(), dedupingInterval: 0 }}>{el}</SWRConfig>)),
  axios: (c) => render(AxiosProbe, { c }),
};
window.__ready = true;
