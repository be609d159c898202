// The request patterns under test, with the real libraries.
//
// "docs": as written in Clerk's frontend docs ("Making authenticated requests
// to the backend", "Making backend requests"), only renamed where two share a
// name. "recommended": what the README advises instead (throwing fetchers, no
// retry on 401/403, Retry-After honoured on 503, x-clerk-auth-reason read).
import { useCallback, useMemo } from "react";
import useSWR from "swr";
import { useQuery as useQueryV3 } from "react-query";
import { useQuery } from "@tanstack/react-query";
import axios from "axios";
import { useSession } from "@clerk/nextjs";
import { useAuth } from "@clerk/clerk-react";

// -- docs: same origin (the __session cookie goes along by itself) ---------------------

export const docsFetch = (url) => fetch(url).then((res) => res.json());

const fetcher = (...args) => fetch(...args).then((res) => res.json());

export function useDocsSWR(url) {
  return useSWR(url, fetcher);
}

export function useDocsQuery(url) {
  return useQueryV3(["foo", url], async () => {
    const res = await fetch(url);
    if (!res.ok) {
      throw new Error("Network response error");
    }
    return res.json();
  });
}

// -- docs: cross origin (Bearer getToken()) ---------------------------------------------

export function useFetch() {
  const { getToken } = useSession();
  const authenticatedFetch = async (...args) => {
    return fetch(...args, {
      headers: { Authorization: `Bearer ${await getToken()}` },
    }).then((res) => res.json());
  };
  return authenticatedFetch;
}

export function useClerkSWR(url) {
  const { getToken } = useSession();
  const fetcher = async (...args) => {
    return fetch(...args, {
      headers: { Authorization: `Bearer ${await getToken()}` },
    }).then((res) => res.json());
  };
  return useSWR(url, fetcher);
}

export function useClerkQuery(url) {
  const { getToken } = useSession();
  return useQueryV3(url, async () => {
    const res = await fetch(url, {
      headers: { Authorization: `Bearer ${await getToken()}` },
    });
    if (!res.ok) {
      throw new Error("Network response error");
    }
    return res.json();
  });
}

// -- docs: "Making backend requests" (cookies, multi-session) ----------------------------

export const docsIncludeFetch = (reqUrl) => fetch(reqUrl, { credentials: "include" });

export const docsBackend = (baseURL) => axios.create({ baseURL, withCredentials: true });

export function docsXhr(reqUrl, withCredentials) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("GET", reqUrl);
    xhr.withCredentials = withCredentials;
    xhr.send();
    xhr.onload = () => resolve(xhr);
    xhr.onerror = () => reject(new Error("Request failed"));
  });
}

// -- recommended -------------------------------------------------------------------------

/** A refusal the page can act on: status, Clerk's reason, Retry-After. */
export class ApiError extends Error {
  constructor(res, body) {
    super(body?.message || `HTTP ${res.status}`);
    this.status = res.status;
    this.reason = res.headers.get("x-clerk-auth-reason"); // token-expired, session-token-missing, …
    this.retryAfter = Number(res.headers.get("retry-after")) || null; // seconds, on 503
  }
}

/** fetch that sends the session token when there is one, and throws on non-2xx. */
export function useApiFetch() {
  const { getToken } = useAuth();
  return useCallback(async (url, init = {}) => {
    const token = await getToken();
    const request = new Request(url, init); // keeps init.headers as an object, a Headers or a Request's
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    const res = await fetch(request);
    if (!res.ok) throw new ApiError(res, await res.json().catch(() => null));
    return res.status === 204 ? null : res.json();
  }, [getToken]);
}

/** Retry what may pass next time (503, network); never a 401/403 verdict. */
export function shouldRetry(failureCount, error) {
  if (error?.status === 401 || error?.status === 403) return false;
  return failureCount < 3;
}

/** Milliseconds before retry number `attempt` (0-based): Retry-After when sent. */
export function retryDelay(attempt, error) {
  if (error?.retryAfter) return error.retryAfter * 1000;
  return Math.min(1000 * 2 ** attempt, 30_000);
}

// react-query, v5 and v3 alike: new QueryClient({ defaultOptions: { queries: queryDefaults } })
export const queryDefaults = { retry: shouldRetry, retryDelay };

export function useApiQuery(url) {
  const apiFetch = useApiFetch();
  return useQuery({ queryKey: [url], queryFn: () => apiFetch(url) });
}

export function useApiQueryV3(url) {
  const apiFetch = useApiFetch();
  return useQueryV3([url], () => apiFetch(url));
}

// SWR: <SWRConfig value={swrConfig}> around the app
export const swrConfig = {
  shouldRetryOnError: (error) => error?.status !== 401 && error?.status !== 403,
  onErrorRetry: (error, key, config, revalidate, { retryCount }) => {
    if (retryCount >= 3) return;
    setTimeout(() => revalidate({ retryCount }), retryDelay(retryCount, error));
  },
};

export function useApiSWR(url) {
  const apiFetch = useApiFetch();
  return useSWR(url, apiFetch);
}

// axios: the token per request; non-2xx already throw (error.response.status / .headers)
export function useApiAxios(baseURL) {
  const { getToken } = useAuth();
  return useMemo(() => {
    const api = axios.create({ baseURL, withCredentials: true });
    api.interceptors.request.use(async (config) => {
      const token = await getToken();
      if (token) config.headers.Authorization = `Bearer ${token}`;
      return config;
    });
    return api;
  }, [baseURL, getToken]);
}
