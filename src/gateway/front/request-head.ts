/**
 * The lean front's reading of a request head: the plain shape nearly every function call has,
 * and nothing else. Whatever is not plainly that shape (chunked or large bodies, HEAD,
 * HTTP/1.0, upgrades, `Expect`, folded or repeated headers, any byte out of place) is not
 * parsed here: the connection goes to node:http, whose parser decides, so the two never
 * disagree about where a message ends.
 */
import type { IncomingHttpHeaders } from "node:http";

export interface RequestHead {
  readonly method: string;
  /** Request target as sent (origin form: starts with "/"). */
  readonly url: string;
  /** Names in lower case, each at most once. */
  readonly headers: IncomingHttpHeaders;
  /** Body bytes that follow the head (0 without Content-Length). */
  readonly contentLength: number;
  /** False when the client asked to close the connection after this answer. */
  readonly keepAlive: boolean;
}

/** Node's default limit (--max-http-header-size); a larger head is node:http's to refuse. */
export const maxHeadBytes = 16 * 1024;
/** Larger bodies stream through node:http and the router's limit instead of being buffered here. */
export const maxBodyBytes = 64 * 1024;
const maxHeaderCount = 100;

const methods = new Set(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** RFC 9110 token characters (header names). */
const tokenChars = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  tokenChars[c.charCodeAt(0)] = 1;
}

/** Headers whose presence means the message is not the plain shape (see the module comment). */
const notPlain = new Set(["transfer-encoding", "upgrade", "expect", "http2-settings"]);

/**
 * Reads the head in `text` (latin1, without the final CRLF CRLF). Undefined: not the plain
 * shape, let node:http read it.
 */
export function parseRequestHead(text: string): RequestHead | undefined {
  const lineEnd = text.indexOf("\r\n");
  const requestLine = lineEnd === -1 ? text : text.slice(0, lineEnd);
  const methodEnd = requestLine.indexOf(" ");
  const targetEnd = requestLine.indexOf(" ", methodEnd + 1);
  if (methodEnd === -1 || targetEnd === -1 || requestLine.slice(targetEnd) !== " HTTP/1.1") {
    return undefined;
  }
  const method = requestLine.slice(0, methodEnd);
  const url = requestLine.slice(methodEnd + 1, targetEnd);
  if (!methods.has(method) || !isOriginForm(url)) {
    return undefined;
  }
  // A plain object, not Object.create(null): a dictionary-mode object is slower to copy and to
  // serialize on every call. A header named like an Object.prototype member (constructor,
  // __proto__) then looks present already, so its request goes to node:http as a "repeat".
  const headers: IncomingHttpHeaders = {};
  let count = 0;
  let contentLength = 0;
  let keepAlive = true;
  let position = lineEnd === -1 ? text.length : lineEnd + 2;
  while (position < text.length) {
    let end = text.indexOf("\r\n", position);
    if (end === -1) {
      end = text.length;
    }
    const colon = text.indexOf(":", position);
    if (colon === -1 || colon > end || colon === position || ++count > maxHeaderCount) {
      return undefined;
    }
    const name = text.slice(position, colon).toLowerCase();
    const value = trimWhitespace(text.slice(colon + 1, end));
    if (
      !isToken(name) ||
      !isFieldValue(value) ||
      headers[name] !== undefined ||
      notPlain.has(name)
    ) {
      return undefined;
    }
    if (name === "content-length") {
      if (!/^\d{1,15}$/.test(value)) {
        return undefined;
      }
      contentLength = Number(value);
    } else if (name === "connection") {
      const options = value.toLowerCase().split(",");
      for (const option of options) {
        const trimmed = option.trim();
        if (trimmed === "close") {
          keepAlive = false;
        } else if (trimmed !== "keep-alive") {
          return undefined; // upgrade, or a header list this shape does not need
        }
      }
    }
    headers[name] = value;
    position = end + 2;
  }
  // HTTP/1.1 requires Host; node:http answers its absence with 400.
  if (contentLength > maxBodyBytes || headers.host === undefined) {
    return undefined;
  }
  return { method, url, headers, contentLength, keepAlive };
}

function isOriginForm(url: string): boolean {
  if (url.charCodeAt(0) !== 0x2f /* / */) {
    return false;
  }
  for (let i = 1; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x23 /* # */) {
      return false;
    }
  }
  return true;
}

function isToken(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || tokenChars[c] !== 1) {
      return false;
    }
  }
  return true;
}

/** Without leading and trailing spaces and tabs (only those: 0xA0 is a value byte here). */
function trimWhitespace(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === 0x20 || value.charCodeAt(start) === 0x09)) {
    start++;
  }
  while (
    end > start &&
    (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)
  ) {
    end--;
  }
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/** Visible characters, obs-text, spaces and tabs: no CR, LF, NUL or other controls. */
function isFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
      return false;
    }
  }
  return true;
}
