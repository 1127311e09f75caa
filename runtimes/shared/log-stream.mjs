// The function's call-tagged log lines as a stream for one reader, `GET /v2/logs`, for a
// runtime that has no control pipe (a pod): one JSON object a line (docs/runtime-protocol.md,
// "Logs without a control pipe"). Dependency-free.
import { sendJson } from "./responses.mjs";

/** Lines kept while nobody reads (or the reader is slow): the newest this many. */
export const keptLogLines = 1000;

export class LogStream {
  /** Serialized lines waiting for the reader, oldest first. */
  #kept = [];
  #dropped = 0;
  /**
   * The reader's response, while one is connected.
   * @type {import("node:http").ServerResponse | undefined}
   */
  #reader = undefined;
  /** The reader's connection is full: lines wait in #kept until it drains. */
  #waiting = false;
  #ended = false;

  /** One line the function wrote, with the call it belongs to. */
  write(stream, text, callId) {
    if (this.#ended) {
      // The stream is ending (a stop): what comes now goes to the process's own output.
      (stream === "stderr" ? process.stderr : process.stdout).write(text + "\n");
      return;
    }
    const line = JSON.stringify({ time: Date.now(), stream, callId, text }) + "\n";
    if (this.#reader !== undefined && !this.#waiting && this.#kept.length === 0) {
      this.#send(this.#reader, line);
      return;
    }
    this.#kept.push(line);
    if (this.#kept.length > keptLogLines) {
      this.#kept.shift();
      this.#dropped += 1;
    }
  }

  /** Answers GET /v2/logs: the kept lines, then each new one, until the reader goes. */
  serve(res) {
    if (this.#reader !== undefined) {
      return sendJson(res, 409, {
        error: {
          code: "RUNLET_LOGS_TAKEN",
          message:
            "another reader is reading this instance's logs; they go to one reader at a time",
        },
      });
    }
    this.#reader = res;
    this.#waiting = false;
    res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
    // The reader knows it is connected before the first line comes.
    res.flushHeaders();
    res.on("drain", () => {
      if (this.#reader === res) {
        this.#waiting = false;
        this.#flush();
      }
    });
    res.on("close", () => {
      if (this.#reader === res) {
        this.#reader = undefined;
        this.#waiting = false;
      }
    });
    this.#flush();
    if (this.#ended) {
      res.end();
    }
  }

  /** Ends the stream once the reader has the lines kept for it (a stop, after the last call). */
  end() {
    this.#ended = true;
    if (this.#reader !== undefined && !this.#waiting) {
      this.#flush();
    }
  }

  #send(reader, line) {
    if (!reader.write(line)) {
      this.#waiting = true;
    }
  }

  #flush() {
    const reader = this.#reader;
    if (reader === undefined) {
      return;
    }
    if (this.#dropped > 0) {
      const dropped = this.#dropped;
      this.#dropped = 0;
      const text = `runlet: ${dropped} log line${dropped === 1 ? " was" : "s were"} dropped while no reader kept up (the runtime keeps the last ${keptLogLines})`;
      this.#send(reader, JSON.stringify({ time: Date.now(), stream: "stderr", text }) + "\n");
    }
    for (let line = this.#kept.shift(); line !== undefined; line = this.#kept.shift()) {
      this.#send(reader, line);
      if (this.#waiting) {
        break;
      }
    }
    if (this.#ended && this.#kept.length === 0 && !this.#waiting) {
      reader.end();
    }
  }
}
