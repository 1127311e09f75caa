/**
 * Every runtime server over TCP, the way a pod runs it (docs/runtime-protocol.md,
 * "Transports"): HTTP on RUNLET_HTTP_ADDRESS, frames on RUNLET_FRAME_ADDRESS, no control pipe,
 * ready once /healthz answers 200, and the call-tagged log lines on GET /v2/logs: kept (the
 * last 1000, with how many were dropped) until the one reader comes, then live.
 */
import { describe, expect, it, onTestFinished } from "vitest";
import { FrameChannel } from "../../src/provider/frame-channel.js";
import { writeSource } from "../helpers/runlet.js";
import {
  openLogs,
  runtimeNames,
  startRuntimeProcess,
  type RuntimeName,
} from "./runtime-process.js";
import { text } from "../provider/frame-calls.js";

/**
 * A function that writes `n` lines (the query's n, else 1) to its logs in the call, and answers
 * "answer to CALL-ID". The node and python ones also write a line while loading, in no call.
 */
const loggingFunctions: Record<
  RuntimeName,
  { files: Record<string, string>; spec: object; stream: "stdout" | "stderr" }
> = {
  node: {
    files: {
      "index.mjs": `
console.log("loaded, in no call");
export default async function (event, context) {
  const n = Number(event.query.n ?? 1);
  for (let i = 0; i < n; i += 1) {
    console.log(\`line \${i} of \${context.callId}\`);
  }
  return \`answer to \${context.callId}\`;
}
`,
    },
    spec: { handler: "index.mjs" },
    stream: "stdout",
  },
  exec: {
    files: { README: "" },
    spec: {
      handler: "",
      mode: "stdio",
      command: [
        'n="${Http_Query#n=}"; [ -n "$n" ] || n=1; i=0',
        'while [ "$i" -lt "$n" ]; do echo "line $i of $Http_X_Call_Id" >&2; i=$((i + 1)); done',
        'printf "answer to %s" "$Http_X_Call_Id"',
      ].join("\n"),
    },
    stream: "stderr",
  },
  python: {
    files: {
      "handler.py": `
print("loaded, in no call")

def handle(event, context):
    for i in range(int(event.query.get("n", "1"))):
        print("line %d of %s" % (i, context.call_id))
    return "answer to " + context.call_id
`,
    },
    spec: { handler: "handler.py" },
    stream: "stdout",
  },
};

describe.each(runtimeNames)("the %s runtime over TCP", (name) => {
  it("serves calls over HTTP and frames, and the call-tagged log lines on /v2/logs", async () => {
    const runtime = await startRuntimeProcess(name, { transport: "tcp" });
    const { files, spec, stream } = loggingFunctions[name];
    await runtime.specialize({ name: "logs", packagePath: await writeSource(files), ...spec });

    // 1100 lines before anyone reads: the last 1000 are kept, and the reader is told of the rest.
    const before = await runtime.call("/many?n=1100", { headers: { "x-call-id": "call-before" } });
    expect(before).toMatchObject({ status: 200, body: "answer to call-before" });

    const logs = await openLogs(runtime.http);
    expect(logs.status).toBe(200);
    expect(logs.contentType).toBe("application/x-ndjson");
    // One reader at a time.
    const second = await runtime.call("/v2/logs");
    expect(second.status).toBe(409);
    expect(JSON.parse(second.body)).toMatchObject({ error: { code: "RUNLET_LOGS_TAKEN" } });

    const [dropped] = await logs.take(1);
    expect(dropped).toMatchObject({ stream: "stderr" });
    expect(dropped?.text).toMatch(/\b100 log lines were dropped\b/);
    expect(dropped).not.toHaveProperty("callId");
    const kept = await logs.take(1000);
    expect(kept.map((line) => line.text)).toEqual(
      Array.from({ length: 1000 }, (_, i) => `line ${i + 100} of call-before`),
    );
    expect(new Set(kept.map((line) => `${line.stream} ${line.callId}`))).toEqual(
      new Set([`${stream} call-before`]),
    );
    expect(kept.every((line) => typeof line.time === "number" && line.time > 0)).toBe(true);

    // Live: a call over HTTP, then one over frames, each line with its own call's id.
    const overHttp = await runtime.call("/one", { headers: { "x-call-id": "call-http" } });
    expect(overHttp).toMatchObject({ status: 200, body: "answer to call-http" });
    expect(await logs.take(1)).toMatchObject([
      { stream, callId: "call-http", text: "line 0 of call-http" },
    ]);

    if (!("port" in runtime.frames)) {
      throw new Error("the runtime was started on TCP");
    }
    const channel = new FrameChannel({ host: runtime.frames.host, port: runtime.frames.port });
    onTestFinished(() => channel.close());
    const overFrames = await channel.invoke({
      method: "GET",
      path: "/one",
      headers: { "x-call-id": "call-frames" },
      body: undefined,
      signal: new AbortController().signal,
    });
    expect(overFrames.status).toBe(200);
    expect(await text(overFrames)).toBe("answer to call-frames");
    expect(await logs.take(1)).toMatchObject([
      { stream, callId: "call-frames", text: "line 0 of call-frames" },
    ]);

    // Untagged output is the process's own, not the log stream's.
    if (name !== "exec") {
      expect(runtime.output.stdout).toContain("loaded, in no call");
    }
  });
});
