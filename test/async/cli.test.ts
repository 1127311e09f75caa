import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { ManualClock } from "../helpers/manual-clock.js";
import { adminToken, eventually, startTestRunlet, tempDir } from "../helpers/runlet.js";

const handler = `export default async function (event) {
  if (event.query.fail) { return { statusCode: 503, body: "down for maintenance" }; }
  return { statusCode: 200, headers: { "content-type": "text/plain" }, body: "done: " + event.body };
}
`;

describe("runlet invoke --async and runlet calls", () => {
  it("queues a call, lists it, shows it, and filters by state", async () => {
    const clock = new ManualClock();
    const runlet = await startTestRunlet({ clock });
    expect((await runlet.deploy("job", { "index.js": handler }, { maxRetries: 1 })).status).toBe(
      201,
    );
    const cwd = await tempDir("runlet-cli-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const cli = (argv: string[]) => runCli(argv, { cwd, env });

    const queued = await cli(["invoke", "job", "--async", "--data", "report-7"]);
    expect(queued.code).toBe(0);
    const id = queued.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(queued.stderr).toContain(`runlet calls get ${id}`);

    const shown = await eventually(async () => {
      const result = await cli(["calls", "get", id]);
      return result.stdout.includes("succeeded") ? result : undefined;
    });
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/Function: +job \(from http\)/);
    expect(shown.stdout).toMatch(/Attempts: +1\n/);
    expect(shown.stdout).toMatch(/Status: +200/);
    expect(shown.stdout).toContain("done: report-7");
    const json = JSON.parse((await cli(["calls", "get", id, "--json"])).stdout) as {
      state: string;
      result: { body: string };
    };
    expect(json.state).toBe("succeeded");
    expect(json.result.body).toBe("done: report-7");

    const failing = (await cli(["invoke", "job", "--async", "-q", "fail=1"])).stdout.trim();
    // maxRetries 1: one retry, when the fed clock reaches its back-off, and the call is dead.
    const retry = await eventually(async () => {
      const current = await runlet.platform.calls.get(failing);
      return current?.state === "queued" && current.failures === 1 ? current : undefined;
    });
    const pending = await cli(["calls", "get", failing]);
    expect(pending.stdout).toMatch(/State: +queued\n/);
    expect(pending.stdout).toMatch(/Next attempt: +\S+\n/);
    expect(pending.stdout).toContain(new Date(retry.nextAttemptAt ?? 0).toISOString());
    await clock.advanceTo(retry.nextAttemptAt ?? 0);
    await eventually(async () => (await runlet.platform.calls.get(failing))?.state === "dead");
    const dead = await cli(["calls", "job", "--status", "dead"]);
    expect(dead.code).toBe(0);
    expect(dead.stdout).toContain(failing);
    expect(dead.stdout).not.toContain(id);
    expect(dead.stdout).toMatch(/dead +2 +503/);
    const all = await cli(["calls"]);
    expect(all.stdout).toContain(id);
    expect(all.stdout).toContain(failing);
    expect(all.stdout).toMatch(/SOURCE\n/);
    const detail = await cli(["calls", "get", failing]);
    expect(detail.stdout).toMatch(/Attempts: +2 \(2 failed\)/);
    expect(detail.stdout).toContain("down for maintenance");
    expect((await cli(["calls", "--status", "succeeded", "--json"])).stdout).toContain(id);
    const none = await cli(["calls", "job", "--status", "running"]);
    expect(none.code).toBe(0);
    expect(none.stdout).toContain("No async calls to job in state running.");
  });

  it("explains mistakes with exit code 1", async () => {
    const runlet = await startTestRunlet();
    expect((await runlet.deploy("job", { "index.js": handler })).status).toBe(201);
    const cwd = await tempDir("runlet-cli-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const cli = (argv: string[]) => runCli(argv, { cwd, env });
    const unknown = await cli(["invoke", "ghost", "--async"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("Function ghost does not exist");
    const badCallback = await cli(["invoke", "job", "--async", "--callback", "nope"]);
    expect(badCallback.code).toBe(1);
    expect(badCallback.stderr).toContain("X-Callback-Url");
    const callbackAlone = await cli(["invoke", "job", "--callback", "http://example.com/"]);
    expect(callbackAlone.code).toBe(1);
    expect(callbackAlone.stderr).toContain("--callback only works with --async");
    const missing = await cli(["calls", "get", "no-such-call"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("Call no-such-call does not exist");
    const badState = await cli(["calls", "--status", "lost"]);
    expect(badState.code).toBe(1);
    expect(badState.stderr).toContain("--status");
    expect((await cli(["calls", "job"])).stdout).toContain("No async calls to job");
    const badRetention = await runCli(["up", "--port", "0", "--data-dir", cwd], {
      cwd,
      env: { RUNLET_CALL_RETENTION: "forever" },
    });
    expect(badRetention.code).toBe(1);
    expect(badRetention.stderr).toContain("RUNLET_CALL_RETENTION=forever is not a duration");
  });
});
