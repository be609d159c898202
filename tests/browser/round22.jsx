// Round 22's patterns (tests/test_browser_round22.py): pagination hooks
// (SWR's useSWRInfinite, @tanstack/react-query v5's useInfiniteQuery), v5's
// useSuspenseQuery inside <Suspense> and an error boundary, the QueryClient's
// prefetchQuery / fetchQuery, GraphQL clients (@apollo/client with a setContext
// auth link or credentials: "include", urql with fetchOptions,
// graphql-request with a requestMiddleware), superagent, and axios-retry.
// Each window.R22.calls(cases) resolves to what the page observed per case.
// Clerk's hooks are the stub; every library is the real one from the npm registry.
import React, { Suspense, useEffect, useRef } from "react";
import useSWRInfinite from "swr/infinite";
import { SWRConfig } from "swr";
import { QueryClient, QueryClientProvider, useInfiniteQuery, useSuspenseQuery } from "@tanstack/react-query";
import { ErrorBoundary } from "react-error-boundary";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { ServerError } from "@apollo/client/errors";
import { RetryLink } from "@apollo/client/link/retry";
import { ApolloProvider, useQuery as useApolloQuery, useSuspenseQuery as useApolloSuspenseQuery } from "@apollo/client/react";
import { setContext } from "@apollo/client/link/context";
import { createClient, cacheExchange, fetchExchange } from "urql";
import { GraphQLClient, ClientError } from "graphql-request";
import superagent from "superagent";
import axios from "axios";
import axiosRetry from "axios-retry";
import { useAuth } from "@clerk/clerk-react";
import { renderUntilDone } from "./render.jsx";
import { enter, setCookie } from "./page_state.jsx";

const log = [];


/** getToken() as a component gets it from useAuth(). */
const getToken = (options) => useAuth().getToken(options);

const blocked = (e) => ({ outcome: "error", status: "blocked", error: e?.name || "", message: String(e?.message || e) });

/** What a page reads of a refusal's JSON (null: nothing parsed). */
function refusal(body) {
  return body && typeof body === "object" && "error" in body ? { error: body.error, reason: body.reason } : null;
}

function note(c, got) {
  log.push({ lib: c.lib, url: `${c.base}${c.path}`, got });
  const row = document.createElement("tr");
  const what = `${got.outcome} ${got.status} ${got.reason || ""} ${got.user || ""}` +
    (got.pages !== undefined ? ` pages=${got.pages}` : "") + (got.delays?.length ? ` waited ${got.delays.map(([after, ms]) => `${ms} ms (Retry-After ${after})`).join(", ")}` : "");
  for (const cell of [log.length, c.lib, c.op || "read", `${c.base}${c.path}`, what]) {
    const td = document.createElement("td");
    td.textContent = String(cell);
    row.appendChild(td);
  }
  document.querySelector("#log tbody")?.appendChild(row);
  return got;
}

// -- the docs' throwing fetcher (docs/guide/frontend.md's useApiFetch) ---------------------------

class ApiError extends Error {
  constructor(res, body) {
    super(body?.message || `HTTP ${res.status}`);
    this.status = res.status;
    this.reason = res.headers.get("x-clerk-auth-reason");
    this.retryAfter = Number(res.headers.get("retry-after")) || null;
    this.body = body;
  }
}

async function apiFetch(url, c) {
  const token = await getToken();
  const headers = token && !c.cookieOnly ? { Authorization: `Bearer ${token}` } : {};
  const res = await fetch(url, { headers, credentials: c.credentials || "same-origin" });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res, body);
  return body;
}

const shouldRetry = (count, error) => error?.status !== 401 && error?.status !== 403 && count < 3;

function fromError(e) {
  if (e?.status === undefined) return blocked(e);
  return { outcome: "error", status: e.status, reason: e.reason || "", body: refusal(e.body), retryAfter: e.retryAfter };
}

const pageUrl = (c, page) => `${c.base}${c.path}&page=${page}`;

// -- SWR useSWRInfinite ------------------------------------------------------------------------

function SwrInfinite({ c, done }) {
  const getKey = (index, previous) => (previous && previous.next === null ? null : pageUrl(c, index));
  const { data, error, size, setSize } = useSWRInfinite(getKey, (url) => apiFetch(url, c));
  useEffect(() => {
    if (error) return done(fromError(error));
    if (!data) return;
    const last = data[data.length - 1];
    if (last.next !== null && size === data.length) setSize(size + 1);
    else if (last.next === null) {
      done({ outcome: "data", status: 200, user: data[0].user_id, pages: data.length,
             items: data.flatMap((p) => p.items.map((i) => i.id)) });
    }
  }, [data, error]);
  return null;
}

// -- @tanstack/react-query v5 -------------------------------------------------------------------

function newClient(c) {
  // The docs' defaults: no retry on a 401/403; c.retry "default" leaves v5's own (3 retries), without waiting.
  const queries = c.retry === "default" ? { retryDelay: 0 } : { retry: shouldRetry, retryDelay: 0 };
  return new QueryClient({ defaultOptions: { queries } });
}

function InfiniteQuery({ c, done }) {
  const q = useInfiniteQuery({
    queryKey: ["feed", c.path], initialPageParam: 0,
    queryFn: ({ pageParam }) => apiFetch(pageUrl(c, pageParam), c),
    getNextPageParam: (last) => last.next ?? undefined,
  });
  useEffect(() => {
    if (q.status === "error") return done(fromError(q.error));
    if (q.status !== "success" || q.isFetchingNextPage) return;
    if (q.hasNextPage) q.fetchNextPage();
    else {
      const pages = q.data.pages;
      done({ outcome: "data", status: 200, user: pages[0].user_id, pages: pages.length,
             items: pages.flatMap((p) => p.items.map((i) => i.id)) });
    }
  }, [q.status, q.isFetchingNextPage, q.data]);
  return null;
}

function Viewer({ c, done }) {
  const { data } = useSuspenseQuery({ queryKey: ["me", c.path], queryFn: () => apiFetch(pageUrl(c, 0), c) });
  useEffect(() => { done({ outcome: "data", status: 200, user: data.user_id, boundary: false }); }, []);
  return <span>{data.user_id}</span>;
}

/** useSuspenseQuery in <Suspense> inside an error boundary: a refusal must land in the boundary. */
function SuspenseQuery({ c, done }) {
  const fallback = ({ error }) => {
    useEffect(() => { done({ ...fromError(error), boundary: true }); }, []);
    return <span>refused</span>;
  };
  return (
    <ErrorBoundary FallbackComponent={fallback}>
      <Suspense fallback={<span>loading</span>}><Viewer c={c} done={done} /></Suspense>
    </ErrorBoundary>
  );
}

async function tanstack(c) {
  const client = newClient(c);
  const wrap = (x) => <QueryClientProvider client={client}>{x}</QueryClientProvider>;
  try {
    if (c.lib === "useInfiniteQuery") return await renderUntilDone(InfiniteQuery, { c }, wrap);
    if (c.lib === "useSuspenseQuery") return await renderUntilDone(SuspenseQuery, { c }, wrap);
    const options = { queryKey: ["me", c.path], queryFn: () => apiFetch(pageUrl(c, 0), c) };
    if (c.lib === "fetchQuery") {
      try {
        const data = await client.fetchQuery(options);
        return { outcome: "data", status: 200, user: data.user_id };
      } catch (e) {
        return fromError(e);
      }
    }
    // prefetchQuery never rejects: the page looks at the cache afterwards.
    const resolved = await client.prefetchQuery(options).then(() => true, () => false);
    const state = client.getQueryState(options.queryKey);
    const data = client.getQueryData(options.queryKey);
    if (state?.status === "success") return { outcome: "data", status: 200, user: data.user_id, resolved };
    return { ...fromError(state?.error), resolved, cached: data !== undefined };
  } finally {
    client.clear();
  }
}

// -- GraphQL clients ----------------------------------------------------------------------------

const ME = "query Me { viewer { id } }";
const SAVE = "mutation Save($title: String!) { save(title: $title) { ok title by } }";

/** What a GraphQL client handed the page: data, or a refusal's status and JSON. */
function graphqlData(c, data) {
  const user = c.op === "write" ? data?.save?.by : data?.viewer?.id;
  return { outcome: "data", status: 200, user: user || "", title: data?.save?.title };
}

function parseText(text) {
  try { return JSON.parse(text); } catch (e) { return null; }
}

async function apollo(c) {
  const http = new HttpLink({ uri: `${c.base}${c.path}`, credentials: c.credentials || "same-origin" });
  // Apollo's docs: an auth link reading the token per operation (the docs' `authorization: token ? … : ""`).
  const auth = setContext(async (_, { headers }) => {
    const token = c.cookieOnly ? null : await getToken();
    return { headers: { ...headers, authorization: token ? `Bearer ${token}` : "" } };
  });
  const links = [auth];
  // RetryLink: c.retryLink "default" (retries every error, 401s too) or "docs" (never a 401/403); no waiting here.
  if (c.retryLink) {
    const retryIf = (error) => !(ServerError.is(error) && (error.statusCode === 401 || error.statusCode === 403));
    links.push(new RetryLink({ delay: { initial: 0, jitter: false },
                               attempts: c.retryLink === "docs" ? { max: 3, retryIf } : undefined }));
  }
  // clientAwareness: Apollo sends apollographql-client-name / -version request headers.
  const clientAwareness = c.awareness ? { name: "web", version: "1.0.0" } : undefined;
  const client = new ApolloClient({ link: ApolloLink.from([...links, http]), cache: new InMemoryCache(), clientAwareness });
  const serverError = (e) => {
    const response = e?.response;
    if (!response) return blocked(e);
    return { outcome: "error", status: e.statusCode, reason: response.headers.get("x-clerk-auth-reason") || "",
             retryAfter: Number(response.headers.get("retry-after")) || null, body: refusal(parseText(e.bodyText)) };
  };
  try {
    const provide = (x) => <ApolloProvider client={client}>{x}</ApolloProvider>;
    if (c.hook === "suspense") return await renderUntilDone(ApolloSuspense, { c }, provide);
    if (c.hook) return await renderUntilDone(ApolloHook, { c }, provide);
    const result = c.op === "write"
      ? await client.mutate({ mutation: gql(SAVE), variables: { title: c.title } })
      : await client.query({ query: gql(ME), fetchPolicy: "network-only" });
    return graphqlData(c, result.data);
  } catch (e) {
    return serverError(e);
  } finally {
    client.stop();
  }

  function ApolloViewer({ done }) {
    const { data } = useApolloSuspenseQuery(gql(ME), { fetchPolicy: "network-only" });
    useEffect(() => { done({ ...graphqlData(c, data), boundary: false }); }, []);
    return <span>{data.viewer.id}</span>;
  }

  /** Apollo's useSuspenseQuery in <Suspense> inside an error boundary. */
  function ApolloSuspense({ done }) {
    const fallback = ({ error }) => {
      useEffect(() => { done({ ...serverError(error), boundary: true }); }, []);
      return <span>refused</span>;
    };
    return (
      <ErrorBoundary FallbackComponent={fallback}>
        <Suspense fallback={<span>loading</span>}><ApolloViewer done={done} /></Suspense>
      </ErrorBoundary>
    );
  }

  function ApolloHook({ done }) {
    const { data, error } = useApolloQuery(gql(ME), { fetchPolicy: "network-only" });
    useEffect(() => {
      if (data) done(graphqlData(c, data));
      else if (error) done(serverError(error));
    }, [data, error]);
    return null;
  }
}

async function urql(c) {
  // fetchOptions is synchronous: the token is read first, as a component does before building the client.
  const token = c.cookieOnly ? null : await getToken();
  const client = createClient({
    url: `${c.base}${c.path}`, exchanges: [cacheExchange, fetchExchange], requestPolicy: "network-only",
    fetchOptions: () => ({ credentials: c.credentials || "same-origin", headers: token ? { authorization: `Bearer ${token}` } : {} }),
  });
  const result = c.op === "write"
    ? await client.mutation(SAVE, { title: c.title }).toPromise()
    : await client.query(ME, {}).toPromise();
  if (!result.error) return graphqlData(c, result.data);
  const response = result.error.response;
  if (!response || response.type === "error") return blocked(result.error);
  // urql has read the body already: its JSON is not on the error (only a GraphQL answer is).
  return { outcome: "error", status: response.status, reason: response.headers.get("x-clerk-auth-reason") || "",
           retryAfter: Number(response.headers.get("retry-after")) || null, body: null, message: result.error.message };
}

async function graphqlRequest(c) {
  // graphql-request 7 takes absolute URLs only (new URL(url) without a base): same-origin pages resolve theirs.
  const client = new GraphQLClient(new URL(`${c.base}${c.path}`, location.href).href, {
    credentials: c.credentials || "same-origin",
    // graphql-request's README: a requestMiddleware adding the token per request.
    requestMiddleware: async (request) => {
      const token = c.cookieOnly ? null : await getToken();
      return token ? { ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } } : request;
    },
  });
  try {
    const data = c.op === "write" ? await client.request(SAVE, { title: c.title }) : await client.request(ME);
    return graphqlData(c, data);
  } catch (e) {
    if (!(e instanceof ClientError)) return blocked(e);
    const res = e.response;
    const body = res.body !== undefined ? parseText(res.body) : res;
    return { outcome: "error", status: res.status, reason: res.headers?.get?.("x-clerk-auth-reason") || "",
             retryAfter: Number(res.headers?.get?.("retry-after")) || null, body: refusal(body) };
  }
}

// -- superagent -----------------------------------------------------------------------------------

async function superagentCall(c) {
  const token = c.cookieOnly ? null : await getToken();
  let request = c.op === "write"
    ? superagent.post(pageUrl(c, 0)).send({ query: SAVE, operationName: "Save", variables: { title: c.title } })
    : superagent.get(pageUrl(c, 0));
  if (c.credentials === "include") request = request.withCredentials();
  if (token) request = request.set("Authorization", `Bearer ${token}`);
  // superagent's own .retry(n) (c.retry attempts): the gateway's log counts them.
  if (c.retry) request = request.retry(c.retry);
  try {
    const res = await request;
    const user = c.op === "write" ? res.body?.data?.save?.by : res.body?.user_id;
    return { outcome: "data", status: res.status, user: user || "" };
  } catch (e) {
    if (!e.response) return blocked(e);
    return { outcome: "error", status: e.status, reason: e.response.headers["x-clerk-auth-reason"] || "",
             retryAfter: Number(e.response.headers["retry-after"]) || null, body: refusal(e.response.body) };
  }
}

// -- axios-retry ------------------------------------------------------------------------------------

/** axios-retry on an axios.create instance with the token interceptor; the README's
 * exponentialDelay (which waits at least Retry-After); c.retries attempts. */
async function axiosRetryCall(c) {
  const api = axios.create({ withCredentials: c.credentials === "include" });
  api.interceptors.request.use(async (config) => {
    const token = c.cookieOnly ? null : await getToken();
    if (token) config.headers.Authorization = `Bearer ${token}`;
    return config;
  });
  const delays = [];
  let retried = 0;
  axiosRetry(api, {
    retries: c.retries ?? 3,
    // The delay it picks, next to the Retry-After (seconds) of the answer it retries.
    retryDelay: (count, error) => {
      const delay = axiosRetry.exponentialDelay(count, error);
      delays.push([Number(error.response?.headers["retry-after"]) || null, Math.round(delay)]);
      return delay;
    },
    onRetry: () => { retried += 1; },
  });
  try {
    const res = c.op === "write"
      ? await api.post(pageUrl(c, 0), { query: SAVE, operationName: "Save", variables: { title: c.title } })
      : await api.get(pageUrl(c, 0));
    const user = c.op === "write" ? res.data?.data?.save?.by : res.data?.user_id;
    return { outcome: "data", status: res.status, user: user || "", retried, delays };
  } catch (e) {
    const res = e.response;
    if (!res) return { ...blocked(e), retried, delays };
    return { outcome: "error", status: res.status, reason: res.headers["x-clerk-auth-reason"] || "",
             retryAfter: Number(res.headers["retry-after"]) || null, body: refusal(res.data), retried, delays };
  }
}

const CLIENTS = {
  useSWRInfinite: (c) => renderUntilDone(SwrInfinite, { c }, (x) => (
    // The docs' SWR config: no retry on a 401/403.
    <SWRConfig value={{ provider: () => new Map(), shouldRetryOnError: (e) => e?.status !== 401 && e?.status !== 403 }}>{x}</SWRConfig>)),
  useInfiniteQuery: tanstack, useSuspenseQuery: tanstack, fetchQuery: tanstack, prefetchQuery: tanstack,
  apollo, urql, "graphql-request": graphqlRequest, superagent: superagentCall, "axios-retry": axiosRetryCall,
};

/** One call; the row it adds to the page's table is what the screenshot shows. */
async function call(c) {
  let got;
  try {
    got = await CLIENTS[c.lib](c);
  } catch (e) {
    got = { outcome: "thrown", status: "thrown", message: String(e?.stack || e) };
  }
  return note(c.hook ? { ...c, lib: `${c.lib} ${c.hook === "suspense" ? "useSuspenseQuery" : "useQuery"}` } : c, got);
}

/** Many calls in a row (one page load per group of cases). */
async function calls(cases) {
  const out = [];
  for (const c of cases) out.push(await call(c));
  return out;
}

/** Many calls at once (the axios-retry cases each wait a Retry-After). */
function parallel(cases) {
  return Promise.all(cases.map(call));
}


document.getElementById("origin").textContent = location.origin;
window.R22 = { enter, call, calls, parallel };
window.__ready = true;
