/**
 * Rollback and scale over the API (issue 20), and the logs as server-sent events, against a
 * real Runlet with real instances.
 */
import { describe, expect, it } from "vitest";
import { eventually, startTestRunlet } from "../helpers/runlet.js";

const version = (n: number) => ({ "index.js": `export default async () => "v${n}";` });

describe("rollback and scale", () => {
  it("rolls back to the previous revision, or to any, and the calls follow", async () => {
    const runlet = await startTestRunlet();
    for (const n of [1, 2, 3]) {
      expect((await runlet.deploy("hello", version(n))).status).toBeLessThan(300);
    }
    const call = async () => (await fetch(`${runlet.url}/function/hello`)).text();
    expect(await call()).toBe("v3");

    const back = await runlet.api("/api/v1/functions/hello/rollback", { method: "POST" });
    expect(back.status).toBe(200);
    expect(await back.json()).toEqual({
      name: "hello",
      namespace: "openfaas-fn",
      revision: 2,
      outcome: "updated",
    });
    expect(await call()).toBe("v2");
    const fn = (await (await runlet.api("/api/v1/functions/hello")).json()) as { revision: number };
    expect(fn.revision).toBe(2);

    const to = await runlet.api("/api/v1/functions/hello/rollback", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ revision: 3 }),
    });
    expect(await to.json()).toMatchObject({ revision: 3, outcome: "updated" });
    expect(await call()).toBe("v3");

    const missing = await runlet.api("/api/v1/functions/hello/rollback", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ revision: 9 }),
    });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toContain(
      "has no revision 9; it has 1, 2, 3",
    );
    await runlet.api("/api/v1/functions/hello/rollback", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ revision: 1 }),
    });
    const none = await runlet.api("/api/v1/functions/hello/rollback", { method: "POST" });
    expect(none.status).toBe(409);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe(
      "RUNLET_INVALID_REQUEST",
    );
    expect(
      (await fetch(`${runlet.url}/api/v1/functions/hello/rollback`, { method: "POST" })).status,
    ).toBe(401);
  });

  it("sets min and max as a new revision of the same package, and min instances start", async () => {
    const runlet = await startTestRunlet();
    await runlet.deploy("hello", version(1));
    const scaled = await runlet.api("/api/v1/functions/hello/scale", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ min: 1, max: 3 }),
    });
    expect(scaled.status).toBe(200);
    expect(await scaled.json()).toEqual({
      name: "hello",
      namespace: "openfaas-fn",
      revision: 2,
      outcome: "updated",
    });
    const fn = (await (await runlet.api("/api/v1/functions/hello")).json()) as {
      config: { scale: { min: number; max: number } };
      package: string;
    };
    expect(fn.config.scale).toMatchObject({ min: 1, max: 3 });
    await eventually(
      async () => {
        const view = (await (await runlet.api("/api/v1/functions/hello")).json()) as {
          availableReplicas: number;
        };
        return view.availableReplicas >= 1 || undefined;
      },
      { what: "the min instance" },
    );
    const revisions = (await (await runlet.api("/api/v1/functions/hello/revisions")).json()) as {
      package: string;
    }[];
    expect(revisions[1]?.package).toBe(revisions[0]?.package);
    const same = await runlet.api("/api/v1/functions/hello/scale", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ min: 1, max: 3 }),
    });
    expect(await same.json()).toMatchObject({ revision: 2, outcome: "unchanged" });
    const inverted = await runlet.api("/api/v1/functions/hello/scale", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ min: 5, max: 2 }),
    });
    expect(inverted.status).toBe(400);
    const empty = await runlet.api("/api/v1/functions/hello/scale", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(empty.status).toBe(400);
  });
});

describe("logs as server-sent events", () => {
  it("sends the stored tail, then live lines, filtered by call id, each line as JSON", async () => {
    const runlet = await startTestRunlet();
    await runlet.deploy("talk", {
      "index.js":
        'export default async (event, context) => { console.log("said " + event.query.w + "\\ndata: forged"); return context.callId; };',
    });
    const first = await (await fetch(`${runlet.url}/function/talk?w=one`)).text();
    const controller = new AbortController();
    const stream = await runlet.api(`/api/v1/functions/talk/logs/events?callId=`, {
      signal: controller.signal,
    });
    expect(stream.status).toBe(400);
    const events = await runlet.api("/api/v1/functions/talk/logs/events", {
      signal: controller.signal,
    });
    expect(events.headers.get("content-type")).toContain("text/event-stream");
    const reader = events.body?.getReader();
    let text = "";
    const readUntil = async (needle: string): Promise<void> => {
      const decoder = new TextDecoder();
      while (!text.includes(needle)) {
        const chunk = await reader?.read();
        if (!chunk || chunk.done) {
          throw new Error(`stream ended before ${needle}: ${text}`);
        }
        text += decoder.decode(chunk.value, { stream: true });
      }
    };
    await eventually(async () => {
      await readUntil("event: live");
      return true;
    });
    const second = await (await fetch(`${runlet.url}/function/talk?w=two`)).text();
    await readUntil("said two");
    controller.abort();
    // A line's own newline and "data:" text stay inside its JSON: every event is one
    // `event:` line and one `data:` line.
    const blocks = text.split("\n\n").filter((block) => block.trim() !== "");
    for (const block of blocks) {
      expect(block.split("\n").map((line) => line.split(":")[0])).toEqual(["event", "data"]);
    }
    const lines = blocks
      .filter((block) => block.startsWith("event: log\n"))
      .map(
        (block) =>
          JSON.parse(block.slice("event: log\ndata: ".length)) as { callId: string; text: string },
      );
    expect(lines.map((line) => line.text).join("|")).toContain("said one");
    expect(lines.map((line) => line.text).join("|")).toContain("data: forged");
    expect(lines.some((line) => line.callId === first)).toBe(true);
    expect(lines.some((line) => line.callId === second)).toBe(true);

    const filtered = await runlet.api(`/api/v1/functions/talk/logs/events?callId=${second}`);
    const filteredReader = filtered.body?.getReader();
    let filteredText = "";
    while (!filteredText.includes("event: live")) {
      const chunk = await filteredReader?.read();
      if (!chunk || chunk.done) {
        break;
      }
      filteredText += new TextDecoder().decode(chunk.value);
    }
    await filteredReader?.cancel();
    expect(filteredText).toContain("said two");
    expect(filteredText).not.toContain("said one");
    expect((await fetch(`${runlet.url}/api/v1/functions/talk/logs/events`)).status).toBe(401);
  });
});
