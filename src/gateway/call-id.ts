/**
 * Ids for synchronous calls that bring none. UUID-shaped, as OpenFaaS clients expect, unique,
 * and cheap: a random prefix and a counter, where randomUUID() formats 16 random bytes into
 * hex on every call (a measurable share of a small call's CPU). They are predictable within a
 * process, so nothing that must be unguessable uses them: async calls, whose ids look up stored
 * results, keep random UUIDs.
 */
import { randomUUID } from "node:crypto";

/** The counter stays a small integer (formatting a larger one is several times slower). */
const counterLimit = 2 ** 30;

/** "xxxxxxxx-xxxx-4xxx-yxxx-xxxx": 90 random bits; drawn again whenever the counter wraps. */
let prefix = randomUUID().slice(0, 28);
let counter = 0;

export function newCallId(): string {
  counter += 1;
  if (counter === counterLimit) {
    prefix = randomUUID().slice(0, 28);
    counter = 1;
  }
  return prefix + counter.toString(16).padStart(8, "0");
}
