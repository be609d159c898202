// Bodies, paths and browser APIs (tests/test_browser_bodies_and_paths.py): each
// an async function of the case `c` the test passes to window.BODIES[name](c),
// resolving to what the page could observe. Raw browser APIs only (fetch with
// Uint8Array / ArrayBuffer / Blob / FormData / URLSearchParams bodies, Headers
// instances and Request objects, sendBeacon, keepalive, forms, EventSource,
// <img>), and the same uploads and downloads through axios, ky and ofetch
// (real npm packages); Clerk's hooks are the stub.
import axios from "axios";
import ky from "ky";
import { ofetch } from "ofetch";
import { useAuth } from "@clerk/clerk-react";
import { addFields } from "./forms.jsx";
import { enter, setCookie } from "./page_state.jsx";

const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
const sha256 = async (buffer) => hex(await crypto.subtle.digest("SHA-256", buffer));

/** Every byte value, then a pattern: not UTF-8 (so the gateway must base64 it). */
function bytes(n) {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 1) out[i] = i < 256 ? i : (i * 31 + 7) & 255;
  return out;
}



/** The body c.bodyKind asks for, and its exact bytes when the page can know them. */
async function makeBody(c) {
  const n = c.size ?? 1024;
  switch (c.bodyKind) {
    case "uint8array": return bytes(n);
    case "arraybuffer": return bytes(n).buffer;
    case "dataview": return new DataView(bytes(n).buffer);
    case "blob": return new Blob([bytes(n)], c.blobType ? { type: c.blobType } : {});
    case "text": return c.text;
    case "json": return JSON.stringify(c.json);
    case "urlencoded": return new URLSearchParams(c.fields);
    case "formdata": {
      const form = new FormData();
      for (const [name, value] of c.fields || []) form.append(name, value);
      form.append("file", new Blob([bytes(n)], { type: "image/png" }), c.fileName || "pixel.png");
      return form;
    }
    default: return undefined;
  }
}

async function bearer(c) {
  if (!c.bearer) return null;
  const token = await useAuth().getToken();
  return token ? `${c.scheme ?? "Bearer"} ${token}` : null;
}

/** What a page can read of an answer: JSON (or the bytes' SHA-256 and length). */
async function seen(res, c) {
  const out = { status: res.status, reason: res.headers.get("x-clerk-auth-reason") || "", type: res.type,
                redirected: res.redirected, finalUrl: res.url, contentType: res.headers.get("content-type") };
  if (c.read === "bytes") {
    const buffer = await res.arrayBuffer();
    return { ...out, length: buffer.byteLength, sha256: await sha256(buffer) };
  }
  if (c.read === "image") {
    const blob = await res.blob();
    const img = new Image();
    const url = URL.createObjectURL(blob);
    const decoded = await new Promise((resolve) => { img.onload = () => resolve(true); img.onerror = () => resolve(false); img.src = url; });
    return { ...out, blobType: blob.type, decoded, width: img.naturalWidth };
  }
  const text = await res.text().catch(() => "");
  out.length = text.length;
  try { out.body = JSON.parse(text); } catch (e) { out.text = text.slice(0, 300); }
  return out;
}

/** fetch(c.url) with the body c.bodyKind, headers as an object, a Headers
 * instance (c.headersKind "headers") or on a Request (c.headersKind "request");
 * `sent` is the SHA-256 and length of the bytes the page sent (a Request's
 * encoded body, FormData's with its boundary). */
async function send(c) {
  const auth = await bearer(c);
  const plain = { ...(c.headers || {}) };
  if (auth) plain.Authorization = auth;
  const headers = c.headersKind === "headers" ? new Headers(plain) : plain;
  const init = { method: c.method || "GET", headers };
  for (const key of ["credentials", "keepalive", "redirect", "mode"]) if (c[key] !== undefined) init[key] = c[key];
  const body = await makeBody(c);
  if (body !== undefined) init.body = body;
  if (c.timeoutMs) init.signal = AbortSignal.timeout(c.timeoutMs);
  // The bytes on the wire: a Request encodes the body once (FormData's boundary included).
  const request = new Request(c.url, init);
  let sent = null;
  if (body !== undefined) {
    const buffer = await request.clone().arrayBuffer();
    sent = { length: buffer.byteLength, sha256: await sha256(buffer), contentType: request.headers.get("content-type") };
  }
  try {
    const res = await (c.headersKind === "request" || body !== undefined ? fetch(request) : fetch(c.url, init));
    return { ...(await seen(res, c)), sent };
  } catch (e) {
    return { status: "blocked", error: e.name, message: String(e.message || e), sent };
  }
}

/** navigator.sendBeacon with the body c.bodyKind: whether it was queued, and the bytes sent. */
async function beacon(c) {
  const body = await makeBody(c);
  let sent = null;
  if (body !== undefined) {
    const buffer = await new Request("/", { method: "POST", body }).arrayBuffer();
    sent = { length: buffer.byteLength, sha256: await sha256(buffer) };
  }
  try {
    return { queued: navigator.sendBeacon(c.url, body), sent };
  } catch (e) {
    return { queued: "threw", error: e.name, message: String(e.message || e), sent };
  }
}

/** <img src> on the API (a no-cors load, the cookie goes along same-site). */
function image(c) {
  return new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve({ result: "load", width: img.naturalWidth });
    img.onerror = () => resolve({ result: "error", width: 0 });
    img.src = c.url;
  });
}

/** EventSource({ withCredentials }) until its first message or error. */
function eventSource(c) {
  return new Promise((resolve) => {
    const source = new EventSource(c.url, { withCredentials: c.withCredentials ?? true });
    const messages = [];
    const finish = (result) => { source.close(); resolve({ result, messages }); };
    source.onmessage = (event) => { messages.push(event.data); finish("message"); };
    source.onerror = () => finish("error");
    setTimeout(() => finish("timeout"), 5000);
  });
}

/** A plain <form method=post> submitted as a top-level navigation of a new
 * window (what a "Save" button without JavaScript does): what it shows when
 * this page may read it. */
async function formNavigate(c) {
  const name = `win${Math.random().toString(36).slice(2)}`;
  const win = window.open("about:blank", name);
  const form = document.createElement("form");
  form.method = c.method || "POST";
  form.action = c.url;
  if (c.enctype) form.enctype = c.enctype;
  form.target = name;
  addFields(form, c.fields);
  document.body.appendChild(form);
  form.submit();
  const deadline = performance.now() + (c.waitMs ?? 3000);
  let read = { readable: false };
  while (performance.now() < deadline) {
    try {
      if (win.location.href !== "about:blank" && win.document.readyState === "complete") {
        read = { readable: true, text: win.document.body.innerText.slice(0, 2000) };
        break;
      }
    } catch (e) {
      read = { readable: false, error: e.name };
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  win.close();
  form.remove();
  return read;
}

/** c.body through c.lib (axios, ky, ofetch) with the token from getToken(),
 * as each library's docs write it; c.read "bytes" reads an ArrayBuffer
 * (axios responseType "arraybuffer", ky .arrayBuffer(), ofetch
 * responseType "arrayBuffer"). */
async function library(c) {
  const token = await useAuth().getToken();
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const body = await makeBody(c);
  const method = c.method || (body === undefined ? "GET" : "POST");
  const sent = body === undefined || body instanceof FormData ? null
    : await sha256(await new Request("/", { method: "POST", body }).arrayBuffer());
  const described = async (data) => (c.read === "bytes" ? { length: data.byteLength, sha256: await sha256(data) } : data);
  try {
    if (c.lib === "axios") {
      const res = await axios.request({ url: c.url, method, data: body, headers,
                                        responseType: c.read === "bytes" ? "arraybuffer" : "json" });
      return { status: res.status, data: await described(res.data), contentType: res.headers["content-type"], sent };
    }
    if (c.lib === "ky") {
      const res = await ky(c.url, { method, body, headers, retry: 0 });
      return { status: res.status, data: await described(c.read === "bytes" ? await res.arrayBuffer() : await res.json()),
               contentType: res.headers.get("content-type"), sent };
    }
    const data = await ofetch(c.url, { method, body, headers, retry: 0,
                                       responseType: c.read === "bytes" ? "arrayBuffer" : "json" });
    return { status: 200, data: await described(data), sent };
  } catch (e) {
    const status = e?.response?.status ?? "blocked";
    return { status, error: e?.name, message: String(e?.message || e), sent };
  }
}

window.BODIES = { enter, send, beacon, image, eventSource, formNavigate, library };
window.__ready = true;
