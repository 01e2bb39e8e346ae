// Talking to the gateway: the GraphQL endpoint is `/graphql` on the page's own origin,
// over HTTP for queries and mutations, over graphql-ws (graphql-transport-ws) for subscriptions.
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { getOperationAST, parse } from 'graphql';
import { createClient } from 'graphql-ws';

export const httpUrl = `${location.origin}/graphql`;
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;

/** Posts one GraphQL request to the gateway and returns the parsed response. */
export async function postGraphQL(body, headers = {}) {
  const response = await fetch(httpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return response.json();
}

/** The headers editor's `Authorization` value, whatever its case. */
function authorization(headers = {}) {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === 'authorization');
  return key ? headers[key] : undefined;
}

// One websocket client, rebuilt when the Authorization header changes: the server reads it
// from the `connection_init` payload, once per connection.
let ws = null;
let wsAuth;
function wsClient(auth) {
  if (ws && wsAuth === auth) return ws;
  ws?.dispose();
  wsAuth = auth;
  ws = createClient({ url: wsUrl, lazy: true, connectionParams: auth ? { Authorization: auth } : {} });
  return ws;
}

const http = createGraphiQLFetcher({ url: httpUrl });

/** Whether the request runs a subscription. Parses the text sent rather than trusting
 *  `opts.documentAST`, which GraphiQL updates a moment after the editor changes. */
function isSubscription({ query, operationName }) {
  try {
    return getOperationAST(parse(query), operationName)?.operation === 'subscription';
  } catch {
    return false; // Let the gateway report the syntax error.
  }
}

/** GraphiQL's fetcher: subscriptions over the websocket, everything else over HTTP. */
export function fetcher(params, opts) {
  if (!isSubscription(params)) return http(params, opts);
  return wsClient(authorization(opts?.headers)).iterate(params);
}
