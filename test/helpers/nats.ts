/**
 * A real nats-server (Debian's package, installed by scripts/test-setup.mjs) with JetStream
 * on, on a free port with a temp store dir. Fails loudly when it cannot start: NATS tests
 * never skip.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { connect, type NatsConnection } from "nats";
import { onTestFinished } from "vitest";
import { tempDir } from "./runlet.js";

export interface TestNats {
  /** Without credentials, even when the server asks for some. */
  readonly url: string;
  readonly port: number;
  /** A client connection for the test itself (closed at the end). */
  connect(): Promise<NatsConnection>;
  /** Stops the server (its JetStream store stays). */
  stop(): Promise<void>;
  /** Starts it again on the same port and store. */
  start(): Promise<void>;
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

/** Spawns nats-server and resolves once it says it is ready; rejects with its output if not. */
async function spawnNats(
  port: number,
  storeDir: string,
  auth: TestNatsAuth | undefined,
): Promise<ChildProcess> {
  const child = spawn(
    "nats-server",
    [
      ...["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir],
      ...(auth ? ["--user", auth.user, "--pass", auth.password] : []),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString("utf8");
        if (output.includes("Server is ready")) {
          resolve();
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("error", reject);
      child.once("exit", (code, signal) =>
        reject(new Error(`nats-server exited (${code ?? signal}) before it was ready:\n${output}`)),
      );
      timer = setTimeout(
        () => reject(new Error(`nats-server did not start within 15s:\n${output}`)),
        15_000,
      );
    });
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return child;
}

async function stopNats(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const gone = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await gone;
}

/** A user and password the server asks every client for. */
export interface TestNatsAuth {
  readonly user: string;
  readonly password: string;
}

export async function startTestNats(auth?: TestNatsAuth): Promise<TestNats> {
  if (spawnSync("sh", ["-c", "command -v nats-server"]).status !== 0) {
    throw new Error(
      "nats-server is not installed; run `node scripts/test-setup.mjs` (or apt-get install nats-server)",
    );
  }
  const storeDir = await tempDir("runlet-nats-");
  const port = await freePort();
  let child = await spawnNats(port, storeDir, auth);
  onTestFinished(() => stopNats(child));
  const url = `nats://127.0.0.1:${port}`;
  return {
    url,
    port,
    async connect() {
      const nc = await connect({
        servers: url,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        ...(auth && { user: auth.user, pass: auth.password }),
      });
      onTestFinished(() => nc.close());
      return nc;
    },
    stop: () => stopNats(child),
    async start() {
      child = await spawnNats(port, storeDir, auth);
    },
  };
}
