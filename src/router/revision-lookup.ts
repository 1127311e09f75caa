/**
 * How the router finds what to run for a function name: the port that callers of the router
 * (async calls, triggers, the gateway) are given, whichever store backs it (SQLite embedded,
 * custom resources on Kubernetes).
 */
import { UserError } from "../errors.js";
import type { RevisionTarget } from "../executor/revision-target.js";

export interface RevisionLookup {
  /** The active revision of a function; undefined when there is no such function. */
  find(name: string): RevisionTarget | undefined;
  /** One revision of a function, active or not (a canary route may name one). */
  findRevision(name: string, revision: number): RevisionTarget | undefined;
}

/** The active revision of `name`, or the 404 callers are shown. */
export function requireTarget(revisions: RevisionLookup, name: string): RevisionTarget {
  const target = revisions.find(name);
  if (!target) {
    throw functionNotFound(name);
  }
  return target;
}

export function functionNotFound(name: string): UserError {
  return new UserError(
    "RUNLET_FUNCTION_NOT_FOUND",
    `Function ${name} does not exist; see the deployed ones with: runlet list`,
  );
}
