/**
 * Ids for synchronous calls that bring none. UUID-shaped, as OpenFaaS clients expect, unique,
 * and cheap: a random prefix per process and a counter, where randomUUID() formats 16 random
 * bytes into hex on every call (a measurable share of a small call's CPU). They are
 * predictable within a process, so nothing that must be unguessable uses them: async calls,
 * whose ids look up stored results, keep random UUIDs.
 */
import { randomInt, randomUUID } from "node:crypto";

/** "xxxxxxxx-xxxx-4xxx-yxxx-": 74 random bits, fixed for this process. */
const prefix = randomUUID().slice(0, 24);
/** The last 12 hex digits; starts anywhere in the lower 2^40 so restarts do not line up. */
let counter = randomInt(2 ** 40);

export function newCallId(): string {
  counter += 1;
  return prefix + counter.toString(16).padStart(12, "0");
}
