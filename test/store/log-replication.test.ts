/**
 * Log lines shared by gateway replicas through a real nats-server's JetStream: a line one
 * replica stores is seen by the other (and by its followers), a replica started later gets the
 * history, and a replica restarted on its old data holds each line once.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openDatabase } from "../../src/store/database.js";
import { LogReplication } from "../../src/store/log-replication.js";
import { LogStore, type StoredLogLine } from "../../src/store/log-store.js";
import { startTestNats } from "../helpers/nats.js";
import { eventually, tempDir } from "../helpers/runlet.js";

async function replica(
  url: string,
  dir: string,
  limits: { maxLinesPerFunction?: number; maxBytes?: number; maxLineLength?: number } = {},
) {
  const db = openDatabase(join(dir, "runlet.db"));
  const logs = new LogStore(db, { flushIntervalMs: 5, ...limits });
  const replication = await LogReplication.start({
    servers: [url],
    logs,
    ...(limits.maxBytes === undefined ? {} : { maxBytes: limits.maxBytes }),
  });
  return {
    logs,
    texts: (fn: string) => logs.query({ functionName: fn }).map((line) => line.text),
    close: async () => {
      await replication.close();
      logs.close();
      db.close();
    },
  };
}

function line(fn: string, text: string) {
  return {
    functionName: fn,
    instance: "i-1",
    callId: "c-1",
    stream: "stdout" as const,
    time: Date.now(),
    text,
  };
}

describe("log replication", () => {
  it("shares lines between replicas, gives a late replica the history, and holds a line once after a restart", async () => {
    const nats = await startTestNats();
    const [dirA, dirB, dirC] = [await tempDir(), await tempDir(), await tempDir()];
    const a = await replica(nats.url, dirA);
    const b = await replica(nats.url, dirB);
    const followed: StoredLogLine[] = [];
    const stop = b.logs.subscribe("hello", (l) => followed.push(l));
    a.logs.append(line("hello", "from a"));
    b.logs.append(line("hello", "from b"));
    await eventually(
      async () =>
        a.texts("hello").length === 2 && b.texts("hello").length === 2 ? true : undefined,
      { what: "both lines on both replicas" },
    );
    expect(a.texts("hello").sort()).toEqual(["from a", "from b"]);
    expect(b.texts("hello").sort()).toEqual(["from a", "from b"]);
    expect(followed.map((l) => l.text).sort()).toEqual(["from a", "from b"]);
    expect(b.logs.query({ functionName: "hello" }).find((l) => l.text === "from a")).toMatchObject({
      instance: "i-1",
      callId: "c-1",
      stream: "stdout",
    });
    stop();

    const late = await replica(nats.url, dirC);
    await eventually(async () => (late.texts("hello").length === 2 ? true : undefined), {
      what: "the history on a replica started later",
    });

    // A restart on the same data directory replays the stream instead of doubling it.
    await a.close();
    const again = await replica(nats.url, dirA);
    await eventually(async () => (again.texts("hello").length === 2 ? true : undefined), {
      what: "the replayed lines",
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(again.texts("hello").sort()).toEqual(["from a", "from b"]);
    await Promise.all([again.close(), b.close(), late.close()]);
  });

  it("keeps a quiet function's lines in the shared stream however much another function prints", async () => {
    const nats = await startTestNats();
    // A stream of 256 KiB, 100 lines per function, lines cut at 1 KiB.
    const limits = { maxLinesPerFunction: 100, maxBytes: 256 * 1024, maxLineLength: 1024 };
    const a = await replica(nats.url, await tempDir(), limits);
    for (let i = 0; i < 5; i += 1) {
      a.logs.append(line("quiet", `quiet ${i}`));
    }
    // The chatty function prints far more than the whole stream holds, in lines far too long.
    const long = "x".repeat(64 * 1024);
    for (let i = 0; i < 3000; i += 1) {
      a.logs.append(line("chatty", `chatty ${i} ${long}`));
    }
    a.logs.flush();
    const nc = await nats.connect();
    const jsm = await nc.jetstreamManager();
    await eventually(
      async () =>
        (await jsm.streams.info("RUNLET_LOGS")).state.messages <= 105 ? true : undefined,
      { what: "the stream to hold at most 100 chatty lines and the 5 quiet ones" },
    );
    // A replica that starts now replays the stream: the quiet function's lines are all there.
    const late = await replica(nats.url, await tempDir(), limits);
    await eventually(async () => (late.texts("chatty").length === 100 ? true : undefined), {
      what: "the chatty function's newest 100 lines on the late replica",
    });
    expect(late.texts("quiet")).toEqual(["quiet 0", "quiet 1", "quiet 2", "quiet 3", "quiet 4"]);
    expect(late.texts("chatty").at(-1)).toMatch(/^chatty 2999 x+… \[cut\]$/);
    expect(late.texts("chatty").every((text) => text.length < 1100)).toBe(true);
    await late.close();
    await a.close();
  });
});
