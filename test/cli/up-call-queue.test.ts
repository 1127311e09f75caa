/**
 * `runlet up --call-queue jetstream` (or RUNLET_CALL_QUEUE): async calls go to the NATS
 * server's JetStream, where another gateway would find them; without a NATS server, or with a
 * queue name it does not know, it refuses to start and says what to pass.
 */
import { describe, expect, it } from "vitest";
import { startServer, runBinary } from "../helpers/binary.js";
import { startTestNats } from "../helpers/nats.js";
import { adminToken, tempDir } from "../helpers/runlet.js";

describe("runlet up --call-queue", () => {
  it("refuses jetstream without a NATS server, and an unknown queue, saying what to pass", async () => {
    const home = await tempDir("runlet-home-");
    const env = { HOME: home, RUNLET_ADMIN_TOKEN: adminToken };
    const args = ["up", "--port", "0", "--data-dir", await tempDir()];
    const noNats = await runBinary([...args, "--call-queue", "jetstream"], { cwd: home, env });
    expect(noNats.code).not.toBe(0);
    expect(noNats.stderr).toContain("--nats nats://HOST:4222");
    const unknown = await runBinary(args, {
      cwd: home,
      env: { ...env, RUNLET_CALL_QUEUE: "kafka" },
    });
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("use sqlite or jetstream");
  });

  it("queues async calls in JetStream with RUNLET_CALL_QUEUE=jetstream", async () => {
    const nats = await startTestNats();
    const home = await tempDir("runlet-home-");
    const server = await startServer(
      ["--port", "0", "--no-sandbox", "--pool-size", "0", "--data-dir", await tempDir()],
      {
        HOME: home,
        RUNLET_ADMIN_TOKEN: adminToken,
        RUNLET_CALL_QUEUE: "jetstream",
        RUNLET_NATS_URL: nats.url,
      },
    );
    expect(server.output()).toContain(
      `nats       ${nats.url} (for NATS triggers and the async call queue)`,
    );
    // The queue's stream and buckets are on the NATS server, made by this gateway.
    const nc = await nats.connect();
    const jsm = await nc.jetstreamManager();
    expect((await jsm.streams.info("RUNLET_CALLS")).config.subjects).toEqual([
      "runlet.calls.run.*",
      "runlet.calls.callback.*",
    ]);
    await expect(jsm.streams.info("KV_RUNLET_CALL_RECORDS")).resolves.toBeDefined();
    const calls = await fetch(`${server.url}/api/v1/calls`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(calls.status).toBe(200);
    expect(await calls.json()).toEqual([]);
  });

  it("takes the NATS password from RUNLET_NATS_PASSWORD, never prints it, and refuses a wrong one", async () => {
    const nats = await startTestNats({ user: "runlet", password: "s3cret-nats" });
    const home = await tempDir("runlet-home-");
    const args = ["--port", "0", "--no-sandbox", "--pool-size", "0", "--call-queue", "jetstream"];
    const env = {
      HOME: home,
      RUNLET_ADMIN_TOKEN: adminToken,
      RUNLET_NATS_URL: nats.url.replace("nats://", "nats://runlet@"),
    };
    const server = await startServer([...args, "--data-dir", await tempDir()], {
      ...env,
      RUNLET_NATS_PASSWORD: "s3cret-nats",
    });
    expect(server.output()).toContain(
      `nats       ${nats.url.replace("nats://", "nats://runlet:***@")} (for NATS triggers and the async call queue)`,
    );
    expect(server.output()).not.toContain("s3cret-nats");
    const nc = await nats.connect();
    await expect((await nc.jetstreamManager()).streams.info("RUNLET_CALLS")).resolves.toBeDefined();

    const refused = await runBinary(["up", ...args, "--data-dir", await tempDir()], {
      cwd: home,
      env: { ...env, RUNLET_NATS_PASSWORD: "wrong" },
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/NATS/);
    expect(refused.stderr).toMatch(/password|authori[sz]/i);
    expect(refused.stderr).not.toContain("wrong");
  });
});
