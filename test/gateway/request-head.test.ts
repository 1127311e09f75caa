import { describe, expect, it } from "vitest";
import { parseRequestHead } from "../../src/gateway/front/request-head.js";
import { responseHead } from "../../src/gateway/front/response-head.js";
import { InvalidResponse } from "../../src/router/exchange.js";

const head = (...lines: string[]): string => lines.join("\r\n");

describe("the lean front's request head", () => {
  it("reads the plain shape of a function call", () => {
    const parsed = parseRequestHead(
      head(
        "POST /function/echo/sub?x=1 HTTP/1.1",
        "Host: example.test",
        "Content-Type:application/json",
        "X-Tag: \t spaced out \t",
        "X-Latin: caf\u00e9\u00a0",
        "Content-Length: 12",
      ),
    );
    expect(parsed).toBeDefined();
    expect(parsed?.method).toBe("POST");
    expect(parsed?.url).toBe("/function/echo/sub?x=1");
    expect(parsed?.contentLength).toBe(12);
    expect(parsed?.keepAlive).toBe(true);
    expect({ ...parsed?.headers }).toEqual({
      host: "example.test",
      "content-type": "application/json",
      "x-tag": "spaced out",
      // Only spaces and tabs are trimmed: 0xA0 is a byte of the value.
      "x-latin": "caf\u00e9\u00a0",
      "content-length": "12",
    });
  });

  it("sees Connection: close", () => {
    const parsed = parseRequestHead(
      head("GET /function/a HTTP/1.1", "Host: h", "Connection: Close"),
    );
    expect(parsed?.keepAlive).toBe(false);
    expect(parsed?.contentLength).toBe(0);
  });

  // Names are lower-cased, so these two are the only Object.prototype members a name can hit.
  it("leaves a header named like an Object.prototype member to node:http", () => {
    for (const name of ["constructor", "__proto__"]) {
      expect(parseRequestHead(head("GET /function/a HTTP/1.1", "Host: h", `${name}: x`))).toBe(
        undefined,
      );
    }
  });

  // Each leaves the request to node:http, whose parser answers or refuses it.
  const notPlain: [string, string][] = [
    ["HTTP/1.0", head("GET /function/a HTTP/1.0", "Host: h")],
    ["HEAD", head("HEAD /function/a HTTP/1.1", "Host: h")],
    ["an unknown method", head("BREW /function/a HTTP/1.1", "Host: h")],
    ["a chunked body", head("POST /function/a HTTP/1.1", "Host: h", "Transfer-Encoding: chunked")],
    [
      "two Content-Lengths",
      head("POST /function/a HTTP/1.1", "Host: h", "Content-Length: 1", "Content-Length: 1"),
    ],
    ["a Content-Length list", head("POST /function/a HTTP/1.1", "Host: h", "Content-Length: 1, 1")],
    ["a signed Content-Length", head("POST /function/a HTTP/1.1", "Host: h", "Content-Length: +1")],
    ["a body over 64 KiB", head("POST /function/a HTTP/1.1", "Host: h", "Content-Length: 65537")],
    ["a repeated header", head("GET /function/a HTTP/1.1", "Host: h", "X-A: 1", "x-a: 2")],
    ["a folded header", head("GET /function/a HTTP/1.1", "Host: h", "X-A: 1", " more")],
    ["a space before the colon", head("GET /function/a HTTP/1.1", "Host: h", "X-A : 1")],
    ["a bare LF in a value", head("GET /function/a HTTP/1.1", "Host: h", "X-A: 1\nX-B: 2")],
    ["a bare CR in a value", head("GET /function/a HTTP/1.1", "Host: h", "X-A: 1\rX-B: 2")],
    ["a NUL in a value", head("GET /function/a HTTP/1.1", "Host: h", "X-A: 1\u0000")],
    ["a line without a colon", head("GET /function/a HTTP/1.1", "Host: h", "garbage")],
    ["no Host", head("GET /function/a HTTP/1.1", "X-A: 1")],
    [
      "Expect",
      head("POST /function/a HTTP/1.1", "Host: h", "Expect: 100-continue", "Content-Length: 1"),
    ],
    [
      "Upgrade",
      head("GET /function/a HTTP/1.1", "Host: h", "Connection: Upgrade", "Upgrade: websocket"),
    ],
    ["an absolute-form target", head("GET http://h/function/a HTTP/1.1", "Host: h")],
    ["a space in the target", head("GET /function/a b HTTP/1.1", "Host: h")],
    ["a fragment in the target", head("GET /function/a#x HTTP/1.1", "Host: h")],
    ["a non-ASCII target", head("GET /function/caf\u00e9 HTTP/1.1", "Host: h")],
    ["a request line without a version", head("GET /function/a", "Host: h")],
  ];
  for (const [what, text] of notPlain) {
    it(`leaves ${what} to node:http`, () => {
      expect(parseRequestHead(text)).toBeUndefined();
    });
  }
});

describe("the lean front's response head", () => {
  it("writes the status, the function's headers, Date and the framing", () => {
    const text = responseHead(
      201,
      {
        "content-type": "text/plain",
        "set-cookie": ["a=1", "b=2"],
        "x-n": 3,
        // Framing is the front's, never the function's.
        "content-length": "999",
        "transfer-encoding": "chunked",
        connection: "close",
      },
      { kind: "length", length: 5 },
      65,
    );
    const lines = text.split("\r\n");
    expect(lines[0]).toBe("HTTP/1.1 201 Created");
    expect(lines).toContain("content-type: text/plain");
    expect(lines).toContain("set-cookie: a=1");
    expect(lines).toContain("set-cookie: b=2");
    expect(lines).toContain("x-n: 3");
    expect(lines.filter((line) => line.toLowerCase().startsWith("content-length"))).toEqual([
      "Content-Length: 5",
    ]);
    expect(lines.some((line) => line.toLowerCase().startsWith("transfer-encoding"))).toBe(false);
    expect(lines).toContain("Connection: keep-alive");
    expect(lines).toContain("Keep-Alive: timeout=65");
    expect(lines.some((line) => line.startsWith("Date: "))).toBe(true);
    expect(text.endsWith("\r\n\r\n")).toBe(true);
  });

  it("keeps a Date the function set, and says when the connection closes", () => {
    const text = responseHead(
      200,
      { date: "Tue, 01 Jan 2030 00:00:00 GMT" },
      { kind: "chunked" },
      undefined,
    );
    expect(text).toContain("date: Tue, 01 Jan 2030 00:00:00 GMT\r\n");
    expect(text).not.toContain("Date: ");
    expect(text).toContain("Transfer-Encoding: chunked\r\n");
    expect(text).toContain("Connection: close\r\n");
  });

  it("refuses what a client could read as something else", () => {
    expect(() => responseHead(200, { "x-a": "1\r\nx-injected: 1" }, { kind: "none" }, 65)).toThrow(
      InvalidResponse,
    );
    expect(() => responseHead(200, { "x-a": ["ok", "bad\n"] }, { kind: "none" }, 65)).toThrow(
      InvalidResponse,
    );
    expect(() => responseHead(200, { "bad name": "1" }, { kind: "none" }, 65)).toThrow(
      InvalidResponse,
    );
    expect(() => responseHead(200, { "x-a": "snow\u2603" }, { kind: "none" }, 65)).toThrow(
      InvalidResponse,
    );
    expect(() => responseHead(99, {}, { kind: "none" }, 65)).toThrow(InvalidResponse);
    expect(() => responseHead(1000, {}, { kind: "none" }, 65)).toThrow(InvalidResponse);
  });
});
