// Stream ids on both ends of the invocation channel: the gateway's table of calls in flight
// (src/provider/stream-table.ts) and the runtime's map of calls by id (frame-server.mjs).
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FrameDecoder, FrameType, encodeFrame } from "../../src/provider/frames.js";
import { StreamTable, maxStreams } from "../../src/provider/stream-table.js";

interface Entry {
  readonly id: number;
}

function take(table: StreamTable<Entry>): Entry {
  const id = table.nextId();
  if (id === undefined) {
    throw new Error("table full");
  }
  const entry = { id };
  table.add(entry);
  return entry;
}

describe("stream table (gateway)", () => {
  it("gives concurrent calls distinct non-zero ids and finds each by its id", () => {
    const table = new StreamTable<Entry>();
    const entries = Array.from({ length: 100 }, () => take(table));
    expect(new Set(entries.map((entry) => entry.id)).size).toBe(100);
    expect(entries.every((entry) => entry.id > 0 && entry.id <= 0xffff_ffff)).toBe(true);
    expect(table.size).toBe(100);
    for (const entry of entries) {
      expect(table.get(entry.id)).toBe(entry);
    }
    expect(table.values()).toHaveLength(100);
  });

  it("does not take a late frame of a finished call for the call now in its slot", () => {
    const table = new StreamTable<Entry>();
    const first = take(table);
    expect(table.delete(first.id)).toBe(true);
    const second = take(table);
    expect(second.id % maxStreams).toBe(first.id % maxStreams);
    expect(second.id).not.toBe(first.id);
    expect(table.get(first.id)).toBeUndefined();
    expect(table.delete(first.id)).toBe(false);
    expect(table.get(second.id)).toBe(second);
    expect(table.size).toBe(1);
  });

  it("keeps ids distinct across many uses of one slot, wrapping within 32 bits", () => {
    const table = new StreamTable<Entry>();
    const seen = new Set<number>();
    for (let use = 0; use < 0xffff; use += 1) {
      const entry = take(table);
      seen.add(entry.id);
      table.delete(entry.id);
    }
    expect(seen.size).toBe(0xffff);
    const wrapped = take(table);
    expect(wrapped.id).toBeGreaterThan(0);
    expect(wrapped.id).toBeLessThanOrEqual(0xffff_ffff);
  });

  it("says when every slot is in use", () => {
    const table = new StreamTable<Entry>();
    for (let index = 0; index < maxStreams; index += 1) {
      take(table);
    }
    expect(table.nextId()).toBeUndefined();
    const [someEntry] = table.values();
    table.delete(someEntry?.id ?? 0);
    expect(table.nextId()).toBeDefined();
  });
});

describe("stream map (runtime)", () => {
  let server: Server | undefined;
  let dir: string | undefined;

  afterEach(() => {
    server?.close();
    if (dir) {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("serves calls whose ids share their low 16 bits, and cancels only the one asked", async () => {
    const { createFrameServer } = (await import(
      new URL("../../runtimes/shared/frame-server.mjs", import.meta.url).href
    )) as {
      createFrameServer: (
        serve: (
          call: { url: string },
          res: {
            writeHead(status: number, headers: Record<string, string>): void;
            end(body: string): void;
            on(event: "close", listener: () => void): void;
          },
        ) => void,
      ) => Server;
    };
    const cancelled: string[] = [];
    server = createFrameServer((call, res) => {
      if (call.url === "/hang") {
        res.on("close", () => cancelled.push(call.url));
        return;
      }
      // Answered a turn later, so all the calls are in flight together.
      setImmediate(() => {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end(`answer to ${call.url}`);
      });
    });
    dir = mkdtempSync(join(tmpdir(), "runlet-streams-"));
    const path = join(dir, "frames.sock");
    server.listen(path);
    await once(server, "listening");
    const socket = connect(path);
    await once(socket, "connect");
    const answers = new Map<number, string>();
    const done = new Promise<void>((resolve) => {
      const decoder = new FrameDecoder((type, id, payload) => {
        if (type === FrameType.ResponseBody) {
          answers.set(id, payload.toString("utf8"));
        }
        if (answers.size === 3) {
          resolve();
        }
      });
      socket.on("data", (chunk: Buffer) => decoder.push(chunk));
    });
    const [a, b, hang, c] = [5, 5 + 0x1_0000, 5 + 0x2_0000, 5 + 0x3_0000];
    const ids = [a, b, hang, c];
    const paths = ["/a", "/b", "/hang", "/c"];
    socket.write(
      Buffer.concat(
        ids.flatMap((id, index) => [
          encodeFrame(
            FrameType.RequestHead,
            id,
            JSON.stringify({ method: "GET", path: paths[index], headers: {} }),
          ),
          encodeFrame(FrameType.RequestEnd, id),
        ]),
      ),
    );
    socket.write(encodeFrame(FrameType.Cancel, hang, "caller went away"));
    await done;
    expect(Object.fromEntries(answers)).toEqual({
      [a]: "answer to /a",
      [b]: "answer to /b",
      [c]: "answer to /c",
    });
    expect(cancelled).toEqual(["/hang"]);
    socket.destroy();
  });
});
