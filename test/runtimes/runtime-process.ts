/**
 * A runtime server (node, exec or python) started as a plain child process, as a supervisor
 * would start it: on Unix sockets with the control pipe (the local provider's way), or on TCP
 * without one (a pod's way). Tests drive it over its own protocol (docs/runtime-protocol.md).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { Agent, request, type IncomingMessage } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { expect, onTestFinished } from "vitest";
import { pythonInterpreter } from "../../src/host/python-interpreter.js";
import { eventually, tempDir } from "../helpers/runlet.js";

export type RuntimeName = "node" | "exec" | "python";

export const runtimeNames: readonly RuntimeName[] = ["node", "exec", "python"];

/** Where a server listens: a Unix socket, or a TCP address. */
export type Endpoint =
  { readonly socketPath: string } | { readonly host: string; readonly port: number };

export interface RuntimeProcess {
  readonly child: ChildProcess;
  /** Settles when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly http: Endpoint;
  readonly frames: Endpoint;
  /** Lines the runtime wrote to fd 3 (empty without a control pipe). */
  readonly controlLines: readonly string[];
  /** What the runtime wrote to its own stdout and stderr. */
  readonly output: { stdout: string; stderr: string };
  /** One HTTP request over a keep-alive connection, as the gateway's pool keeps them. */
  call(path: string, options?: CallOptions): Promise<HttpAnswer>;
  /** One HTTP request whose answer is handed over as soon as its head arrives. */
  open(path: string, options?: CallOptions): Promise<IncomingMessage>;
  /** POST /v2/specialize; fails the test unless it answers 200. */
  specialize(request: Record<string, unknown>): Promise<void>;
}

export interface CallOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

const runtimesDir = fileURLToPath(new URL("../../runtimes/", import.meta.url));

function command(name: RuntimeName): { program: string; args: string[] } {
  switch (name) {
    case "node":
      return { program: process.execPath, args: [join(runtimesDir, "node", "server.mjs")] };
    case "exec":
      return { program: process.execPath, args: [join(runtimesDir, "exec", "server.mjs")] };
    case "python":
      return { program: pythonInterpreter(), args: [join(runtimesDir, "python", "server.py")] };
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen({ host: "127.0.0.1", port: 0 });
  await once(probe, "listening");
  const address = probe.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

export interface StartOptions {
  /** "unix": sockets and the control pipe on fd 3; "tcp": 127.0.0.1 ports, no control pipe. */
  readonly transport: "unix" | "tcp";
}

export async function startRuntimeProcess(
  name: RuntimeName,
  { transport }: StartOptions,
): Promise<RuntimeProcess> {
  const dir = await tempDir(`runlet-${name}-runtime-`);
  const env: Record<string, string> = {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    PYTHONDONTWRITEBYTECODE: "1",
  };
  let http: Endpoint;
  let frames: Endpoint;
  if (transport === "unix") {
    http = { socketPath: join(dir, "runtime.sock") };
    frames = { socketPath: join(dir, "frames.sock") };
    env["RUNLET_SOCKET"] = http.socketPath;
    env["RUNLET_FRAME_SOCKET"] = frames.socketPath;
    env["RUNLET_CONTROL_FD"] = "3";
  } else {
    http = { host: "127.0.0.1", port: await freePort() };
    frames = { host: "127.0.0.1", port: await freePort() };
    env["RUNLET_HTTP_ADDRESS"] = `${http.host}:${http.port}`;
    env["RUNLET_FRAME_ADDRESS"] = `${frames.host}:${frames.port}`;
  }
  const { program, args } = command(name);
  const child = spawn(program, args, {
    env,
    stdio: transport === "unix" ? ["ignore", "pipe", "pipe", "pipe"] : ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  onTestFinished(() => {
    child.kill("SIGKILL");
  });
  const output = { stdout: "", stderr: "" };
  child.stdout?.setEncoding("utf8").on("data", (text: string) => (output.stdout += text));
  child.stderr?.setEncoding("utf8").on("data", (text: string) => (output.stderr += text));
  const controlLines: string[] = [];
  const agent = new Agent({ keepAlive: true });
  onTestFinished(() => agent.destroy());

  const open = (path: string, options: CallOptions = {}): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const req = request(
        { ...http, agent, path, method: options.method ?? "GET", headers: options.headers },
        resolve,
      );
      req.on("error", reject);
      req.end(options.body);
    });
  const call = async (path: string, options: CallOptions = {}): Promise<HttpAnswer> => {
    const res = await open(path, options);
    const chunks: Buffer[] = [];
    for await (const chunk of res) {
      chunks.push(chunk as Buffer);
    }
    return {
      status: res.statusCode ?? 0,
      headers: res.headers,
      body: Buffer.concat(chunks).toString("utf8"),
    };
  };

  const started = exited.then(({ code, signal }) => {
    throw new Error(
      `the ${name} runtime exited (${code ?? signal}) before it was ready: ${output.stderr}`,
    );
  });
  // Only the wait for ready below cares; a later exit is the test's business.
  started.catch(() => {});
  if (transport === "unix") {
    const control = child.stdio[3] as Readable;
    let pending = "";
    const ready = new Promise<void>((resolve) => {
      control.setEncoding("utf8").on("data", (text: string) => {
        const lines = (pending + text).split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          controlLines.push(line);
          if (/"event": ?"ready"/.test(line)) {
            resolve();
          }
        }
      });
    });
    await Promise.race([ready, started]);
  } else {
    // Without a control pipe, ready is "GET /healthz answers 200".
    await Promise.race([
      eventually(
        () =>
          call("/healthz").then(
            (answer) => (answer.status === 200 ? true : undefined),
            () => undefined,
          ),
        { what: `the ${name} runtime's /healthz` },
      ),
      started,
    ]);
  }

  return {
    child,
    exited,
    http,
    frames,
    controlLines,
    output,
    call,
    open,
    async specialize(body) {
      const answer = await call("/v2/specialize", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          revision: "1",
          env: {},
          timeoutMs: 30_000,
          concurrency: 8,
          ...body,
        }),
      });
      expect(answer, answer.body).toMatchObject({ status: 200 });
    },
  };
}

export interface LogRecord {
  readonly time: number;
  readonly stream: string;
  readonly callId?: string;
  readonly text: string;
}

/** A reader of GET /v2/logs (docs/runtime-protocol.md), line by line. */
export interface LogReader {
  readonly status: number;
  readonly contentType: string | undefined;
  /** The next `count` lines, waiting for them as long as it takes. */
  take(count: number): Promise<LogRecord[]>;
  /** The lines not taken, once the stream has ended; rejects if it is cut off instead. */
  readonly rest: Promise<LogRecord[]>;
}

export function openLogs(endpoint: Endpoint): Promise<LogReader> {
  return new Promise((resolve, reject) => {
    const req = request(
      { ...endpoint, path: "/v2/logs", method: "GET" },
      (res: IncomingMessage) => {
        onTestFinished(() => {
          res.destroy();
        });
        const lines: LogRecord[] = [];
        let pending = "";
        let wake = (): void => {};
        res.setEncoding("utf8").on("data", (text: string) => {
          const parts = (pending + text).split("\n");
          pending = parts.pop() ?? "";
          for (const part of parts) {
            lines.push(JSON.parse(part) as LogRecord);
          }
          wake();
        });
        const rest = new Promise<LogRecord[]>((resolveRest, rejectRest) => {
          res.on("end", () => resolveRest(lines.splice(0)));
          res.on("error", rejectRest);
        });
        // Awaited by the tests that want it; others let it go.
        rest.catch(() => {});
        resolve({
          rest,
          status: res.statusCode ?? 0,
          contentType: res.headers["content-type"],
          take: (count) =>
            new Promise((resolveTake) => {
              wake = () => {
                if (lines.length >= count) {
                  wake = () => {};
                  resolveTake(lines.splice(0, count));
                }
              };
              wake();
            }),
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}
