import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { packDirectory } from "../../src/packaging/pack.js";
import { startServer, type RunningServer } from "../helpers/binary.js";
import { adminToken, eventually, tempDir, writeSource } from "../helpers/runlet.js";

/**
 * Logs every attempt to a file; a call whose body is "hang" never answers on its first
 * attempt, so it is certainly running when the server is killed.
 */
const worker = `import { appendFileSync } from "node:fs";
export default async function (event, context) {
  const attempt = Number(event.headers["x-runlet-attempt"]);
  appendFileSync(process.env.ATTEMPT_LOG, context.callId + " " + attempt + "\\n");
  if (event.body === "hang" && attempt === 1) { await new Promise(() => {}); }
  await new Promise((resolve) => setTimeout(resolve, 20));
  return { ok: true };
}
`;

interface CallSummary {
  id: string;
  state: string;
  attempts: number;
}

function api(server: RunningServer, path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${adminToken}`, ...(init.headers as Record<string, string>) },
  });
}

async function calls(server: RunningServer, state?: string): Promise<CallSummary[]> {
  const query = `function=worker&limit=1000${state ? `&status=${state}` : ""}`;
  return (await (await api(server, `/api/v1/calls?${query}`)).json()) as CallSummary[];
}

describe("async calls across a SIGKILL", () => {
  it("loses no accepted call: queued and running calls all complete after a restart", async () => {
    const home = await tempDir("runlet-home-");
    const dataDir = await tempDir("runlet-data-");
    const log = join(await tempDir(), "attempts.log");
    const env = { HOME: home, RUNLET_ADMIN_TOKEN: adminToken };
    const args = ["--port", "0", "--no-sandbox", "--pool-size", "1", "--data-dir", dataDir];
    const first = await startServer(args, env);

    const packed = await packDirectory(await writeSource({ "index.js": worker }));
    const upload = await api(first, "/api/v1/packages", {
      method: "POST",
      headers: { "content-type": "application/gzip" },
      body: packed.archive,
    });
    expect(upload.status).toBeLessThan(300);
    const deployed = await api(first, "/api/v1/functions/worker", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        runtime: "node",
        package: packed.digest,
        env: { ATTEMPT_LOG: log },
        timeout: "5m",
        scale: { max: 1, concurrency: 8 },
      }),
    });
    expect(deployed.status).toBe(201);

    const accepted: string[] = [];
    const post = async (body: string): Promise<void> => {
      const response = await fetch(`${first.url}/async-function/worker`, { method: "POST", body });
      expect(response.status).toBe(202);
      accepted.push(response.headers.get("x-call-id") ?? "");
    };
    await Promise.all(Array.from({ length: 4 }, () => post("hang")));
    for (let batch = 0; batch < 10; batch += 1) {
      await Promise.all(Array.from({ length: 30 }, () => post("work")));
    }
    // Kill mid-drain: the hanging calls are running and some calls have finished.
    await eventually(
      async () => {
        const running = await calls(first, "running");
        const succeeded = await calls(first, "succeeded");
        return running.length >= 4 && succeeded.length >= 10 ? true : undefined;
      },
      { what: "the drain to be under way", timeoutMs: 30_000 },
    );
    first.child.kill("SIGKILL");
    await first.exited;

    const second = await startServer(args, env);
    const finished = await eventually(
      async () => {
        const all = await calls(second);
        return all.length === accepted.length && all.every((c) => c.state === "succeeded")
          ? all
          : undefined;
      },
      { what: "every accepted call to succeed after the restart", timeoutMs: 60_000 },
    );
    expect(new Set(finished.map((c) => c.id))).toEqual(new Set(accepted));
    const attempts = (await readFile(log, "utf8")).trim().split("\n");
    const attempted = new Set(attempts.map((line) => line.split(" ")[0]));
    expect(accepted.every((id) => attempted.has(id))).toBe(true);
    // The calls cut off by the kill ran again, with the same call id.
    const hung = accepted.slice(0, 4);
    for (const id of hung) {
      expect(attempts).toContain(`${id} 1`);
      expect(attempts).toContain(`${id} 2`);
      expect(finished.find((c) => c.id === id)?.attempts).toBe(2);
    }
  });
});
