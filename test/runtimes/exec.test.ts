/**
 * The exec runtime with real programs: through a real platform (sandboxed instances, router,
 * gateway) and, for what only the runtime itself decides (its own kill on a deadline, its
 * concurrency limit), against the runtime server directly.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, onTestFinished } from "vitest";
import { runCli } from "../helpers/cli.js";
import {
  adminToken,
  eventually,
  startTestRunlet,
  tempDir,
  writeSource,
  type TestRunlet,
} from "../helpers/runlet.js";

interface ErrorBody {
  error: { code: string; message: string; exitCode?: number; stderr?: string };
}

interface LogLine {
  text: string;
  stream: string;
  callId?: string;
}

async function logsOf(runlet: TestRunlet, name: string): Promise<LogLine[]> {
  const text = await (await runlet.api(`/api/v1/functions/${name}/logs`)).text();
  return text
    .trim()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as LogLine);
}

/** Pids of live processes whose command line contains `marker`. */
function processesWith(marker: string): string[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
      } catch {
        return false;
      }
    });
}

/** A `sleep` nobody else runs, so the test can find (or miss) exactly its process. */
function uniqueSleep(): { command: string; marker: string } {
  const marker = `4242.${randomBytes(3).readUIntBE(0, 3)}`;
  return { command: `sleep ${marker}`, marker };
}

async function deployed(response: Response): Promise<void> {
  if (response.status !== 201) {
    throw new Error(`deploy failed: ${response.status} ${await response.text()}`);
  }
}

describe("exec runtime, stdio mode", () => {
  it("sends the body to stdin and stdout back, byte for byte, with the caller's Content-Type", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    await deployed(await runlet.deploy("echo", { README: "cat is the function" }, echoSpec));
    const bytes = Buffer.from(Array.from({ length: 256 * 64 }, (_, i) => i % 256));
    const response = await fetch(`${runlet.url}/function/echo`, {
      method: "POST",
      headers: { "content-type": "application/x-custom" },
      body: bytes,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/x-custom");
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);

    const empty = await fetch(`${runlet.url}/function/echo`);
    expect(empty.status).toBe(200);
    expect(empty.headers.get("content-type")).toBe("application/octet-stream");
    expect(await empty.text()).toBe("");
  });

  it("uses the function's content_type variable over the caller's", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    await deployed(
      await runlet.deploy(
        "typed",
        { README: "" },
        { ...echoSpec, env: { content_type: "text/plain; charset=utf-8" } },
      ),
    );
    const response = await fetch(`${runlet.url}/function/typed`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"a":1}',
    });
    expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await response.text()).toBe('{"a":1}');
  });

  it("gives the program the request as Http_* variables, and the function's env", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    await deployed(
      await runlet.deploy(
        "printenv",
        {
          "show.sh":
            'if [ "$Http_Query" = all ]; then env; else env | grep -E "^(Http_|GREETING=)"; fi\n',
        },
        { runtime: "exec", command: "sh show.sh", env: { GREETING: "hi" } },
      ),
    );
    const response = await fetch(`${runlet.url}/function/printenv/sub/path?a=1&b=two`, {
      method: "PUT",
      headers: { "content-type": "text/plain", "x-call-id": "call-env-1", "x-custom-thing": "v" },
      body: "ignored",
    });
    expect(response.status).toBe(200);
    const lines = (await response.text()).trim().split("\n");
    expect(lines).toEqual(
      expect.arrayContaining([
        "GREETING=hi",
        "Http_Method=PUT",
        "Http_Path=/sub/path",
        "Http_Query=a=1&b=two",
        "Http_Content_Type=text/plain",
        "Http_X_Call_Id=call-env-1",
        "Http_X_Custom_Thing=v",
      ]),
    );
    expect(lines.some((line) => line.startsWith("Http_X_Runlet_Deadline="))).toBe(true);
    // The runtime's own variables stay out of the function's programs.
    const all = await (await fetch(`${runlet.url}/function/printenv?all`)).text();
    expect(all).toContain("PATH=");
    expect(all).not.toContain("RUNLET_SOCKET");
    expect(all).not.toContain("RUNLET_CONTROL_FD");
  });

  it("answers 500 naming the exit code and the end of stderr; stderr lines go to the logs with the call id", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    await deployed(
      await runlet.deploy(
        "fails",
        {
          "fail.sh": "echo 'reading input' >&2\ncat >/dev/null\necho 'disk on fire' >&2\nexit 3\n",
        },
        { runtime: "exec", command: "sh fail.sh" },
      ),
    );
    const response = await fetch(`${runlet.url}/function/fails`, {
      method: "POST",
      headers: { "x-call-id": "call-fail-1" },
      body: "x",
    });
    expect(response.status).toBe(500);
    expect(response.headers.get("x-runlet-error")).toBe("handler");
    const body = (await response.json()) as ErrorBody;
    expect(body.error.code).toBe("RUNLET_HANDLER_ERROR");
    expect(body.error.exitCode).toBe(3);
    expect(body.error.message).toContain("exited with code 3");
    expect(body.error.message).toContain("disk on fire");
    expect(body.error.stderr).toBe("reading input\ndisk on fire");
    const logs = await eventually(async () => {
      const lines = await logsOf(runlet, "fails");
      return lines.some((line) => line.text === "disk on fire") ? lines : undefined;
    });
    expect(logs.find((line) => line.text === "disk on fire")).toMatchObject({
      stream: "stderr",
      callId: "call-fail-1",
    });
  });

  it("answers 504 at the function's timeout, and the program is killed", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const sleep = uniqueSleep();
    await deployed(
      await runlet.deploy(
        "sleeper",
        { README: "" },
        { runtime: "exec", command: `echo started >&2; ${sleep.command}`, timeout: "1s" },
      ),
    );
    const response = await fetch(`${runlet.url}/function/sleeper`);
    expect(response.status).toBe(504);
    expect(((await response.json()) as ErrorBody).error.code).toBe("RUNLET_FUNCTION_TIMEOUT");
    await eventually(() => (processesWith(sleep.marker).length === 0 ? true : undefined), {
      what: "the timed-out program to be gone",
    });
  });

  it("streams output while the program still runs", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const sleep = uniqueSleep();
    await deployed(
      await runlet.deploy(
        "ticker",
        { README: "" },
        { runtime: "exec", command: `echo first; ${sleep.command}; echo never`, timeout: "60s" },
      ),
    );
    const controller = new AbortController();
    const response = await fetch(`${runlet.url}/function/ticker`, { signal: controller.signal });
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe("first\n");
    // The program is still running (the answer is not complete), until the caller leaves.
    expect(processesWith(sleep.marker).length).toBeGreaterThan(0);
    controller.abort();
    await eventually(() => (processesWith(sleep.marker).length === 0 ? true : undefined), {
      what: "the abandoned program to be killed",
    });
  });

  it("refuses at deploy a command that cannot start, with the reason", async () => {
    // With the warm pool: the later deploys specialize pooled exec instances.
    const runlet = await startTestRunlet();
    const notFound = await runlet.deploy(
      "nope",
      { README: "" },
      { runtime: "exec", command: "no-such-program-here --flag" },
    );
    expect(notFound.status).toBe(400);
    expect(((await notFound.json()) as ErrorBody).error.message).toContain(
      "sh: no-such-program-here: not found",
    );

    const missingFile = await runlet.deploy(
      "missing",
      { README: "" },
      { runtime: "exec", command: "./run.sh" },
    );
    // The body says why, should this ever be something else than the 400.
    expect(missingFile.status, await missingFile.clone().text()).toBe(400);
    expect(((await missingFile.json()) as ErrorBody).error.message).toContain(
      "./run.sh is not a file in the function's source",
    );

    const notExecutable = await runlet.deploy(
      "plain",
      { "run.sh": "echo hi\n" },
      { runtime: "exec", command: "./run.sh" },
    );
    expect(notExecutable.status).toBe(400);
    expect(((await notExecutable.json()) as ErrorBody).error.message).toContain(
      "Permission denied; make it executable (chmod +x ./run.sh)",
    );

    const badShell = await runlet.deploy(
      "badshell",
      { README: "" },
      { runtime: "exec", command: "echo 'unterminated" },
    );
    expect(badShell.status).toBe(400);
    expect(((await badShell.json()) as ErrorBody).error.message).toContain(
      "the command is not valid shell",
    );
    // Nothing was activated.
    expect((await runlet.api("/api/v1/functions/nope")).status).toBe(404);
  });

  it("runs an executable from the package by path", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const source = await writeSource({ "bin/shout": "#!/bin/sh\ntr a-z A-Z\n" });
    spawnSync("chmod", ["+x", join(source, "bin/shout")]);
    const cwd = await tempDir("runlet-cli-");
    const deploy = await runCli(
      ["deploy", "shout", "--runtime", "exec", "--source", source, "--command", "./bin/shout"],
      { cwd, env: { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken } },
    );
    expect(deploy.code).toBe(0);
    const response = await fetch(`${runlet.url}/function/shout`, { method: "POST", body: "hey" });
    expect(await response.text()).toBe("HEY");
    const described = await runCli(["describe", "shout"], {
      cwd,
      env: { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken },
    });
    expect(described.stdout).toMatch(/Command:\s+\.\/bin\/shout \(stdio mode\)/);
  });

  it("deploys a command from the PATH with an empty source folder, as docs/exec.md shows", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const cwd = await tempDir("runlet-cli-");
    await mkdir(join(cwd, "upper"));
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const deploy = await runCli(
      ["deploy", "upper", "--runtime", "exec", "--source", "./upper", "--command", "tr a-z A-Z"],
      { cwd, env },
    );
    expect(deploy.stderr).toContain("upper: packed");
    expect(deploy.code).toBe(0);
    const invoked = await runCli(["invoke", "upper"], { cwd, env, stdin: "hello\n" });
    expect(invoked.stdout).toBe("HELLO\n");
  });
});

const echoSpec = { runtime: "exec", command: "cat" };

describe("exec runtime, http mode", () => {
  /** A small HTTP server program that starts listening only after a while. */
  const serverProgram = `
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
const id = randomUUID();
const server = createServer(async (req, res) => {
  if (req.url === "/crash") {
    console.error("fatal: crashing on purpose");
    process.exit(5);
  }
  if (req.url === "/stream") {
    res.writeHead(200, { "content-type": "text/plain" });
    res.write("one\\n");
    req.socket.once("close", () => {});
    setTimeout(() => res.end("two\\n"), 20);
    return;
  }
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  console.log("served " + req.method + " " + req.url);
  res.writeHead(201, { "content-type": "application/json", "x-served-by": "program" });
  res.end(JSON.stringify({
    id,
    method: req.method,
    url: req.url,
    callId: req.headers["x-call-id"],
    custom: req.headers["x-custom"],
    body: Buffer.concat(chunks).toString("base64"),
  }));
});
console.log("starting on " + process.env.PORT);
setTimeout(() => server.listen(Number(process.env.PORT), "127.0.0.1"), 400);
`;
  const httpSpec = { runtime: "exec", command: "node server.mjs", mode: "http" };

  it("waits for the program to listen, then proxies method, path, query, headers and body both ways", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    await deployed(await runlet.deploy("web", { "server.mjs": serverProgram }, httpSpec));
    const bytes = randomBytes(200_000);
    const response = await fetch(`${runlet.url}/function/web/items/7?x=1&y=2`, {
      method: "PATCH",
      headers: { "x-custom": "yes", "x-call-id": "call-web-1" },
      body: bytes,
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("x-served-by")).toBe("program");
    const answer = (await response.json()) as Record<string, string>;
    expect(answer).toMatchObject({
      method: "PATCH",
      url: "/items/7?x=1&y=2",
      callId: "call-web-1",
      custom: "yes",
    });
    expect(Buffer.from(answer["body"] ?? "", "base64").equals(bytes)).toBe(true);

    const streamed = await fetch(`${runlet.url}/function/web/stream`);
    expect(await streamed.text()).toBe("one\ntwo\n");

    const logs = await eventually(async () => {
      const lines = await logsOf(runlet, "web");
      return lines.some((line) => line.text === "served PATCH /items/7?x=1&y=2")
        ? lines
        : undefined;
    });
    expect(logs.some((line) => /^starting on \d+$/.test(line.text))).toBe(true);
  });

  it("runs the Python server of docs/exec.md, which reads a secret", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const created = await runlet.api("/system/secrets", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "greeting", value: "hello" }),
    });
    expect(created.status).toBe(201);
    const docs = readFileSync(
      fileURLToPath(new URL("../../docs/exec.md", import.meta.url)),
      "utf8",
    );
    const example = /```python\n# server.py\n([\s\S]*?)```/.exec(docs)?.[1];
    expect(example).toBeDefined();
    const server = (example ?? "").replace(
      'body = f"hello from {self.path}\\n".encode()',
      'body = (open(os.path.join(os.environ["RUNLET_SECRETS_DIR"], "greeting")).read() + f" from {self.path}\\n").encode()',
    );
    expect(server).not.toBe(example);
    await deployed(
      await runlet.deploy(
        "pyweb",
        { "server.py": server },
        { runtime: "exec", command: "python3 server.py", mode: "http", secrets: ["greeting"] },
      ),
    );
    const response = await fetch(`${runlet.url}/function/pyweb/there`);
    expect(response.headers.get("content-type")).toBe("text/plain");
    expect(await response.text()).toBe("hello from /there\n");
  });

  it("replaces the instance when the program dies, naming the cause", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    await deployed(await runlet.deploy("fragile", { "server.mjs": serverProgram }, httpSpec));
    const before = (await (await fetch(`${runlet.url}/function/fragile`)).json()) as {
      id: string;
    };
    const crashed = await fetch(`${runlet.url}/function/fragile/crash`);
    expect(crashed.status).toBe(502);
    const error = ((await crashed.json()) as ErrorBody).error;
    expect(error.message).toContain("exited with code 5");
    expect(error.message).toContain("fatal: crashing on purpose");
    const after = await fetch(`${runlet.url}/function/fragile`);
    expect(after.status).toBe(201);
    expect(((await after.json()) as { id: string }).id).not.toBe(before.id);
  });

  it("refuses at deploy a program that never listens, or exits at once, with its stderr", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const silent = await runlet.deploy(
      "silent",
      { README: "" },
      {
        runtime: "exec",
        mode: "http",
        command: "echo 'not listening, just waiting' >&2; exec sleep 600",
        env: { RUNLET_READY_TIMEOUT: "1s" },
      },
    );
    expect(silent.status).toBe(400);
    const silentError = ((await silent.json()) as ErrorBody).error;
    expect(silentError.message).toContain("did not listen on $PORT");
    expect(silentError.message).toContain("within 1000 ms");
    expect(silentError.message).toContain("not listening, just waiting");

    const quitter = await runlet.deploy(
      "quitter",
      { README: "" },
      { runtime: "exec", mode: "http", command: "echo 'cannot open config' >&2; exit 2" },
    );
    expect(quitter.status).toBe(400);
    const quitterError = ((await quitter.json()) as ErrorBody).error;
    expect(quitterError.message).toContain("exited with code 2 before it listened on $PORT");
    expect(quitterError.message).toContain("cannot open config");

    const missing = await runlet.deploy(
      "missing",
      { README: "" },
      { runtime: "exec", mode: "http", command: "no-such-server --port $PORT" },
    );
    expect(missing.status).toBe(400);
    const missingError = ((await missing.json()) as ErrorBody).error;
    expect(missingError.message).toContain("exited with code 127");
    expect(missingError.message).toContain("no-such-server: not found");
  });
});

describe("exec runtime, spec and CLI", () => {
  it("says what is wrong with command and mode for the runtime", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const noCommand = await runlet.deploy("a", { README: "" }, { runtime: "exec" });
    expect(noCommand.status).toBe(400);
    expect(((await noCommand.json()) as ErrorBody).error.message).toContain(
      "runtime exec needs a command: runlet deploy NAME --runtime exec --command 'CMD'",
    );
    const nodeWithCommand = await runlet.deploy(
      "b",
      { "index.js": "export default () => 1;" },
      { runtime: "node", command: "cat", mode: "http" },
    );
    expect(nodeWithCommand.status).toBe(400);
    const message = ((await nodeWithCommand.json()) as ErrorBody).error.message;
    expect(message).toContain("command: command is for runtime exec");
    expect(message).toContain("mode: mode is for runtime exec");
  });

  it("creates, tests and deploys the exec template; runlet.yaml carries command and mode", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const cwd = await tempDir("runlet-cli-");
    const env = { RUNLET_GATEWAY: runlet.url, RUNLET_TOKEN: adminToken };
    const cli = (argv: string[]) => runCli(argv, { cwd, env });
    const created = await cli(["new", "greeter", "--runtime", "exec"]);
    expect(created.code).toBe(0);
    // The program reads the body, so the suggested call sends one.
    expect(created.stdout).toContain("Next: runlet deploy && runlet invoke greeter --data Ada\n");
    expect(await readStack(cwd)).toBe(
      "version: 1\nfunctions:\n  greeter:\n    runtime: exec\n    source: ./greeter\n    command: sh handler.sh\n    mode: stdio\n",
    );
    const test = spawnSync("sh", ["test.sh"], { cwd: join(cwd, "greeter"), encoding: "utf8" });
    expect(test.status).toBe(0);
    expect(test.stdout).toContain("ok greets by name");

    // A second function in http mode, from the stack file.
    await mkdir(join(cwd, "web"));
    await writeFile(join(cwd, "web", "server.mjs"), serverProgramForStack);
    await writeFile(
      join(cwd, "runlet.yaml"),
      (await readStack(cwd)) +
        "  web:\n    runtime: exec\n    command: node server.mjs\n    mode: http\n",
    );
    const deploy = await cli(["deploy"]);
    expect(deploy.stderr).not.toContain("Error");
    expect(deploy.code).toBe(0);
    const greeting = await fetch(`${runlet.url}/function/greeter`, { method: "POST", body: "Ada" });
    expect(await greeting.text()).toBe("Hello, Ada!\n");
    expect((await cli(["invoke", "greeter", "--data", "Ada"])).stdout).toBe("Hello, Ada!\n");
    const web = await fetch(`${runlet.url}/function/web/hi`);
    expect(await web.text()).toBe("web says /hi");
  });

  it("points at the line of a stack file entry that lacks its command", async () => {
    const cwd = await tempDir("runlet-cli-");
    await mkdir(join(cwd, "tool"));
    await writeFile(
      join(cwd, "runlet.yaml"),
      "version: 1\nfunctions:\n  tool:\n    runtime: exec\n",
    );
    const result = await runCli(["deploy"], {
      cwd,
      env: { RUNLET_GATEWAY: "http://127.0.0.1:9", RUNLET_TOKEN: adminToken },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "runlet.yaml:3: functions.tool.command: runtime exec needs a command",
    );
  });
});

const serverProgramForStack = `
import { createServer } from "node:http";
createServer((req, res) => res.end("web says " + req.url)).listen(Number(process.env.PORT));
`;

async function readStack(cwd: string): Promise<string> {
  return readFileSync(join(cwd, "runlet.yaml"), "utf8");
}

describe("exec runtime server, directly", () => {
  const serverPath = fileURLToPath(new URL("../../runtimes/exec/server.mjs", import.meta.url));

  async function startRuntime(): Promise<{ socket: string; child: ChildProcess }> {
    const dir = await tempDir("runlet-exec-");
    const socket = join(dir, "runtime.sock");
    const child = spawn(process.execPath, [serverPath], {
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", RUNLET_SOCKET: socket },
      stdio: ["ignore", "inherit", "inherit"],
    });
    onTestFinished(() => {
      child.kill("SIGKILL");
    });
    await eventually(() => (existsSync(socket) ? true : undefined), { what: "the runtime" });
    return { socket, child };
  }

  function call(
    socket: string,
    path: string,
    options: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolveCall, reject) => {
      const req = request(
        { socketPath: socket, path, method: options.method ?? "GET", headers: options.headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () =>
            resolveCall({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
        },
      );
      req.on("error", reject);
      req.end(options.body);
    });
  }

  async function specialize(socket: string, packagePath: string, extra: object): Promise<void> {
    const response = await call(socket, "/v2/specialize", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        name: "direct",
        revision: "1",
        packagePath,
        handler: "",
        env: {},
        timeoutMs: 30_000,
        ...extra,
      }),
    });
    expect(response).toMatchObject({ status: 200 });
  }

  it("kills the process group at the call's deadline and keeps serving", async () => {
    const { socket } = await startRuntime();
    const sleep = uniqueSleep();
    const packagePath = await writeSource({ README: "" });
    // The command starts a child of its own: the whole group must go.
    await specialize(socket, packagePath, {
      command: `${sleep.command} & wait`,
      mode: "stdio",
      concurrency: 4,
    });
    const timedOut = await call(socket, "/", {
      headers: { "x-call-id": "c1", "x-runlet-deadline": String(Date.now() + 300) },
    });
    expect(timedOut.status).toBe(504);
    expect(JSON.parse(timedOut.body)).toMatchObject({
      error: { code: "RUNLET_FUNCTION_TIMEOUT" },
    });
    await eventually(() => (processesWith(sleep.marker).length === 0 ? true : undefined), {
      what: "the sleep to be killed",
    });
    expect(await call(socket, "/healthz")).toMatchObject({ status: 200 });
  });

  it("ends the call when the command exits, killing what it left behind", async () => {
    const { socket } = await startRuntime();
    const sleep = uniqueSleep();
    const packagePath = await writeSource({ README: "" });
    await specialize(socket, packagePath, {
      command: `${sleep.command} & echo answered`,
      mode: "stdio",
      concurrency: 4,
    });
    const response = await call(socket, "/", { headers: { "x-call-id": "c1" } });
    expect(response).toEqual({ status: 200, body: "answered\n" });
    await eventually(() => (processesWith(sleep.marker).length === 0 ? true : undefined), {
      what: "the leftover sleep to be killed",
    });
  });

  it("runs at most `concurrency` programs at once", async () => {
    const { socket } = await startRuntime();
    const packagePath = await writeSource({
      // Fails if another call holds the lock: only one may run at a time.
      "once.sh":
        'mkdir "$LOCK" 2>/dev/null || { echo overlap >&2; exit 9; }\nsleep 0.2\nrmdir "$LOCK"\necho done\n',
    });
    const lockRoot = await tempDir("runlet-lock-");
    await specialize(socket, packagePath, {
      command: "sh once.sh",
      mode: "stdio",
      concurrency: 1,
      env: { LOCK: join(lockRoot, "lock") },
    });
    const results = await Promise.all(
      Array.from({ length: 4 }, (_, i) => call(socket, "/", { headers: { "x-call-id": `c${i}` } })),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(results.map((r) => r.body)).toEqual(["done\n", "done\n", "done\n", "done\n"]);
  });
});
