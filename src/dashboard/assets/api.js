// The dashboard's only way to the server: GraphQL requests to this origin with the read key,
// and subscriptions over a websocket speaking graphql-transport-ws (connection_init with the
// key → connection_ack → subscribe → next/error/complete, answering ping with pong).

/** An error the API answered with, carrying its `extensions.code`. */
export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

/** Codes that mean the key is not usable: the page asks for another. */
export const KEY_REFUSED = ["UNAUTHENTICATED", "FORBIDDEN"];

/** How long the websocket may take to accept the key before polling takes over. */
const ACK_TIMEOUT_MS = 5000;

/**
 * A client of the API at `config.endpoint` (and `config.subscriptions`) with `key`;
 * `onKeyRefused(message)` is told once when the server refuses the key.
 */
export function createApi(config, key, onKeyRefused) {
  let refused = false;
  const authorization = `Bearer ${key}`;

  async function query(text, variables = {}) {
    const response = await fetch(config.endpoint, {
      method: "POST",
      mode: "same-origin",
      credentials: "omit",
      headers: { "Content-Type": "application/json", Authorization: authorization },
      body: JSON.stringify({ query: text, variables }),
    });
    const body = await response.json().catch(() => null);
    if (!body) throw new ApiError(`the server answered HTTP ${response.status}`, "INTERNAL");
    if (body.errors?.length) throw apiError(body.errors);
    return body.data;
  }

  function apiError(errors) {
    const code = errors[0].extensions?.code;
    const error = new ApiError(errors.map((e) => e.message).join("; "), code);
    if (KEY_REFUSED.includes(code) && !refused) {
      refused = true;
      onKeyRefused(error.message);
    }
    return error;
  }

  /** Resolves to a subscription client once the server accepted the key, or rejects. */
  function subscriptions() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const url = `${scheme}//${location.host}${config.subscriptions}`;
    return openSocket(url, { Authorization: authorization }, apiError);
  }

  return { query, subscriptions };
}

function openSocket(url, initPayload, apiError) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, "graphql-transport-ws");
    const sinks = new Map();
    let acknowledged = false;
    let nextId = 1;
    const send = (message) => socket.send(JSON.stringify(message));
    const timer = setTimeout(() => socket.close(4408, "no connection_ack"), ACK_TIMEOUT_MS);
    const client = {
      /** Subscribes; `sink` gets `next(data)` and `error(error)`. Returns an unsubscribe. */
      subscribe(queryText, variables, sink) {
        const id = String(nextId++);
        sinks.set(id, sink);
        send({ id, type: "subscribe", payload: { query: queryText, variables } });
        return () => {
          if (sinks.delete(id) && socket.readyState === WebSocket.OPEN) send({ id, type: "complete" });
        };
      },
      close: () => socket.close(1000),
      /** Called when an accepted connection closes. */
      onclose: null,
    };
    socket.onopen = () => send({ type: "connection_init", payload: initPayload });
    socket.onmessage = (message) => {
      let msg;
      try {
        msg = JSON.parse(message.data);
      } catch {
        return;
      }
      const sink = sinks.get(msg.id);
      if (msg.type === "connection_ack") {
        acknowledged = true;
        clearTimeout(timer);
        resolve(client);
      } else if (msg.type === "ping") {
        send({ type: "pong" });
      } else if (msg.type === "next" && sink) {
        if (msg.payload.errors?.length) sink.error(apiError(msg.payload.errors));
        else sink.next(msg.payload.data);
      } else if (msg.type === "error" && sink) {
        sinks.delete(msg.id);
        sink.error(apiError(msg.payload));
      } else if (msg.type === "complete") {
        sinks.delete(msg.id);
      }
    };
    socket.onclose = (event) => {
      clearTimeout(timer);
      if (!acknowledged) {
        reject(new Error(`the websocket closed before accepting the key (${event.code} ${event.reason})`));
      } else {
        client.onclose?.(event);
      }
    };
  });
}
