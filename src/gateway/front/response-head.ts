/**
 * The lean front's response head, written as node:http would write it (status line, the
 * function's headers, Date, framing, Connection), with node:http's checks: a header name or
 * value a client could read as something else is refused, never sent.
 */
import { STATUS_CODES } from "node:http";
import { InvalidResponse, type OutgoingHeaders } from "../../router/exchange.js";

/** How the body after the head is delimited. */
export type Framing =
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" }
  /** No body may follow: 204 and 304 answers, and HEAD. */
  | { readonly kind: "none" };

/** Framing and connection headers come from the front, never from the function. */
const setByFront = new Set(["content-length", "transfer-encoding", "connection", "keep-alive"]);

const tokenPattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// As node:http's check: tabs, visible ASCII and obs-text; no CR, LF, NUL or other controls.
const invalidValuePattern = /[^\t\x20-\x7e\x80-\xff]/;

export function responseHead(
  status: number,
  headers: OutgoingHeaders,
  framing: Framing,
  /** The idle timeout to announce; undefined: the connection closes after this answer. */
  keepAliveSeconds: number | undefined,
): string {
  if (!Number.isInteger(status) || status < 200 || status > 999) {
    throw new InvalidResponse(`the function answered with status ${status}, which is not valid`);
  }
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "unknown"}\r\n`;
  let hasDate = false;
  for (const name in headers) {
    const lower = name.toLowerCase();
    if (setByFront.has(lower)) {
      continue;
    }
    if (!tokenPattern.test(name)) {
      throw new InvalidResponse(
        `the function's response has an invalid header name: ${JSON.stringify(name)}`,
      );
    }
    hasDate ||= lower === "date";
    const value = headers[name];
    if (Array.isArray(value)) {
      for (const item of value) {
        head += headerLine(name, item);
      }
    } else if (value !== undefined) {
      head += headerLine(name, typeof value === "number" ? String(value) : value);
    }
  }
  if (!hasDate) {
    head += `Date: ${httpDate()}\r\n`;
  }
  head +=
    keepAliveSeconds === undefined
      ? "Connection: close\r\n"
      : `Connection: keep-alive\r\nKeep-Alive: timeout=${keepAliveSeconds}\r\n`;
  if (framing.kind === "length") {
    head += `Content-Length: ${framing.length}\r\n`;
  } else if (framing.kind === "chunked") {
    head += "Transfer-Encoding: chunked\r\n";
  }
  return `${head}\r\n`;
}

function headerLine(name: string, value: string): string {
  if (invalidValuePattern.test(value)) {
    throw new InvalidResponse(`the function's response header ${name} has an invalid character`);
  }
  return `${name}: ${value}\r\n`;
}

let dateSecond = -1;
let dateText = "";

/** The Date header's value, formatted once a second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}
