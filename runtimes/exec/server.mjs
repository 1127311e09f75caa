// The exec runtime server: any program is a function (docs/exec.md). Dependency-free, and it
// speaks the same protocol as the Node.js runtime (docs/runtime-protocol.md), with whose server
// it shares runtimes/shared/ (the provider mounts runtimes/ as a whole, so it is there too).
//
// Two modes, as the function's spec says:
// - stdio: one process per call (`/bin/sh -c COMMAND` in the package directory); the request
//   body is its stdin, its stdout the response body, request metadata is in Http_* variables.
// - http: one long-running program per instance, started at specialize with PORT set; calls
//   are proxied to it, and the instance exits when the program does.
import { spawn, spawnSync } from "node:child_process";
import { accessSync, constants, statSync, writeSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { connect, createServer as createNetServer } from "node:net";
import { resolve } from "node:path";
import { control, exitWithSupervisor, log } from "../shared/control.mjs";
import { withoutHopByHop } from "../shared/hop-by-hop.mjs";
import { createRuntimeServer } from "../shared/http-server.mjs";
import { onLines } from "../shared/lines.mjs";
import { listenRuntime, stopOnSignals } from "../shared/listen.mjs";
import { drainedOrClosed, send, sendJson } from "../shared/responses.mjs";
import { LoadError, sendNotSpecialized, specializeOnce } from "../shared/specialize.mjs";

exitWithSupervisor();

/** Lines the runtime keeps of a program's stderr, for error messages. */
const stderrTailLines = 10;
const stderrLineChars = 500;
/** stdio mode holds the response head back until the program exits, or this much output… */
const holdBytes = 64 * 1024;
/** …or this long after its first output, so a failing program still gets a 500. */
const holdMs = 200;
/** http mode: how long the program may take to listen, unless RUNLET_READY_TIMEOUT says. */
const defaultReadyTimeoutMs = 10_000;

/** Variables of the runtime server itself; the function's programs do not see them. */
const internalEnv = new Set([
  "RUNLET_SOCKET",
  "RUNLET_FRAME_SOCKET",
  "RUNLET_HTTP_ADDRESS",
  "RUNLET_FRAME_ADDRESS",
  "RUNLET_CONTROL_FD",
  "RUNLET_WARMUP",
  "RUNLET_CGROUP_PROCS",
  "PORT",
]);

/**
 * The loaded function: {name, revision, command, mode, cwd, env, concurrency} and, in http
 * mode, {port, agent}.
 * @type {Record<string, any> | undefined}
 */
let loaded;
/** Process groups of running stdio calls, killed if the runtime goes. */
const callGroups = new Set();
/** The http mode program, killed if the runtime goes. */
let program;

const server = createRuntimeServer({
  isSpecialized: () => loaded !== undefined,
  specialize: specializeOnce(load),
  serveCall,
});

/**
 * One invocation, over HTTP or frames: `call` is {method, url, headers, readBody(), bodyStream?}
 * (frames deliver the body whole), `res` the HTTP response or a FrameResponse.
 */
function serveCall(call, res) {
  if (!loaded) {
    return sendNotSpecialized(res);
  }
  if (loaded.mode === "http") {
    return proxyCall(call, res, loaded);
  }
  void runStdioCall(call, res, loaded);
}

/** Makes this instance the function's: checks its command, or starts its program (http mode). */
async function load(request) {
  const command = typeof request.command === "string" ? request.command.trim() : "";
  if (!command) {
    throw new LoadError(
      "RUNLET_HANDLER_NOT_FOUND",
      "runtime exec needs a command: runlet deploy NAME --runtime exec --command 'CMD'",
    );
  }
  const mode = request.mode === "http" ? "http" : "stdio";
  const cwd = request.packagePath;
  const env = programEnv(request.env ?? {}, request.secretsDir);
  const target = {
    name: request.name,
    revision: request.revision,
    command,
    mode,
    cwd,
    env,
    concurrency: Math.max(1, Number(request.concurrency) || 1),
  };
  if (mode === "stdio") {
    checkCommand(command, cwd, env);
  } else {
    Object.assign(
      target,
      await startProgram(command, cwd, env, readyTimeoutMs(env), target.concurrency),
    );
  }
  loaded = target;
}

/** The environment every program of the function gets: the instance's, minus the runtime's own. */
function programEnv(functionEnv, secretsDir) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!internalEnv.has(key) && value !== undefined) {
      env[key] = value;
    }
  }
  if (secretsDir) {
    env.RUNLET_SECRETS_DIR = secretsDir;
  }
  return { ...env, ...functionEnv };
}

function readyTimeoutMs(env) {
  const raw = env.RUNLET_READY_TIMEOUT;
  if (!raw) {
    return defaultReadyTimeoutMs;
  }
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(raw.trim());
  if (!match) {
    return defaultReadyTimeoutMs;
  }
  return Number(match[1]) * (match[2] === "s" ? 1000 : 1);
}

/**
 * stdio mode runs the command only when called, so its mistakes are caught here instead:
 * a shell syntax error, or a first word that names no program.
 */
function checkCommand(command, cwd, env) {
  const syntax = spawnSync("/bin/sh", ["-n", "-c", command], { cwd, env, encoding: "utf8" });
  if (syntax.error) {
    throw new LoadError(
      "RUNLET_HANDLER_LOAD_FAILED",
      `cannot run /bin/sh: ${syntax.error.message}`,
    );
  }
  if (syntax.status !== 0) {
    throw new LoadError(
      "RUNLET_HANDLER_LOAD_FAILED",
      `the command is not valid shell: ${syntax.stderr.trim() || `sh exited with ${syntax.status}`}`,
    );
  }
  const word = command.split(/\s+/)[0];
  // Only a plain first word can be checked without running anything; an assignment, a
  // quoted word or a compound command is left to the shell at call time.
  if (!/^[A-Za-z0-9_./+-]+$/.test(word)) {
    return;
  }
  if (word.includes("/")) {
    const path = resolve(cwd, word);
    let isFile = false;
    try {
      isFile = statSync(path).isFile();
    } catch {
      // Reported below.
    }
    if (!isFile) {
      throw new LoadError(
        "RUNLET_HANDLER_NOT_FOUND",
        `the command cannot start: sh: ${word}: not found; ${word} is not a file in the function's source (the command runs in the package directory)`,
      );
    }
    try {
      accessSync(path, constants.X_OK);
    } catch {
      throw new LoadError(
        "RUNLET_HANDLER_NOT_FOUND",
        `the command cannot start: sh: ${word}: Permission denied; make it executable (chmod +x ${word}) before deploying, or run it through its interpreter, e.g. --command 'sh ${word}'`,
      );
    }
    return;
  }
  const found = spawnSync("/bin/sh", ["-c", 'command -v -- "$1"', "sh", word], {
    cwd,
    env,
    encoding: "utf8",
  });
  if (found.status !== 0) {
    throw new LoadError(
      "RUNLET_HANDLER_NOT_FOUND",
      `the command cannot start: sh: ${word}: not found; it must be a program on the instance's PATH, or a file in the function's source run by its path (./${word})`,
    );
  }
}

// ---------------------------------------------------------------------------------------
// stdio mode

let running = 0;
const waitingForSlot = [];

/** At most `concurrency` programs run at once; more calls wait their turn. */
function takeSlot(limit) {
  if (running < limit) {
    running += 1;
    return Promise.resolve();
  }
  return new Promise((resolveSlot) => waitingForSlot.push(resolveSlot));
}

function giveSlot() {
  const next = waitingForSlot.shift();
  if (next) {
    next();
  } else {
    running -= 1;
  }
}

async function runStdioCall(call, res, target) {
  const callId = String(call.headers["x-call-id"]);
  await takeSlot(target.concurrency);
  if (res.destroyed) {
    giveSlot();
    return;
  }
  const url = new URL(call.url ?? "/", "http://function");
  const child = spawn("/bin/sh", ["-c", target.command], {
    cwd: target.cwd,
    env: { ...target.env, ...requestEnv(call.method, url, call.headers) },
    stdio: ["pipe", "pipe", "pipe"],
    // Its own process group, so a timeout or a cancel stops everything the command started.
    detached: true,
  });
  const group = child.pid;
  if (group !== undefined) {
    callGroups.add(group);
  }
  let outcome; // "timeout" | "cancelled" once the call is given up
  const stop = (why) => {
    outcome ??= why;
    killGroup(group);
  };
  const deadline = Number(call.headers["x-runlet-deadline"]);
  const timer =
    Number.isFinite(deadline) && deadline > 0
      ? setTimeout(() => stop("timeout"), Math.max(0, deadline - Date.now()))
      : undefined;
  res.on("close", () => {
    if (!res.writableFinished) {
      stop("cancelled");
    }
  });

  const stderrTail = [];
  onLines(child.stderr, (line) => {
    log("stderr", line, callId);
    stderrTail.push(line.slice(0, stderrLineChars));
    if (stderrTail.length > stderrTailLines) {
      stderrTail.shift();
    }
  });

  // Output is held back briefly, so that a program that fails at once still answers 500; past
  // that it streams, and a later failure cuts the answer off.
  let headSent = false;
  let held = [];
  let heldBytes = 0;
  let holdTimer;
  const contentType = responseContentType(target.env, call.headers);
  const sendHead = () => {
    clearTimeout(holdTimer);
    if (headSent || res.destroyed) {
      return;
    }
    headSent = true;
    res.writeHead(200, { "content-type": contentType });
    const chunks = held;
    held = [];
    heldBytes = 0;
    for (const chunk of chunks) {
      writeOrPause(chunk);
    }
  };
  const writeOrPause = (chunk) => {
    if (!res.write(chunk)) {
      child.stdout.pause();
      void drainedOrClosed(res).then(() => child.stdout.resume());
    }
  };
  child.stdout.on("data", (chunk) => {
    if (res.destroyed) {
      return;
    }
    if (headSent) {
      return writeOrPause(chunk);
    }
    held.push(chunk);
    heldBytes += chunk.length;
    if (heldBytes >= holdBytes) {
      sendHead();
    } else if (held.length === 1) {
      holdTimer = setTimeout(sendHead, holdMs);
    }
  });

  child.stdin.on("error", () => {
    // The program did not read all of its input (EPIPE): that is its business.
  });
  if (call.bodyStream) {
    call.bodyStream.on("error", () => stop("cancelled"));
    call.bodyStream.pipe(child.stdin);
  } else {
    call.readBody().then(
      (body) => child.stdin.end(body),
      () => stop("cancelled"),
    );
  }

  child.on("error", (error) => {
    // spawn itself failed (no /bin/sh, no memory): "close" follows with no exit code.
    stderrTail.push(error.message);
  });
  // The call ends with the command: anything it left running in its group goes with it (and
  // with it the last holders of stdout, so "close" follows).
  child.on("exit", () => killGroup(group));
  child.on("close", (code, signal) => {
    clearTimeout(timer);
    clearTimeout(holdTimer);
    callGroups.delete(group);
    giveSlot();
    if (outcome === "cancelled" || res.destroyed) {
      return;
    }
    if (outcome === "timeout") {
      const message = "function timed out; its process was killed";
      if (headSent) {
        return res.destroy(new Error(message));
      }
      return sendJson(res, 504, { error: { code: "RUNLET_FUNCTION_TIMEOUT", message } });
    }
    if (code === 0) {
      if (headSent) {
        return res.end();
      }
      return send(res, 200, { "content-type": contentType }, Buffer.concat(held));
    }
    const how = signal
      ? `was killed by ${signal}${signal === "SIGKILL" ? " (over the function's memory limit?)" : ""}`
      : `exited with code ${code ?? "unknown"}`;
    const tail = stderrTail.join("\n");
    const message = `the command ${how}${tail ? `: ${tail}` : " (it wrote nothing to stderr)"}`;
    if (headSent) {
      log("stderr", `${message} after its answer had started; the answer was cut off`, callId);
      return res.destroy(new Error(message));
    }
    sendJson(
      res,
      500,
      {
        error: {
          code: "RUNLET_HANDLER_ERROR",
          message,
          exitCode: code,
          signal: signal ?? undefined,
          stderr: tail,
        },
      },
      { "x-runlet-error": "handler" },
    );
  });
}

/**
 * Request metadata as variables, as OpenFaaS's classic watchdog sets them: Http_Method,
 * Http_Path, Http_Query, and each header as Http_<Header_Name> (Content-Type → Http_Content_Type).
 */
function requestEnv(method, url, headers) {
  const env = {
    Http_Method: method ?? "GET",
    Http_Path: url.pathname,
    Http_Query: url.search.slice(1),
  };
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || !/^[A-Za-z0-9-]+$/.test(name)) {
      continue;
    }
    const canonical = name
      .split("-")
      .map((part) => part.charAt(0).toUpperCase() + part.slice(1).toLowerCase())
      .join("_");
    env[`Http_${canonical}`] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return env;
}

/**
 * As OpenFaaS's classic watchdog: the function's `content_type` variable when set, else the
 * caller's Content-Type, else application/octet-stream (the output is whatever the program
 * printed).
 */
function responseContentType(env, headers) {
  return env.content_type || headers["content-type"] || "application/octet-stream";
}

function killGroup(group) {
  if (group === undefined) {
    return;
  }
  try {
    process.kill(-group, "SIGKILL");
  } catch {
    // Already gone.
  }
}

// ---------------------------------------------------------------------------------------
// http mode

/** Starts the program with PORT set and waits until it accepts connections there. */
async function startProgram(command, cwd, env, timeoutMs, concurrency) {
  const port = await freePort();
  const child = spawn("/bin/sh", ["-c", command], {
    cwd,
    env: { ...env, PORT: String(port) },
    // In the runtime's own process group: stopping the instance stops the program too.
    stdio: ["ignore", "pipe", "pipe"],
  });
  program = child;
  const stderrTail = [];
  onLines(child.stdout, (line) => log("stdout", line));
  onLines(child.stderr, (line) => {
    log("stderr", line);
    stderrTail.push(line.slice(0, stderrLineChars));
    if (stderrTail.length > stderrTailLines) {
      stderrTail.shift();
    }
  });
  const exited = new Promise((resolveExit) => {
    child.on("error", (error) => {
      stderrTail.push(error.message);
      resolveExit({ code: null, signal: null });
    });
    child.on("exit", (code, signal) => resolveExit({ code, signal }));
  });
  const describeExit = ({ code, signal }) =>
    signal ? `was killed by ${signal}` : `exited with code ${code ?? "unknown"}`;
  const tail = () => {
    const text = stderrTail.join("\n");
    return text ? `; its stderr:\n${text}` : " (it wrote nothing to stderr)";
  };
  let ready = false;
  const waited = await Promise.race([
    waitForListener(port, timeoutMs, () => !ready && program === child).then((listening) =>
      listening ? "listening" : "timeout",
    ),
    exited.then((exit) => ({ exit })),
  ]);
  ready = true;
  if (waited === "timeout") {
    child.kill("SIGKILL");
    throw new LoadError(
      "RUNLET_HANDLER_LOAD_FAILED",
      `the program did not listen on $PORT (${port}) within ${timeoutMs} ms; an http-mode program must serve HTTP on the port in the PORT variable (set RUNLET_READY_TIMEOUT in its env if it needs longer to start)${tail()}`,
    );
  }
  if (waited !== "listening") {
    throw new LoadError(
      "RUNLET_HANDLER_LOAD_FAILED",
      `the program ${describeExit(waited.exit)} before it listened on $PORT${tail()}`,
    );
  }
  // From now on the program is the function: if it goes, the instance goes, and the
  // executor starts a new one.
  void exited.then((exit) => {
    const last = stderrTail.at(-1);
    writeSync(2, `error: the function's program ${describeExit(exit)}${last ? `: ${last}` : ""}\n`);
    process.exit(exit.code || 1);
  });
  return {
    port,
    // The program sees at most `concurrency` requests at once, as the spec promises.
    agent: new Agent({ keepAlive: true, maxSockets: concurrency }),
    // Never settles: the runtime exits when the program does.
    programExit: exited.then(() => new Promise(() => {})),
  };
}

/** A port on the loopback interface that nothing listens on right now. */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createNetServer();
    probe.once("error", reject);
    probe.listen({ host: "127.0.0.1", port: 0 }, () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (probe.address());
      probe.close(() => resolvePort(port));
    });
  });
}

/** Polls with TCP connects until one succeeds (true) or the time is up (false). */
async function waitForListener(port, timeoutMs, stillWanted) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && stillWanted()) {
    const connected = await new Promise((resolveConnect) => {
      const socket = connect({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolveConnect(true);
      });
      socket.once("error", () => resolveConnect(false));
    });
    if (connected) {
      return true;
    }
    await new Promise((wake) => setTimeout(wake, 25));
  }
  return false;
}

/** Forwards one call to the program: method, path, query, headers, and both bodies streamed. */
function proxyCall(call, res, target) {
  let headSent = false;
  let timedOut = false;
  const fail = (status, code, message) => {
    if (res.destroyed) {
      return;
    }
    if (headSent) {
      return res.destroy(new Error(message));
    }
    sendJson(res, status, { error: { code, message } });
  };
  const upstream = httpRequest(
    {
      host: "127.0.0.1",
      port: target.port,
      method: call.method,
      path: call.url,
      headers: withoutHopByHop(call.headers),
      agent: target.agent,
    },
    (answer) => {
      headSent = true;
      res.writeHead(answer.statusCode ?? 502, withoutHopByHop(answer.headers));
      answer.on("data", (chunk) => {
        if (!res.destroyed && !res.write(chunk)) {
          answer.pause();
          void drainedOrClosed(res).then(() => answer.resume());
        }
      });
      answer.on("end", () => {
        if (!res.destroyed) {
          res.end();
        }
      });
      answer.on("close", () => {
        if (!answer.complete) {
          fail(502, "RUNLET_UPSTREAM_FAILED", "the program cut its answer off");
        }
      });
    },
  );
  upstream.on("error", (error) => {
    if (timedOut) {
      return fail(504, "RUNLET_FUNCTION_TIMEOUT", "function timed out");
    }
    // A program that died takes the instance with it, and the router names the cause: that
    // says more than "socket hang up". The exit is noticed a moment after the socket closes.
    void Promise.race([
      target.programExit,
      new Promise((wake) => setTimeout(wake, 250).unref()),
    ]).then(() =>
      fail(
        502,
        "RUNLET_UPSTREAM_FAILED",
        `the function's program did not answer: ${error.message}`,
      ),
    );
  });
  const deadline = Number(call.headers["x-runlet-deadline"]);
  const timer =
    Number.isFinite(deadline) && deadline > 0
      ? setTimeout(
          () => {
            timedOut = true;
            upstream.destroy(new Error("function timed out"));
          },
          Math.max(0, deadline - Date.now()),
        )
      : undefined;
  res.on("close", () => {
    clearTimeout(timer);
    if (!res.writableFinished) {
      // The caller went away or the call was cancelled: so does the program's request.
      upstream.destroy();
    }
  });
  if (call.bodyStream) {
    call.bodyStream.on("error", (error) => upstream.destroy(error));
    call.bodyStream.pipe(upstream);
  } else {
    call.readBody().then(
      (body) => upstream.end(body.length > 0 ? body : undefined),
      (error) => upstream.destroy(error),
    );
  }
}

// ---------------------------------------------------------------------------------------
// start

const { frameServer } = await listenRuntime(server, serveCall);
control({ event: "ready", pid: process.pid });

// Programs the function started do not outlive the instance.
process.on("exit", () => {
  for (const group of callGroups) {
    killGroup(group);
  }
  if (program?.exitCode === null && program.signalCode === null) {
    program.kill("SIGKILL");
  }
});
stopOnSignals(server, frameServer);
