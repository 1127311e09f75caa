/**
 * A real nats-server (Debian's package, installed by scripts/test-setup.mjs) with JetStream
 * on, on a free port with a temp store dir. Fails loudly when it cannot start: NATS tests
 * never skip.
 */
import { spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { connect, type NatsConnection } from "nats";
import { onTestFinished } from "vitest";
import { tempDir } from "./runlet.js";

export interface TestNats {
  readonly url: string;
  readonly port: number;
  /** A client connection for the test itself (closed at the end). */
  connect(): Promise<NatsConnection>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startTestNats(): Promise<TestNats> {
  if (spawnSync("sh", ["-c", "command -v nats-server"]).status !== 0) {
    throw new Error(
      "nats-server is not installed; run `node scripts/test-setup.mjs` (or apt-get install nats-server)",
    );
  }
  const storeDir = await tempDir("runlet-nats-");
  const port = await freePort();
  const child = spawn(
    "nats-server",
    ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const collect = (chunk: Buffer): void => {
    output += chunk.toString("utf8");
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = new Promise<never>((_resolve, reject) => {
    child.once("exit", (code, signal) =>
      reject(new Error(`nats-server exited (${code ?? signal}) before it was ready:\n${output}`)),
    );
    child.once("error", reject);
  });
  exited.catch(() => undefined);
  onTestFinished(async () => {
    if (child.exitCode === null) {
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await gone;
    }
  });
  const ready = new Promise<void>((resolve) => {
    const check = (): void => {
      if (output.includes("Server is ready")) {
        resolve();
      }
    };
    child.stdout.on("data", check);
    child.stderr.on("data", check);
  });
  const timeout = new Promise<never>((_resolve, reject) =>
    setTimeout(
      () => reject(new Error(`nats-server did not start within 15s:\n${output}`)),
      15_000,
    ).unref(),
  );
  await Promise.race([ready, exited, timeout]);
  const url = `nats://127.0.0.1:${port}`;
  return {
    url,
    port,
    async connect() {
      const nc = await connect({ servers: url });
      onTestFinished(() => nc.close());
      return nc;
    },
  };
}
