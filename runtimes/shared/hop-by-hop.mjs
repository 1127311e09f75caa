// Headers that are for one connection only (RFC 9110 §7.6.1), dropped when a runtime passes a
// request or an answer on. Dependency-free.

const hopByHop = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
]);

/**
 * `headers` without the hop-by-hop ones (and without undefined values).
 * @returns {Record<string, string | string[] | number>}
 */
export function withoutHopByHop(headers) {
  /** @type {Record<string, string | string[] | number>} */
  const out = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined && !hopByHop.has(key)) {
      out[key] = value;
    }
  }
  return out;
}
