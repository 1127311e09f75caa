// The Node.js runtime server: runs inside each function instance, dependency-free.
// It starts generic, is specialized once with a function's package (POST /v2/specialize),
// then serves invocations. Protocol: docs/runtime-protocol.md.
import { AsyncLocalStorage } from "node:async_hooks";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { format } from "node:util";
import { control, exitWithSupervisor } from "../shared/control.mjs";
import { createRuntimeServer } from "../shared/http-server.mjs";
import { listenRuntime, stopOnSignals } from "../shared/listen.mjs";
import { describeError, drainedOrClosed, send, sendJson } from "../shared/responses.mjs";
import { LoadError, sendNotSpecialized, specializeOnce } from "../shared/specialize.mjs";
import { adaptHandler, compatShapes, finishedAnswer } from "./compat.mjs";

exitWithSupervisor();

/**
 * Which call printed a log line. On Node 20 an AsyncLocalStorage costs every promise in the
 * process a hook (about a quarter of an instance's CPU per call, measured), so it is turned on
 * only once the function first prints: a function that never logs never pays for it. Until
 * then, and for calls that started before it, a line belongs to the call in flight when
 * there is just one.
 */
const callContext = new AsyncLocalStorage();
let trackingCalls = false;
/**
 * Calls in flight, linked through their own records. Not a Set: one that gains and loses an
 * entry per call keeps rehashing, and its old tables hold calls past their end (see StreamMap
 * in frame-server.mjs).
 */
const callsInFlight = {
  /** @type {InFlight | undefined} */
  first: undefined,
  size: 0,
};

class InFlight {
  /** @type {InFlight | undefined} */
  previous = undefined;
  /** @type {InFlight | undefined} */
  next = undefined;

  constructor(callId) {
    this.callId = callId;
    this.next = callsInFlight.first;
    if (this.next) {
      this.next.previous = this;
    }
    callsInFlight.first = this;
    callsInFlight.size += 1;
  }

  done() {
    if (this.previous) {
      this.previous.next = this.next;
    } else {
      callsInFlight.first = this.next;
    }
    if (this.next) {
      this.next.previous = this.previous;
    }
    this.previous = this.next = undefined;
    callsInFlight.size -= 1;
  }
}

function currentCallId() {
  trackingCalls = true;
  const tracked = callContext.getStore();
  if (tracked !== undefined) {
    return tracked;
  }
  return callsInFlight.size === 1 ? callsInFlight.first?.callId : undefined;
}

// console.* goes to the function's logs, tagged with the call that printed it.
for (const [method, stream] of /** @type {const} */ ([
  ["log", "stdout"],
  ["info", "stdout"],
  ["debug", "stdout"],
  ["warn", "stderr"],
  ["error", "stderr"],
])) {
  console[method] = (...args) => {
    control({ event: "log", stream, callId: currentCallId(), text: format(...args) });
  };
}

/** @type {{ fn: Function, name: string, revision: string, secretsDir?: string } | undefined} */
let loaded;

const server = createRuntimeServer({
  isSpecialized: () => loaded !== undefined,
  specialize: specializeOnce(load),
  serveCall,
});

/**
 * One invocation, over HTTP or frames: `call` is {method, url, headers, readBody()}, `res`
 * the HTTP response or a FrameResponse, which answers to the same calls.
 */
function serveCall(call, res) {
  if (warming && call.headers["x-runlet-warmup"]) {
    return void invoke(call, res, warming);
  }
  if (!loaded) {
    return sendNotSpecialized(res);
  }
  void invoke(call, res, loaded);
}

/** Makes this instance the function's: its env, its package as working directory, its handler. */
async function load(request) {
  Object.assign(process.env, request.env ?? {});
  process.chdir(request.packagePath);
  if (request.compat && !compatShapes.includes(request.compat)) {
    throw new LoadError(
      "RUNLET_UNKNOWN_COMPAT",
      `unknown compat shape ${JSON.stringify(request.compat)}; known: ${compatShapes.join(", ")}`,
    );
  }
  const loadedFn = await loadHandler(request.packagePath, request.handler);
  // A function written for another platform gets that platform's call shape.
  const fn = request.compat
    ? adaptHandler(request.compat, loadedFn, {
        name: request.name,
        handler: request.handler,
        timeoutMs: request.timeoutMs,
        secretsDir: request.secretsDir,
        fissionDir: request.fissionDir,
      })
    : loadedFn;
  loaded = { fn, name: request.name, revision: request.revision, secretsDir: request.secretsDir };
}

/** Resolves "file.js" or "file.js:exportName" inside the package and returns the function. */
async function loadHandler(packagePath, handler) {
  const separator = handler.lastIndexOf(":");
  const file = separator > 0 ? handler.slice(0, separator) : handler;
  const exportName = separator > 0 ? handler.slice(separator + 1) : undefined;
  const root = resolve(packagePath);
  const path = resolve(root, file);
  if (path !== root && !path.startsWith(root + sep)) {
    throw new LoadError("RUNLET_HANDLER_NOT_FOUND", `handler ${file} is outside the package`);
  }
  if (!existsSync(path)) {
    throw new LoadError(
      "RUNLET_HANDLER_NOT_FOUND",
      `handler file ${file} does not exist in the function's source; set --handler to the file that exports the function`,
      { file },
    );
  }
  let mod;
  try {
    mod = await import(pathToFileURL(path).href);
  } catch (error) {
    throw describeLoadFailure(error, path, file);
  }
  const candidates = exportName
    ? [mod[exportName], mod.default?.[exportName]]
    : [mod.default, mod.handle, mod.handler, mod.default?.handle, mod.default?.handler];
  const fn = candidates.find((c) => typeof c === "function");
  if (!fn) {
    const wanted = exportName ? `an export named "${exportName}"` : "a default export";
    throw new LoadError(
      "RUNLET_HANDLER_NO_EXPORT",
      `${file} has no ${wanted} that is a function; write \`export default async function (event, context) { … }\` or \`module.exports = async (event, context) => …\``,
      { file },
    );
  }
  return fn;
}

/** Finds the file and line of a load failure: from the stack, or by re-parsing an ES module. */
function describeLoadFailure(error, path, file) {
  const stack = String(error?.stack ?? "");
  const fileUrl = pathToFileURL(path).href;
  let line;
  for (const candidate of [path, fileUrl]) {
    const match = new RegExp(`${escapeRegExp(candidate)}:(\\d+)`).exec(stack);
    if (match) {
      line = Number(match[1]);
      break;
    }
  }
  if (error?.name === "SyntaxError") {
    // ES module syntax errors carry no location on Node 20; a syntax check of the source does.
    line ??= syntaxErrorLine(path);
    return new LoadError(
      "RUNLET_HANDLER_SYNTAX",
      `${file}${line ? `:${line}` : ""}: SyntaxError: ${error.message}`,
      {
        file,
        line,
      },
    );
  }
  return new LoadError(
    "RUNLET_HANDLER_LOAD_FAILED",
    `${file}${line ? `:${line}` : ""}: loading the handler threw ${error?.name ?? "an error"}: ${error?.message ?? error}`,
    { file, line },
  );
}

function syntaxErrorLine(path) {
  const check = spawnSync(process.execPath, ["--input-type=module", "--check"], {
    input: readFileSync(path),
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "" },
  });
  const match = /^\[stdin\]:(\d+)/m.exec(check.stderr ?? "");
  return match ? Number(match[1]) : undefined;
}

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * A call's context.signal, made only when the handler first reads it: most handlers never
 * do, and an AbortController plus a deadline timer are a good part of a small call's cost.
 * Read late, it is already aborted if the call was cancelled or its deadline has passed.
 */
class CallSignal {
  #deadline;
  #controller;
  #timer;
  #reason;

  constructor(deadline) {
    this.#deadline = deadline;
  }

  get signal() {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      const left = this.#deadline === undefined ? undefined : this.#deadline - Date.now();
      if (this.#reason !== undefined) {
        this.#controller.abort(this.#reason);
      } else if (left !== undefined && left <= 0) {
        this.abort(new Error("function timeout"));
      } else if (left !== undefined) {
        this.#timer = setTimeout(() => this.abort(new Error("function timeout")), left);
      }
    }
    return this.#controller.signal;
  }

  abort(reason) {
    if (this.#reason !== undefined) {
      return;
    }
    this.#reason = reason;
    this.finish();
    this.#controller?.abort(reason);
  }

  /** The answer is complete: no timeout any more. */
  finish() {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}

/**
 * The handler's `context`. A class, not an object literal with `get signal()`: a getter in a
 * literal is a new closure per call, so every call's object got a hidden class of its own, kept
 * in the old generation, and through it everything the call touched survived young-generation
 * collections until the next full one (measured: 4-8 ms scavenges promoting megabytes, about
 * half of a small call's CPU).
 */
class CallContext {
  #cancellation;

  constructor(callId, target, deadline, cancellation) {
    this.callId = callId;
    this.functionName = target.name;
    this.revision = target.revision;
    this.deadline = deadline ? new Date(deadline) : undefined;
    this.secretsDir = target.secretsDir;
    // An own property, so `const { secret } = context` keeps working.
    this.secret = (name) => readSecret(target.secretsDir, name);
    this.#cancellation = cancellation;
  }

  /** Aborts when the caller goes away or the deadline passes; made on first read. */
  get signal() {
    return this.#cancellation.signal;
  }
}

/** Paths without a query, percent-escapes or dot segments: what URL would give back unchanged. */
const plainPath = /^\/(?!\/)[\w\-.~!$&'()*+,;=:@/]*$/;

async function invoke(req, res, target) {
  const callId = String(req.headers["x-call-id"]);
  const deadlineHeader = Number(req.headers["x-runlet-deadline"]);
  const deadline =
    Number.isFinite(deadlineHeader) && deadlineHeader > 0 ? deadlineHeader : undefined;
  const cancellation = new CallSignal(deadline);
  res.on("close", () => {
    if (res.writableFinished) {
      cancellation.finish();
    } else {
      cancellation.abort(new Error(res.cancelReason ?? "caller went away"));
    }
  });
  const run = async () => {
    let result;
    try {
      // Framed calls arrive whole; over HTTP the body is still to be read.
      const rawBody = req.body ?? (await req.readBody());
      const rawUrl = req.url ?? "/";
      let path = rawUrl;
      let query = {};
      if (!plainPath.test(rawUrl) || rawUrl.includes("/.")) {
        const url = new URL(rawUrl, "http://function");
        path = url.pathname;
        query = queryObject(url.searchParams);
      }
      const event = {
        method: req.method,
        path,
        query,
        headers: req.headers,
        body: decodeBody(rawBody, req.headers["content-type"]),
        rawBody,
        params: paramsFromHeader(req.headers["x-runlet-params"]),
      };
      const context = new CallContext(callId, target, deadline, cancellation);
      result = await target.fn(event, context);
    } catch (error) {
      console.error(error instanceof Error && error.stack ? error.stack : String(error));
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      return sendJson(
        res,
        500,
        { error: { code: "RUNLET_HANDLER_ERROR", message } },
        { "x-runlet-error": "handler" },
      );
    }
    const sending = sendResult(res, result);
    if (sending) {
      await sending;
    }
  };
  const inFlight = new InFlight(callId);
  try {
    await (trackingCalls ? callContext.run(callId, run) : run());
  } finally {
    inFlight.done();
  }
}

function readSecret(dir, name) {
  if (!dir || !/^[a-z0-9-]+$/.test(name)) {
    return undefined;
  }
  try {
    return readFileSync(join(dir, name), "utf8");
  } catch {
    return undefined;
  }
}

function queryObject(params) {
  const query = {};
  for (const [key, value] of params) {
    const existing = query[key];
    query[key] = existing === undefined ? value : [].concat(existing, value);
  }
  return query;
}

function paramsFromHeader(header) {
  if (typeof header !== "string") {
    return {};
  }
  try {
    return JSON.parse(header);
  } catch {
    return {};
  }
}

function decodeBody(raw, contentType = "") {
  if (raw.length === 0) {
    return undefined;
  }
  const type = (contentType.split(";")[0] ?? "").trim().toLowerCase();
  if (type === "application/json" || type.endsWith("+json")) {
    try {
      return JSON.parse(raw.toString("utf8"));
    } catch {
      return raw.toString("utf8");
    }
  }
  if (type.startsWith("text/") || type === "application/x-www-form-urlencoded" || type === "") {
    return raw.toString("utf8");
  }
  return raw;
}

function isStream(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    (typeof value[Symbol.asyncIterator] === "function" || typeof value.getReader === "function") &&
    !Buffer.isBuffer(value) &&
    typeof value !== "string"
  );
}

/** Answers with the handler's result; returns a promise only while a stream is being sent. */
function sendResult(res, result) {
  if (result?.[finishedAnswer]) {
    res.writeHead(result.status, result.headers);
    return void res.end(result.body);
  }
  let status = 200;
  let headers = {};
  let body = result;
  if (
    result !== null &&
    typeof result === "object" &&
    typeof result.statusCode === "number" &&
    !isStream(result)
  ) {
    status = result.statusCode;
    headers = lowerCaseKeys(result.headers ?? {});
    body = result.body;
  }
  if (body === undefined || body === null) {
    res.writeHead(result === undefined ? 204 : status, headers);
    return void res.end();
  }
  if (typeof body === "string") {
    return sendBody(res, status, headers, "text/plain; charset=utf-8", Buffer.from(body));
  }
  if (Buffer.isBuffer(body) || body instanceof Uint8Array) {
    return sendBody(res, status, headers, "application/octet-stream", body);
  }
  if (isStream(body)) {
    return sendStream(res, status, headers, body);
  }
  sendBody(res, status, headers, "application/json", Buffer.from(JSON.stringify(body)));
}

async function sendStream(res, status, headers, body) {
  headers["content-type"] ??= "application/octet-stream";
  res.writeHead(status, headers);
  try {
    const iterable = typeof body.getReader === "function" ? webStreamChunks(body) : body;
    for await (const chunk of iterable) {
      if (res.destroyed) {
        // The caller is gone: stop pulling from the function's stream (ends the generator).
        break;
      }
      const bytes =
        typeof chunk === "string" || chunk instanceof Uint8Array ? chunk : JSON.stringify(chunk);
      if (!res.write(bytes)) {
        await drainedOrClosed(res);
      }
    }
    if (!res.destroyed) {
      res.end();
    }
  } catch (error) {
    console.error(`response stream failed: ${describeError(error)}`);
    res.destroy(error);
  }
}

async function* webStreamChunks(stream) {
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      return;
    }
    yield value;
  }
}

/** A whole body, of `defaultType` unless the handler's headers say otherwise. */
function sendBody(res, status, headers, defaultType, bytes) {
  headers["content-type"] ??= defaultType;
  send(res, status, headers, bytes);
}

function lowerCaseKeys(headers) {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
}

/** The target of warm-up calls, set only while warming up. */
let warming;

/**
 * Runs the load and call paths a few times against a built-in handler before reporting
 * ready (pool instances only, RUNLET_WARMUP=1): the first real specialize and call of a
 * fresh process are otherwise several times slower while V8 compiles them.
 */
async function warmUp(target) {
  const { request } = await import("node:http");
  const here = new URL(".", import.meta.url).pathname;
  warming = { fn: await loadHandler(here, "warmup.mjs"), name: "warmup", revision: "0" };
  const call = (method, path, headers, body) =>
    new Promise((resolveCall, reject) => {
      const req = request({ ...target, method, path, headers }, (res) => {
        res.resume();
        res.on("end", resolveCall);
      });
      req.on("error", reject);
      req.end(body);
    });
  for (let i = 0; i < 5; i += 1) {
    await call("GET", "/healthz", {});
    const json = {
      "x-call-id": `warmup-${i}`,
      "x-runlet-warmup": "1",
      "content-type": "application/json",
    };
    await call("POST", `/warm/${i}?n=${i}`, json, JSON.stringify({ i }));
    await call("GET", "/warm", { "x-call-id": `warmup-${i}`, "x-runlet-warmup": "1" });
  }
}

// Invocations in frames on a second socket when the supervisor asks for one (embedded mode);
// HTTP keeps serving control paths, and invocations from anything that speaks only HTTP.
const listening = await listenRuntime(server, serveCall);
if (process.env.RUNLET_WARMUP === "1") {
  try {
    await warmUp(listening.http);
    if (listening.frames) {
      await warmUpFrames(listening.frames);
    }
  } catch (error) {
    process.stderr.write(`warm-up failed (serving anyway): ${describeError(error)}\n`);
  }
  warming = undefined;
}
control({ event: "ready", pid: process.pid });

/**
 * A few framed calls, so the first real one does not pay for compiling the frame path.
 * `target` is where the frame server listens, as net.connect takes it.
 */
async function warmUpFrames(target) {
  const { connect } = await import("node:net");
  const { FrameDecoder, FrameType, encodeFrame } = await import("../shared/frames.mjs");
  const socket = connect(target);
  try {
    const ended = new Set();
    let wake = () => {};
    const decoder = new FrameDecoder((type, id) => {
      if (type === FrameType.ResponseEnd || type === FrameType.Error) {
        ended.add(id);
        wake();
      }
    });
    socket.on("data", (chunk) => decoder.push(chunk));
    for (let id = 1; id <= 5; id += 1) {
      const headers = { "x-call-id": `warmup-frame-${id}`, "x-runlet-warmup": "1" };
      socket.write(
        Buffer.concat([
          encodeFrame(
            FrameType.RequestHead,
            id,
            JSON.stringify({ method: "GET", path: "/warm", headers }),
          ),
          encodeFrame(FrameType.RequestEnd, id),
        ]),
      );
      await /** @type {Promise<void>} */ (
        new Promise((resolveCall, reject) => {
          wake = () => ended.has(id) && resolveCall();
          socket.once("error", reject);
          wake();
        })
      );
    }
  } finally {
    socket.destroy();
  }
}

stopOnSignals(server, listening.frameServer);
