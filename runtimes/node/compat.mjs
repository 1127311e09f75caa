// Handler shapes of OpenFaaS, Fission and Kubeless (docs/compat.md): each adapter turns a
// function written for one of them into a Runlet handler, so it runs unchanged. Each follows
// what that platform's own Node server does with the request and the function's answer
// (body parsing, defaults for status and content type, errors), with Express-like request
// and response objects written here, dependency-free.
import { AsyncLocalStorage } from "node:async_hooks";
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { format } from "node:util";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { describeError } from "../shared/responses.mjs";

export const compatShapes = ["openfaas", "openfaas-classic", "fission", "kubeless"];

/** Marks a finished answer, to be sent as it is: status, exactly its headers, body bytes. */
export const finishedAnswer = Symbol("runlet.compat.finishedAnswer");

function answer(status, headers, body) {
  return { [finishedAnswer]: true, status, headers, body };
}

/**
 * Wraps `fn` (what the handler file exports) for `shape`; the result is a Runlet handler
 * `(event, context) => answer`. `info` is {name, handler, timeoutMs, secretsDir, fissionDir}.
 */
export function adaptHandler(shape, fn, info) {
  // Secrets where the platforms mount them: OpenFaaS at /var/openfaas/secrets/<name>, Fission at
  // /secrets/<ns>/<name>/<key> and /configs/<ns>/<name>/<key> (provider/instance-files.ts).
  redirectReads("/var/openfaas/secrets", info.secretsDir);
  if (info.fissionDir && info.fissionDir !== "/") {
    redirectReads("/secrets", join(info.fissionDir, "secrets"));
    redirectReads("/configs", join(info.fissionDir, "configs"));
  }
  switch (shape) {
    case "openfaas":
      return openfaasHandler(fn);
    case "openfaas-classic":
      return openfaasClassicHandler(fn);
    case "fission":
      return fissionHandler(fn, info);
    case "kubeless":
      return kubelessHandler(fn, info);
    default:
      throw new Error(`unknown compat shape ${shape}; known: ${compatShapes.join(", ")}`);
  }
}

// ---------------------------------------------------------------------------------------
// OpenFaaS node18/node20 templates: handler(event, context, callback); context.status(),
// .headers(), .succeed(), .fail(); a returned value is used when succeed was not called.

class OpenFaasContext {
  #done;
  constructor(done) {
    this.statusCode = 200;
    this.headerValues = {};
    this.cbCalled = 0;
    this.#done = done;
  }

  status(statusCode) {
    if (!statusCode) {
      return this.statusCode;
    }
    this.statusCode = statusCode;
    return this;
  }

  headers(value) {
    if (!value) {
      return this.headerValues;
    }
    this.headerValues = value;
    return this;
  }

  succeed(value) {
    this.cbCalled += 1;
    this.#done(undefined, value);
  }

  fail(value) {
    if (this.status() == 200) {
      this.status(500);
    }
    this.cbCalled += 1;
    this.#done(value, undefined);
  }
}

function openfaasHandler(fn) {
  return async (event, context) => {
    const res = new ExpressResponse(event.method);
    const headers = { ...event.headers };
    // The template gives a request without a content type "text/plain", so its body is text.
    headers["content-type"] ??= "text/plain";
    const parsed =
      process.env.RAW_BODY === "true"
        ? { body: hasBody(event) ? event.rawBody : {} }
        : parseBody(event, headers["content-type"], {
            text: true,
            json: true,
            urlencoded: true,
          });
    if (parsed.error) {
      return badRequest(parsed.error);
    }
    const fnEvent = {
      body: parsed.body,
      headers,
      method: event.method,
      query: event.query,
      path: event.path,
    };
    let fnContext;
    const callback = (err, result) => {
      if (res.writableEnded) {
        return;
      }
      if (err) {
        console.error(err);
        res.status(fnContext.status()).send(err?.toString ? err.toString() : err);
        return;
      }
      res.set(fnContext.headers()).status(fnContext.status());
      res.send(isPlainObjectOrArray(result) ? JSON.stringify(result) : result);
    };
    fnContext = new OpenFaasContext(callback);
    try {
      const value = await fn(fnEvent, fnContext, callback);
      if (!fnContext.cbCalled) {
        fnContext.succeed(value);
      }
    } catch (error) {
      callback(error);
    }
    await finished(res, context.signal);
    return res.toResponse();
  };
}

// ---------------------------------------------------------------------------------------
// OpenFaaS classic `node` template (classic watchdog): handler(context, callback) where
// context is the request body as a string; the answer is what it passes to callback or
// returns: objects and arrays as JSON text with a newline (console.log), anything else as it
// is (process.stdout.write). An error answers 500 with its text.

// The classic watchdog forks the handler's process per call: its Http_* variables are that
// call's environment, and what it prints is the answer (stderr too, with combine_output).
// One process serves several calls here, so each call's variables and output are its own.
const classicCall = new AsyncLocalStorage();
let classicInstalled = false;

function installClassicCalls() {
  if (classicInstalled) {
    return;
  }
  classicInstalled = true;
  const base = process.env;
  const own = (key) => {
    const env = classicCall.getStore()?.env;
    return env && typeof key === "string" && Object.hasOwn(env, key) ? env : undefined;
  };
  process.env = new Proxy(base, {
    get: (target, key) => (own(key) ?? target)[key],
    has: (target, key) => own(key) !== undefined || key in target,
    ownKeys: (target) => [
      ...new Set([...Reflect.ownKeys(target), ...Object.keys(classicCall.getStore()?.env ?? {})]),
    ],
    getOwnPropertyDescriptor: (target, key) => {
      const env = own(key);
      return env
        ? { value: env[key], writable: true, enumerable: true, configurable: true }
        : Reflect.getOwnPropertyDescriptor(target, key);
    },
  });
  /** @type {Array<["log" | "info" | "debug" | "warn" | "error", "out" | "err"]>} */
  const streams = [
    ["log", "out"],
    ["info", "out"],
    ["debug", "out"],
    ["warn", "err"],
    ["error", "err"],
  ];
  for (const [name, stream] of streams) {
    const original = console[name].bind(console);
    console[name] = (...args) => {
      const call = classicCall.getStore();
      if (!call || (stream === "err" && !call.combined)) {
        original(...args);
        return;
      }
      call.output.push(Buffer.from(format(...args) + "\n"));
    };
  }
}

/** Http_Method, Http_Path, Http_Query and each header as Http_<Header_Name>, as the watchdog. */
function classicEnv(event) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(event.query ?? {})) {
    for (const item of Array.isArray(value) ? value : [value]) {
      query.append(key, String(item));
    }
  }
  const env = {
    Http_Method: event.method ?? "GET",
    Http_Path: event.path ?? "/",
    Http_Query: query.toString(),
  };
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (!/^[A-Za-z0-9-]+$/.test(name) || value === undefined) {
      continue;
    }
    const canonical = name
      .split("-")
      .map((part) => part.slice(0, 1).toUpperCase() + part.slice(1).toLowerCase())
      .join("_");
    env[`Http_${canonical}`] = Array.isArray(value) ? value.join(", ") : String(value);
  }
  return env;
}

function openfaasClassicHandler(fn) {
  installClassicCalls();
  return (event) => {
    const combined = (process.env.combine_output ?? "true").trim().toLowerCase() !== "false";
    const call = { env: classicEnv(event), output: [], combined };
    return classicCall.run(call, () => classicAnswer(fn, event, call));
  };
}

async function classicAnswer(fn, event, call) {
  {
    const input = event.rawBody.toString("utf8");
    const contentType = process.env.content_type || "text/plain; charset=utf-8";
    const answered = await new Promise((resolve) => {
      let done = false;
      const callback = (err, result) => {
        if (done) {
          return;
        }
        done = true;
        resolve({ err, result });
      };
      try {
        const returned = fn(input, callback);
        if (typeof returned?.then === "function") {
          returned.then(
            (value) => callback(undefined, value),
            (error) => callback(error, undefined),
          );
        }
      } catch (error) {
        callback(error, undefined);
      }
    });
    const printed = Buffer.concat(call.output);
    if (answered.err !== undefined && answered.err !== null) {
      process.stderr.write(`${describeError(answered.err)}\n`);
      const text = `${answered.err?.toString ? answered.err.toString() : answered.err}\n`;
      return answer(
        500,
        { "content-type": contentType },
        Buffer.concat([printed, Buffer.from(text)]),
      );
    }
    const result = answered.result;
    const body =
      result === undefined || result === null
        ? ""
        : typeof result === "object" && !Buffer.isBuffer(result)
          ? `${JSON.stringify(result)}\n`
          : result;
    // What the handler printed comes first, as it reached the watchdog's stdout first.
    return answer(
      200,
      { "content-type": contentType },
      Buffer.concat([printed, Buffer.from(body)]),
    );
  }
}

function isPlainObjectOrArray(value) {
  return !!value && (value.constructor === Array || value.constructor === Object);
}

/**
 * The platforms mount secrets where their functions read them (OpenFaaS at
 * /var/openfaas/secrets/<name>, Fission at /secrets/... and /configs/...). Outside the sandbox,
 * which mounts them there, reads of `prefix` go to this instance's folder `dir` instead.
 */
function redirectReads(prefix, dir) {
  if (!dir || dir === prefix) {
    return;
  }
  const mapPath = (path) => {
    if (typeof path === "string" && (path === prefix || path.startsWith(prefix + "/"))) {
      return join(dir, path.slice(prefix.length));
    }
    return path;
  };
  const wrap = (target, name) => {
    const original = target[name];
    if (typeof original === "function") {
      target[name] = function (path, ...rest) {
        return original.call(this, mapPath(path), ...rest);
      };
    }
  };
  for (const name of ["readFileSync", "existsSync", "statSync", "readdirSync", "accessSync"]) {
    wrap(fs, name);
  }
  for (const name of ["readFile", "stat", "readdir", "access", "createReadStream"]) {
    wrap(fs, name);
  }
  for (const name of ["readFile", "stat", "readdir", "access"]) {
    wrap(fs.promises, name);
  }
  // ES modules import fs by name; give them the wrapped functions too.
  syncBuiltinESMExports();
}

// ---------------------------------------------------------------------------------------
// Fission's Node environment: fn(context) resolving to {status, body, headers}, or
// fn(context, callback) calling callback(status, body, headers); context is
// {request, response}, Express-like; a function may also answer on context.response.

function fissionHandler(fn, info) {
  return async (event, context) => {
    const res = new ExpressResponse(event.method);
    // Fission's router passes route parameters and the function's name as headers.
    const headers = { ...event.headers, "x-fission-function-name": info.name };
    for (const [name, value] of Object.entries(event.params ?? {})) {
      headers[`x-fission-params-${name.toLowerCase()}`] = String(value);
    }
    event = { ...event, headers };
    const parsed = parseBody(event, event.headers["content-type"], {
      urlencoded: true,
      json: true,
      raw: true,
      text: true,
    });
    if (parsed.error) {
      return badRequest(parsed.error);
    }
    const req = expressRequest(event, parsed.body);
    const fissionContext = { request: req, response: res };
    const callback = (status, body, headers) => {
      if (!status || res.writableEnded) {
        return;
      }
      if (headers) {
        for (const name of Object.keys(headers)) {
          res.set(name, headers[name]);
        }
      }
      res.status(status).send(body);
    };
    const failed = (error) => {
      console.error(`Function error: ${describeError(error)}`);
      callback(500, "Internal server error");
    };
    if (fn.length <= 1) {
      try {
        const result = await (fn.length === 0 ? fn() : fn(fissionContext));
        // Fission reads these fields off the result, so a function that returns nothing
        // fails unless it already answered on context.response.
        const { status, body, headers } = result;
        callback(status, body, headers);
      } catch (error) {
        failed(error);
      }
    } else {
      try {
        const returned = fn(fissionContext, callback);
        // An async (context, callback) function that throws rejects its promise: answered
        // as a thrown error is, instead of ending the instance with an unhandled rejection.
        if (typeof returned?.then === "function") {
          returned.then(undefined, failed);
        }
      } catch (error) {
        failed(error);
      }
    }
    // A function that neither returned a status nor answered yet may still answer on
    // context.response later; until it does (or the call times out) there is no answer.
    await finished(res, context.signal);
    return res.toResponse();
  };
}

// ---------------------------------------------------------------------------------------
// Kubeless Node runtime: fn(event, context) with event {data, event-*, extensions:
// {request, response}} and context {function-name, timeout, runtime, memory-limit}; a
// string answers as it is, anything else as JSON; CORS is open.

function kubelessHandler(fn, info) {
  const exportName = info.handler.includes(":") ? info.handler.split(":").pop() : "";
  const moduleName = info.handler.replace(/:.*$/, "").replace(/\.[cm]?js$/, "");
  const timeoutSeconds = Math.ceil((info.timeoutMs ?? 180_000) / 1000);
  // The environment Kubeless gives its runtime containers; functions may read it.
  process.env.FUNC_HANDLER ??= exportName;
  process.env.MOD_NAME ??= moduleName;
  process.env.FUNC_TIMEOUT ??= String(timeoutSeconds);
  process.env.FUNC_RUNTIME ??= `nodejs${process.versions.node.split(".")[0]}`;
  process.env.FUNC_PORT ??= "8080";
  const kubelessContext = {
    "function-name": process.env.FUNC_HANDLER,
    timeout: Number(process.env.FUNC_TIMEOUT),
    runtime: process.env.FUNC_RUNTIME,
    "memory-limit": process.env.FUNC_MEMORY_LIMIT,
  };
  return async (event, context) => {
    const res = new ExpressResponse(event.method);
    res.set("Access-Control-Allow-Origin", "*");
    if (event.method === "OPTIONS") {
      // CORS preflight: allow whatever is asked, without calling the function.
      res.set("Access-Control-Allow-Methods", event.headers["access-control-request-method"]);
      res.set("Access-Control-Allow-Headers", event.headers["access-control-request-headers"]);
      res.end();
      return res.toResponse();
    }
    const contentType = event.headers["content-type"];
    const multipart = mediaType(contentType) === "multipart/form-data";
    // Every body but a multipart one arrives as bytes, then becomes JSON or text.
    /** @type {any} the raw bytes, or {} as Kubeless's server leaves an absent body */
    let body = {};
    if (!multipart && hasBody(event)) {
      body = event.rawBody;
    }
    try {
      let data = body;
      if (!multipart && body.length > 0) {
        data =
          mediaType(contentType) === "application/json"
            ? JSON.parse(body.toString("utf8"))
            : body.toString("utf8");
      }
      const req = expressRequest(event, body);
      const kubelessEvent = {
        "event-type": req.get("event-type"),
        "event-id": req.get("event-id"),
        "event-time": req.get("event-time"),
        "event-namespace": req.get("event-namespace"),
        data,
        extensions: { request: req, response: res },
      };
      const result = await fn(kubelessEvent, kubelessContext);
      if (!res.writableEnded) {
        if (typeof result === "string") {
          res.end(result);
        } else if (typeof result === "object") {
          res.json(result);
        } else if (result === undefined) {
          if (!res.piped) {
            res.end();
          }
        } else {
          res.end(JSON.stringify(result));
        }
      }
    } catch (error) {
      console.error(`Function failed to execute: ${describeError(error)}`);
      if (!res.writableEnded) {
        res.status(500).send("Internal Server Error");
      }
    }
    await finished(res, context.signal);
    return res.toResponse();
  };
}

// ---------------------------------------------------------------------------------------
// Request bodies, parsed the way the body parsers of those servers parse them.

/** body-parser's rule: a request has a body when it says how long it is or is chunked. */
function hasBody(event) {
  return (
    event.rawBody.length > 0 ||
    event.headers["transfer-encoding"] !== undefined ||
    event.headers["content-length"] !== undefined
  );
}

function mediaType(contentType) {
  return firstPart(String(contentType ?? ""), ";").toLowerCase();
}

/** The first of the parts of `text` between `separator`s, trimmed ("a, b" gives "a"). */
function firstPart(text, separator) {
  return (text.split(separator)[0] ?? "").trim();
}

/**
 * The first parser that takes the content type parses the body; with none, or without a
 * body, the body is `{}`. Returns {body} or {error} (JSON that does not parse).
 */
function parseBody(event, contentType, parsers) {
  if (!hasBody(event)) {
    return { body: {} };
  }
  const type = mediaType(contentType);
  const raw = event.rawBody;
  if (parsers.urlencoded && type === "application/x-www-form-urlencoded") {
    return { body: formObject(raw.toString("utf8")) };
  }
  if (parsers.json && type === "application/json") {
    if (raw.length === 0) {
      return { body: {} };
    }
    const text = raw.toString("utf8");
    // body-parser's strict mode takes only objects and arrays.
    const first = /^[ \t\n\r]*(.)/.exec(text)?.[1];
    if (first !== "{" && first !== "[") {
      return { error: `Unexpected token ${first ?? "end"} in JSON at position 0` };
    }
    try {
      return { body: JSON.parse(text) };
    } catch (error) {
      return { error: error instanceof Error ? error.message : String(error) };
    }
  }
  if (parsers.raw && type === "application/octet-stream") {
    return { body: raw };
  }
  if (parsers.text && type.startsWith("text/")) {
    return { body: raw.toString("utf8") };
  }
  return { body: {} };
}

function formObject(text) {
  const form = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const existing = form[key];
    form[key] =
      existing === undefined ? value : /** @type {string[]} */ ([]).concat(existing, value);
  }
  return form;
}

function badRequest(message) {
  const body = Buffer.from(`<!DOCTYPE html>\n<pre>SyntaxError: ${escapeHtml(message)}</pre>\n`);
  return answer(
    400,
    { "content-type": "text/html; charset=utf-8", "content-length": String(body.length) },
    body,
  );
}

function escapeHtml(text) {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}

// ---------------------------------------------------------------------------------------
// Express-like request and response: the parts functions written for those platforms use.

function expressRequest(event, body) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(event.query)) {
    for (const one of [].concat(value)) {
      search.append(key, one);
    }
  }
  const query = search.toString();
  const url = event.path + (query ? `?${query}` : "");
  const header = (name) => {
    const lower = name.toLowerCase();
    if (lower === "referer" || lower === "referrer") {
      return event.headers.referer ?? event.headers.referrer;
    }
    return event.headers[lower];
  };
  const host = String(event.headers["x-forwarded-host"] ?? event.headers.host ?? "");
  // A readable stream of the request's bytes, as Express's req is: multer, busboy and
  // `req.pipe(...)` read it.
  const raw = event.rawBody;
  const stream = new Readable({
    read() {
      if (raw.length > 0) {
        this.push(raw);
      }
      this.push(null);
    },
  });
  return Object.assign(stream, {
    method: event.method,
    url,
    originalUrl: url,
    path: event.path,
    query: event.query,
    params: { ...event.params },
    headers: event.headers,
    body,
    protocol: firstPart(String(event.headers["x-forwarded-proto"] ?? "http"), ","),
    hostname: host.replace(/:\d+$/, ""),
    ip: firstPart(String(event.headers["x-forwarded-for"] ?? ""), ","),
    get: header,
    header,
    is(...types) {
      const actual = mediaType(event.headers["content-type"]);
      if (!actual) {
        return false;
      }
      for (const wanted of types.flat()) {
        const full = shortTypes[wanted] ?? (wanted.includes("/") ? wanted : `*/${wanted}`);
        const [wantType, wantSub] = full.toLowerCase().split("/");
        const [type, sub] = actual.split("/");
        if ((wantType === "*" || wantType === type) && (wantSub === "*" || wantSub === sub)) {
          return wanted;
        }
      }
      return false;
    },
  });
}

const shortTypes = {
  json: "application/json",
  urlencoded: "application/x-www-form-urlencoded",
  multipart: "multipart/*",
  html: "text/html",
  text: "text/plain",
  bin: "application/octet-stream",
  xml: "application/xml",
  js: "application/javascript",
};

/** Adds `; charset=<charset>`, replacing any charset already there. */
function withCharset(type, charset) {
  const parts = type
    .split(";")
    .map((p) => p.trim())
    .filter((p) => p && !/^charset=/i.test(p));
  return [...parts, `charset=${charset}`].join("; ");
}

/**
 * Collects what a function does with its response: status, headers, writes, end. `done`
 * settles when the response ends.
 */
class ExpressResponse extends Writable {
  #headers = new Map();
  #chunks = [];
  #method;
  /** @type {(value?: unknown) => void} */
  #resolveDone = () => {};

  constructor(method) {
    // A writable stream, as Express's res is, so `readable.pipe(res)` and pipeline() work.
    super({
      write: (chunk, _encoding, callback) => {
        this.#chunks.push(Buffer.from(chunk));
        callback();
      },
    });
    this.#method = method;
    this.statusCode = 200;
    this.headersSent = false;
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
    this.once("finish", () => this.#resolveDone());
    // A write after the end is the function's mistake; it must not end the instance.
    this.on("error", () => {});
    // A stream piped in ends the response when it ends; nothing else may end it first.
    this.piped = false;
    this.once("pipe", () => {
      this.piped = true;
    });
  }

  /** Node's name for writableEnded. */
  get finished() {
    return this.writableEnded;
  }

  status(code) {
    this.statusCode = code;
    return this;
  }

  set(field, value) {
    if (typeof field === "object" && field !== null) {
      for (const [name, one] of Object.entries(field)) {
        this.set(name, one);
      }
      return this;
    }
    if (value === undefined) {
      return this;
    }
    let text = Array.isArray(value) ? value.map(String) : String(value);
    if (field.toLowerCase() === "content-type" && typeof text === "string") {
      // Express adds the charset of text types when the value names none.
      if (!/;\s*charset\s*=/i.test(text) && /^text\/|^application\/(javascript|json)/i.test(text)) {
        text += "; charset=utf-8";
      }
    }
    this.setHeader(field, text);
    return this;
  }

  header(field, value) {
    return this.set(field, value);
  }

  get(field) {
    return this.getHeader(field);
  }

  setHeader(name, value) {
    this.#headers.set(name.toLowerCase(), value);
    return this;
  }

  getHeader(name) {
    return this.#headers.get(name.toLowerCase());
  }

  getHeaders() {
    return Object.fromEntries(this.#headers);
  }

  hasHeader(name) {
    return this.#headers.has(name.toLowerCase());
  }

  removeHeader(name) {
    this.#headers.delete(name.toLowerCase());
  }

  type(type) {
    return this.set("Content-Type", type.includes("/") ? type : (shortTypes[type] ?? type));
  }

  append(field, value) {
    const existing = this.getHeader(field);
    return this.setHeader(
      field,
      existing === undefined ? value : [].concat(existing, value).map(String),
    );
  }

  location(url) {
    return this.set("Location", url);
  }

  redirect(statusOrUrl, maybeUrl) {
    const [status, url] =
      typeof statusOrUrl === "number" ? [statusOrUrl, maybeUrl] : [302, statusOrUrl];
    this.location(url).status(status);
    this.type("text/plain").send(`Found. Redirecting to ${url}`);
  }

  writeHead(status, message, headers) {
    this.statusCode = status;
    const extra = typeof message === "object" ? message : headers;
    for (const [name, value] of Object.entries(extra ?? {})) {
      this.setHeader(name, value);
    }
    this.headersSent = true;
    return this;
  }

  /**
   * @override
   * @param {any} chunk
   * @param {any} [encoding]
   * @param {any} [callback]
   */
  write(chunk, encoding, callback) {
    this.headersSent = true;
    if (chunk === undefined || chunk === null || this.writableEnded) {
      return true;
    }
    const bytes =
      Buffer.isBuffer(chunk) || chunk instanceof Uint8Array
        ? chunk
        : Buffer.from(
            String(chunk),
            /** @type {BufferEncoding} */ (typeof encoding === "string" ? encoding : "utf8"),
          );
    return super.write(bytes, typeof encoding === "function" ? encoding : callback);
  }

  /**
   * @override
   * @param {any} [chunk]
   * @param {any} [encoding]
   * @param {any} [callback]
   */
  end(chunk, encoding, callback) {
    if (this.writableEnded) {
      return this;
    }
    if (chunk !== undefined && chunk !== null && typeof chunk !== "function") {
      this.write(chunk, encoding);
    }
    this.headersSent = true;
    const done = [chunk, encoding, callback].find((one) => typeof one === "function");
    super.end(done);
    return this;
  }

  /** Express's res.send: strings are HTML unless typed, objects JSON, buffers bytes. */
  send(body) {
    let chunk = body;
    if (chunk === null) {
      chunk = "";
    } else if (Buffer.isBuffer(chunk) || chunk instanceof Uint8Array) {
      if (!this.hasHeader("content-type")) {
        this.type("application/octet-stream");
      }
    } else if (
      typeof chunk === "object" ||
      typeof chunk === "boolean" ||
      typeof chunk === "number"
    ) {
      return this.json(chunk);
    }
    if (typeof chunk === "string") {
      const type = this.getHeader("content-type");
      this.setHeader(
        "content-type",
        withCharset(typeof type === "string" ? type : "text/html", "utf-8"),
      );
    }
    if (this.statusCode === 204 || this.statusCode === 304) {
      this.removeHeader("content-type");
      this.removeHeader("content-length");
      this.removeHeader("transfer-encoding");
      chunk = "";
    }
    if (this.#method === "HEAD") {
      return this.end();
    }
    return this.end(chunk);
  }

  json(value) {
    const body = JSON.stringify(value);
    if (!this.hasHeader("content-type")) {
      this.setHeader("content-type", "application/json");
    }
    return this.send(body ?? "");
  }

  sendStatus(code) {
    this.statusCode = code;
    this.type("text/plain");
    return this.send(String(code));
  }

  toResponse() {
    const body = Buffer.concat(this.#chunks);
    const headers = {};
    for (const [name, value] of this.#headers) {
      headers[name] = value;
    }
    if (!Object.hasOwn(headers, "transfer-encoding")) {
      headers["content-length"] = String(body.length);
    }
    return answer(this.statusCode, headers, body);
  }
}

/** Resolves once the response has ended; rejects when the call is cancelled or times out. */
function finished(res, signal) {
  if (res.writableEnded) {
    return Promise.resolve();
  }
  return /** @type {Promise<void>} */ (
    new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason ?? new Error("call cancelled"));
      if (signal?.aborted) {
        return onAbort();
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      void res.done.then(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
    })
  );
}
