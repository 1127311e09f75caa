/**
 * HTTP trigger routes on the gateway's root: which trigger a request path belongs to, with
 * its path parameters. Exact routes beat prefix routes, literal segments beat parameters,
 * longer beats shorter, a named method beats ANY. Routes shared by weighted triggers split
 * requests between them in proportion to their weights (a canary).
 */
import {
  parseRoute,
  platformPrefixes,
  routeShape,
  type HttpTriggerSpec,
  type RoutePattern,
  type RouteSegment,
} from "../spec/trigger-spec.js";
import type { TriggerRecord } from "../store/trigger-store.js";

export interface RouteMatch {
  readonly trigger: string;
  /** "hello" or "hello@3". */
  readonly target: string;
  readonly params: Record<string, string>;
}

interface RouteOwner {
  readonly trigger: string;
  readonly target: string;
  readonly weight: number | undefined;
}

interface RouteEntry {
  readonly pattern: RoutePattern;
  readonly owners: RouteOwner[];
}

/** The first path segments the platform serves, plus "/" itself. */
export function isPlatformPath(path: string): boolean {
  if (path === "/" || path === "") {
    return true;
  }
  const first = path.slice(1).split("/", 1)[0] ?? "";
  return (platformPrefixes as readonly string[]).includes(first);
}

export function isHttpTrigger(record: TriggerRecord): record is TriggerRecord & {
  spec: HttpTriggerSpec;
} {
  return "http" in record.spec;
}

function patternOf(spec: HttpTriggerSpec): RoutePattern {
  const pattern = parseRoute(spec.http);
  if (typeof pattern === "string") {
    // Stored routes were validated on the way in.
    throw new Error(`stored route ${spec.http} is invalid: ${pattern}`);
  }
  return pattern;
}

/**
 * Why `candidate` may not join the routes of `existing` (another trigger already serves the
 * same requests, and not both of them carry a weight), or undefined when it may.
 */
export function routeConflict(
  existing: readonly TriggerRecord[],
  candidate: { name: string; spec: HttpTriggerSpec },
): string | undefined {
  const shape = routeShape(patternOf(candidate.spec));
  for (const other of existing) {
    if (other.name === candidate.name || !isHttpTrigger(other)) {
      continue;
    }
    if (routeShape(patternOf(other.spec)) !== shape) {
      continue;
    }
    if (candidate.spec.weight !== undefined && other.spec.weight !== undefined) {
      continue;
    }
    return `the route ${patternOf(candidate.spec).text} is already served by trigger ${other.name} (function ${other.target}); pick another path, remove that trigger, or give both a weight to split traffic between them`;
  }
  return undefined;
}

export class RouteTable {
  readonly #entries: RouteEntry[] = [];

  constructor(records: readonly TriggerRecord[]) {
    const byShape = new Map<string, RouteEntry>();
    for (const record of records) {
      if (!isHttpTrigger(record)) {
        continue;
      }
      const pattern = patternOf(record.spec);
      const shape = routeShape(pattern);
      let entry = byShape.get(shape);
      if (!entry) {
        entry = { pattern, owners: [] };
        byShape.set(shape, entry);
        this.#entries.push(entry);
      }
      entry.owners.push({
        trigger: record.name,
        target: record.target,
        weight: record.spec.weight,
      });
    }
    this.#entries.sort((a, b) => compareSpecificity(a.pattern, b.pattern));
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The route serving `method path` (path without the query), or undefined. */
  match(method: string, path: string, random: () => number = Math.random): RouteMatch | undefined {
    const segments = path.slice(1).split("/");
    if (segments.length > 1 && segments[segments.length - 1] === "") {
      segments.pop(); // "/hello/bob/" is "/hello/bob"
    }
    if (segments.length === 1 && segments[0] === "") {
      segments.pop();
    }
    const upper = method.toUpperCase();
    // Entries are sorted most specific first, so the first match wins.
    for (const entry of this.#entries) {
      const { pattern } = entry;
      // A GET route answers HEAD too, as HTTP servers do.
      const methodMatches =
        pattern.method === "ANY" ||
        pattern.method === upper ||
        (upper === "HEAD" && pattern.method === "GET");
      if (!methodMatches) {
        continue;
      }
      const params = matchSegments(pattern, segments);
      if (!params) {
        continue;
      }
      const owner = pick(entry.owners, random);
      return { trigger: owner.trigger, target: owner.target, params };
    }
    return undefined;
  }
}

function matchSegments(
  pattern: RoutePattern,
  segments: readonly string[],
): Record<string, string> | undefined {
  if (
    pattern.prefix
      ? segments.length < pattern.segments.length
      : segments.length !== pattern.segments.length
  ) {
    return undefined;
  }
  const params: Record<string, string> = {};
  for (const [index, part] of pattern.segments.entries()) {
    const segment = segments[index] ?? "";
    if ("literal" in part) {
      if (part.literal !== segment) {
        return undefined;
      }
    } else {
      if (segment === "") {
        return undefined;
      }
      params[part.param] = decode(segment);
    }
  }
  if (pattern.prefix) {
    // What the prefix did not consume, e.g. "a/b.txt" for "/files/*" and "/files/a/b.txt".
    params["*"] = segments.slice(pattern.segments.length).map(decode).join("/");
  }
  return params;
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Negative when `a` is more specific than `b`. */
function compareSpecificity(a: RoutePattern, b: RoutePattern): number {
  if (a.prefix !== b.prefix) {
    return a.prefix ? 1 : -1;
  }
  const length = Math.min(a.segments.length, b.segments.length);
  for (let index = 0; index < length; index += 1) {
    const aLiteral = isLiteral(a.segments[index]);
    const bLiteral = isLiteral(b.segments[index]);
    if (aLiteral !== bLiteral) {
      return aLiteral ? -1 : 1;
    }
  }
  if (a.segments.length !== b.segments.length) {
    return b.segments.length - a.segments.length;
  }
  if ((a.method === "ANY") !== (b.method === "ANY")) {
    return a.method === "ANY" ? 1 : -1;
  }
  return 0;
}

function isLiteral(segment: RouteSegment | undefined): boolean {
  return segment !== undefined && "literal" in segment;
}

function pick(owners: readonly RouteOwner[], random: () => number): RouteOwner {
  const first = owners[0];
  if (!first) {
    throw new Error("a route entry has no owner");
  }
  const total = owners.reduce((sum, owner) => sum + (owner.weight ?? 0), 0);
  if (owners.length === 1 || total === 0) {
    return first;
  }
  let point = random() * total;
  for (const owner of owners) {
    point -= owner.weight ?? 0;
    if (point < 0) {
      return owner;
    }
  }
  return owners[owners.length - 1] ?? first;
}
