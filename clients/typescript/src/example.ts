// A typed client of The Eye in a few lines: record a batch, then page through the session's
// events. The operation texts are the files in ../../operations; their types are generated
// from them and the schema by `npm run codegen` (src/generated/operations.ts).
//
// Run it against a server with `npm run example` and the environment variables
// EYE_URL (default http://127.0.0.1:8000), EYE_INGEST_KEY and EYE_READ_KEY (an admin key can
// be both).

import { readFileSync } from "node:fs";
import type {
  EventInput,
  EventsPageQuery,
  EventsPageQueryVariables,
  RecordEventsMutation,
  RecordEventsMutationVariables,
} from "./generated/operations.js";

/** Each operation used here: its variables and the `data` of its answer. */
interface Operations {
  RecordEvents: { variables: RecordEventsMutationVariables; data: RecordEventsMutation };
  EventsPage: { variables: EventsPageQueryVariables; data: EventsPageQuery };
}

/** One entry of a GraphQL answer's `errors`. */
interface GraphQLError {
  message: string;
  extensions?: { code?: string };
}

const operationsDir = new URL("../../operations/", import.meta.url);

/** Sends the named operation with `key`; resolves to `data`, rejects on any error. */
async function request<N extends keyof Operations>(
  url: string,
  key: string,
  name: N,
  variables: Operations[N]["variables"],
): Promise<Operations[N]["data"]> {
  const query = readFileSync(new URL(`${name}.graphql`, operationsDir), "utf8");
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const answer = (await response.json()) as {
    data?: Operations[N]["data"] | null;
    errors?: GraphQLError[];
  };
  const first = answer.errors?.[0];
  if (first !== undefined) {
    throw new Error(`${name}: ${first.extensions?.code ?? "ERROR"}: ${first.message}`);
  }
  if (answer.data == null) {
    throw new Error(`${name}: HTTP ${response.status} without data`);
  }
  return answer.data;
}

/** Records `events` in one batch; throws when any event was rejected. */
async function recordBatch(url: string, key: string, events: EventInput[]): Promise<void> {
  const { recordEvents } = await request(url, key, "RecordEvents", { events });
  const rejected = recordEvents.results.filter((result) => result.status === "REJECTED");
  for (const result of rejected) {
    const reasons = result.errors.map((e) => `${e.code} at ${e.path ?? "-"}: ${e.message}`);
    console.error(`event ${result.index} rejected: ${reasons.join("; ")}`);
  }
  console.log(
    `accepted ${recordEvents.accepted}, duplicates ${recordEvents.duplicates}, rejected ${recordEvents.rejected}`,
  );
  if (rejected.length > 0) {
    throw new Error(`${rejected.length} event(s) rejected`);
  }
}

/** Yields every event of `sessionId`, oldest first, `pageSize` at a time. */
async function* eventsOf(
  url: string,
  key: string,
  sessionId: string,
  pageSize: number,
): AsyncGenerator<EventsPageQuery["events"]["edges"][number]["node"]> {
  let after: string | null = null;
  for (;;) {
    const page: EventsPageQuery = await request(url, key, "EventsPage", {
      filter: { sessionId },
      first: pageSize,
      after,
      order: "TIMESTAMP_ASC",
    });
    for (const edge of page.events.edges) {
      yield edge.node;
    }
    if (!page.events.pageInfo.hasNextPage) {
      return;
    }
    after = page.events.pageInfo.endCursor;
  }
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") {
    throw new Error(`set ${name}`);
  }
  return value;
}

async function main(): Promise<void> {
  const url = process.env.EYE_URL ?? "http://127.0.0.1:8000";
  const ingestKey = requiredEnv("EYE_INGEST_KEY");
  const readKey = requiredEnv("EYE_READ_KEY");
  const sessionId = process.env.EYE_SESSION_ID ?? crypto.randomUUID();

  const events: EventInput[] = ["/", "/pricing", "/signup"].map((path, i) => ({
    id: `${sessionId}-${i}`,
    sessionId,
    category: "page interaction",
    name: "pageview",
    data: { host: "www.example.com", path },
    timestamp: new Date(Date.UTC(2021, 0, 1, 9, 15, i)).toISOString(),
  }));
  await recordBatch(url, ingestKey, events);

  for await (const event of eventsOf(url, readKey, sessionId, 2)) {
    console.log(`${event.timestamp} ${event.category}/${event.name} ${JSON.stringify(event.data)}`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
