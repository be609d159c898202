// @clerk/backend's verifyWebhook (and the standardwebhooks package it uses)
// as an oracle for tests/test_webhooks_differential.py: one JSON case per
// stdin line, one JSON verdict per stdout line, in order. Run from the
// directory `npm ci` of tests/differential_js installed (standardwebhooks is
// @clerk/backend's dependency, installed beside it).
//
// A case:
//   {"id", "now" (ms since the epoch: Date.now() while the case runs),
//    "op": "verify", "secret", "headers": [[name, value], ...],
//    "body": "<base64 of the exact body bytes>"}
//      -> verifyWebhook(new Request(url, {method: "POST", headers, body}), {signingSecret})
//   {"id", "op": "sign", "secret", "msgId", "timestamp" (seconds), "payload" (text)}
//      -> new Webhook(secret).sign(msgId, new Date(timestamp * 1000), payload)
// A verdict:
//   {"id", "ok": true, "event": {type, object, data, event_attributes}}    (verify)
//   {"id", "ok": true, "signature": "v1,…"}                                 (sign)
//   {"id", "ok": false, "error": "<message>"}                               (either threw)

import { createInterface } from 'node:readline';

import { verifyWebhook } from '@clerk/backend/webhooks';
import { Webhook } from 'standardwebhooks';

// stdout carries verdicts only: whatever the SDK prints goes to stderr.
console.log = console.info = console.warn = console.debug = console.error;

const realNow = Date.now;
let frozen = null;
Date.now = () => (frozen === null ? realNow() : frozen);

async function answer(input) {
  frozen = typeof input.now === 'number' ? input.now : null;
  try {
    if (input.op === 'sign') {
      const signature = new Webhook(input.secret).sign(input.msgId, new Date(input.timestamp * 1000), input.payload);
      return { ok: true, signature };
    }
    const headers = new Headers();
    for (const [name, value] of input.headers ?? []) {
      headers.append(name, value);
    }
    const body = Buffer.from(input.body ?? '', 'base64');
    const request = new Request('https://hooks.example.com/clerk', { method: 'POST', headers, body });
    const event = await verifyWebhook(request, { signingSecret: input.secret });
    return { ok: true, event: event ?? null };
  } catch (error) {
    return { ok: false, error: String(error?.message ?? error) };
  } finally {
    frozen = null;
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
    process.stdout.write(`${JSON.stringify({ id: null, ok: false, error: `bad case: ${error.message}` })}\n`);
    continue;
  }
  const verdict = await answer(input);
  process.stdout.write(`${JSON.stringify({ id: input.id ?? null, ...verdict })}\n`);
}
