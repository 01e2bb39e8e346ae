// Subscriptions through the gateway, driven by the `graphql-ws` library (a client nobody here
// wrote). Needs a running `mosaic dev`: MOSAIC_GATEWAY_URL=http://127.0.0.1:4000 npm test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const http = process.env.MOSAIC_GATEWAY_URL ?? 'http://127.0.0.1:4000';
const wsUrl = `${http.replace(/^http/, 'ws')}/graphql`;
const REVIEW_ADDED = `subscription { reviewAdded { body author { username name }
  product { name inStock shippingEstimate } } }`;

async function post(query, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(`${http}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query }) });
  return response.json();
}

async function login(username) {
  const body = await post(`mutation { login(username: "${username}", password: "mosaic-demo") { token } }`);
  return body.data.login.token;
}

function client(token) {
  return createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: token ? { Authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: false,
  });
}

/** Subscribes; resolves once the gateway has the upstream subscription open (first `next` or
 *  after `connected`), collecting events into `events`. */
function subscribe(c, query, events) {
  let done;
  const finished = new Promise((resolve, reject) => {
    done = c.subscribe({ query }, {
      next: (value) => events.push(value),
      error: reject,
      complete: resolve,
    });
  });
  return { finished, stop: done };
}

/** Waits (event-driven, bounded) until `check()` holds. */
async function until(check, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Adds reviews until one arrives: the gateway does not signal when the upstream subscription
 *  is open, so the first mutation may precede it. */
async function addReviewUntilSeen(token, body, events) {
  const deadline = Date.now() + 10_000;
  while (!events.some((e) => e.data?.reviewAdded?.body === body)) {
    assert.ok(Date.now() < deadline, `no event for "${body}"`);
    const answer = await post(`mutation { addReview(upc: "2", body: "${body}", rating: 5) { id } }`, token);
    assert.equal(answer.errors, undefined, JSON.stringify(answer));
    await until(() => events.some((e) => e.data?.reviewAdded?.body === body), body, 1_000).catch(() => {});
  }
}

test('each new review arrives enriched with fields from all four subgraphs', async () => {
  const token = await login('ada');
  const c = client(token);
  const events = [];
  const { stop } = subscribe(c, REVIEW_ADDED, events);
  await addReviewUntilSeen(token, 'Enriched through the gateway', events);
  const event = events.find((e) => e.data.reviewAdded.body === 'Enriched through the gateway');
  assert.deepEqual(event.errors, undefined);
  assert.deepEqual(event.data.reviewAdded.author, { username: 'ada', name: 'Ada Lovelace' });
  assert.equal(event.data.reviewAdded.product.name, 'Couch');
  assert.equal(typeof event.data.reviewAdded.product.inStock, 'boolean');
  assert.ok('shippingEstimate' in event.data.reviewAdded.product);
  stop();
  await c.dispose();
});

test('an invalid token closes the socket with 4403 and subscribes nothing', async () => {
  const c = client('not-a-valid-token');
  const events = [];
  const { finished } = subscribe(c, REVIEW_ADDED, events);
  const failure = await finished.then(() => null, (error) => error);
  assert.equal(failure?.code, 4403, `expected a 4403 close, got ${failure?.code ?? failure}`);
  assert.equal(events.length, 0);
  await c.dispose();
});

test('after the client completes, no more events arrive and the connection still serves', async () => {
  const token = await login('ada');
  const c = client(token);
  const first = [];
  const one = subscribe(c, REVIEW_ADDED, first);
  await addReviewUntilSeen(token, 'Before complete', first);
  one.stop();
  await one.finished;
  const seen = first.length;
  const second = [];
  const two = subscribe(c, REVIEW_ADDED, second);
  await addReviewUntilSeen(token, 'After complete', second);
  assert.equal(first.length, seen, 'the completed subscription got an event');
  two.stop();
  await c.dispose();
});
