import { describe, expect, it } from "vitest";
import { startTestRunlet } from "../helpers/runlet.js";

describe("logs", () => {
  it("follows new lines live as NDJSON, after the stored tail", async () => {
    const runlet = await startTestRunlet();
    await runlet.deploy("chatty", {
      "index.js": `export default async (event) => { console.log("said " + event.query.word); return "ok"; }`,
    });
    await (await fetch(`${runlet.url}/function/chatty?word=before`)).text();
    const controller = new AbortController();
    const response = await runlet.api("/api/v1/functions/chatty/logs?follow=true&tail=1", {
      signal: controller.signal,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let received = "";
    const readUntil = async (text: string): Promise<void> => {
      while (!received.includes(text)) {
        const chunk = await reader.read();
        if (chunk.done) {
          throw new Error(`stream ended before ${text}; got ${received}`);
        }
        received += decoder.decode(chunk.value);
      }
    };
    await readUntil("said before");
    await (await fetch(`${runlet.url}/function/chatty?word=after`)).text();
    await readUntil("said after");
    controller.abort();
    const lines = received
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { text: string; stream: string });
    expect(lines.map((l) => l.text)).toEqual(["said before", "said after"]);
    expect(lines[0]?.stream).toBe("stdout");
  });

  it("tags each line with the call that printed it, also when calls overlap", async () => {
    const runlet = await startTestRunlet();
    await runlet.deploy("tagged", {
      "index.js": `export default async (event, context) => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        console.log("from " + context.callId);
        await new Promise((resolve) => setTimeout(resolve, 5));
        console.error("again " + context.callId);
        return "ok";
      }`,
    });
    // One call alone first, then eight at once.
    await (await fetch(`${runlet.url}/function/tagged`)).text();
    await Promise.all(
      Array.from({ length: 8 }, async () => (await fetch(`${runlet.url}/function/tagged`)).text()),
    );
    let lines: { text: string; callId?: string }[] = [];
    for (let i = 0; i < 50 && lines.length < 18; i++) {
      runlet.platform.logs.flush();
      lines = runlet.platform.logs.query({ functionName: "tagged" });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(lines).toHaveLength(18);
    for (const line of lines) {
      expect(line.callId).toBeDefined();
      expect(line.text.endsWith(` ${line.callId}`)).toBe(true);
    }
  });

  it("keeps a bounded number of lines per function", async () => {
    const runlet = await startTestRunlet();
    const { logs } = runlet.platform;
    for (let i = 0; i < 10_050; i += 1) {
      logs.append({
        functionName: "ring",
        instance: "i",
        callId: undefined,
        stream: "stdout",
        time: i,
        text: `line ${i}`,
      });
    }
    logs.flush();
    const stored = logs.query({ functionName: "ring" });
    expect(stored).toHaveLength(10_000);
    expect(stored[0]?.text).toBe("line 50");
    expect(logs.query({ functionName: "ring", tail: 2 }).map((l) => l.text)).toEqual([
      "line 10048",
      "line 10049",
    ]);
  });
});
