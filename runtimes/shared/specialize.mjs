// POST /v2/specialize, the part every runtime answers alike (docs/runtime-protocol.md,
// "Requests"): one specialize per instance (409 for another), 422 with the error's code when
// the function does not load, 500 for anything else, 200 with the load time when it does.
// Shared by the Node-based runtime servers; dependency-free.
import { placeFiles } from "./package-fetch.mjs";
import { describeError, sendJson } from "./responses.mjs";
import { PackageRefused } from "./tar-reader.mjs";

/** The function cannot be loaded: a 422 with `code`, the message and `details` (file, line). */
export class LoadError extends Error {
  constructor(code, message, details = {}) {
    super(message);
    this.code = code;
    this.details = details;
  }
}

/**
 * The specialize handler for `(res, body)`: parses the request and calls `load(request)`,
 * which makes the instance the function's (it throws a LoadError when it cannot).
 */
export function specializeOnce(load) {
  let state = "generic";
  return async (res, body) => {
    if (state !== "generic") {
      return sendJson(res, 409, {
        error: { code: "RUNLET_ALREADY_SPECIALIZED", message: "one instance serves one revision" },
      });
    }
    state = "specializing";
    const started = performance.now();
    try {
      const request = JSON.parse(body.toString("utf8"));
      // A pod fetches its package and writes its secrets itself (package-fetch.mjs).
      await placeFiles(request);
      await load(request);
      state = "specialized";
      sendJson(res, 200, { status: "ready", loadMs: performance.now() - started });
    } catch (error) {
      state = "generic";
      if (error instanceof PackageRefused) {
        return sendJson(res, 422, {
          error: { code: "RUNLET_PACKAGE_REFUSED", message: error.message },
        });
      }
      if (error instanceof LoadError) {
        return sendJson(res, 422, {
          error: { code: error.code, message: error.message, ...error.details },
        });
      }
      sendJson(res, 500, {
        error: { code: "RUNLET_SPECIALIZE_FAILED", message: describeError(error) },
      });
    }
  };
}

/** The answer to a call before the instance has a function. */
export function sendNotSpecialized(res) {
  sendJson(res, 503, {
    error: { code: "RUNLET_NOT_SPECIALIZED", message: "instance has no function loaded yet" },
  });
}
