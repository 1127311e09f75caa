/**
 * The first steps of every HTTP way into a function (`/function/NAME`, `/async-function/NAME`,
 * trigger routes): find the revision the call runs, refuse it with a 404 when there is none,
 * and check the caller may invoke it. One place, so the three ways answer alike.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { RevisionTarget } from "../executor/revision-target.js";
import type { PlatformCredentials } from "../router/credentials.js";
import type { RevisionLookup } from "../router/revision-lookup.js";
import { parseTarget } from "../spec/trigger-spec.js";
import type { RouteMatch } from "../triggers/route-table.js";
import { forbiddenJson } from "./access.js";
import { CallRefusal, rateLimited } from "./call-refusal.js";
import { invokeRefusal, unauthorizedMessage } from "./auth.js";
import type { RateLimits } from "./rate-limits.js";

export { CallRefusal } from "./call-refusal.js";

export const badNameMessage =
  "The function name in the path is not valid percent-encoding; call /function/NAME with the name as deployed.";

// Made once: a flood of refused calls costs no body per call.
const badName = new CallRefusal("RUNLET_INVALID_REQUEST", badNameMessage, undefined);
const unauthorized = new CallRefusal(
  "RUNLET_UNAUTHORIZED",
  unauthorizedMessage,
  'Bearer realm="runlet"',
);

/**
 * What a call is addressed to: the function name in its path (undefined when the path's
 * percent-encoding is broken), or the trigger route it matched.
 */
export type CallAddress = string | undefined | RouteMatch;

/**
 * The revision the call runs, or why it is refused. Not async and allocation-free for a call
 * that is let in: every call passes here.
 */
export function admitCall(
  revisions: RevisionLookup,
  credentials: PlatformCredentials,
  headers: IncomingHttpHeaders,
  address: CallAddress,
  limits?: RateLimits,
): RevisionTarget | CallRefusal {
  let target: RevisionTarget | undefined;
  if (typeof address === "object") {
    const { functionName, revision } = parseTarget(address.target);
    target =
      revision === undefined
        ? revisions.find(functionName)
        : revisions.findRevision(functionName, revision);
    if (!target) {
      return notFound(
        `Trigger ${address.trigger} calls ${address.target}, which does not exist; redeploy it or remove the trigger: runlet trigger remove ${address.trigger}`,
      );
    }
  } else if (address === undefined) {
    return badName;
  } else {
    target = address ? revisions.find(address) : undefined;
    if (!target) {
      return notFound(
        `Function ${address || "(none)"} does not exist; see the deployed ones with: runlet list`,
      );
    }
  }
  if (target.config.auth === "required") {
    const refusal = invokeRefusal(headers, credentials, target.functionName, limits);
    if (refusal === "unauthenticated") {
      return unauthorized;
    }
    if (refusal instanceof CallRefusal) {
      return refusal;
    }
    if (refusal !== undefined) {
      return new CallRefusal("RUNLET_FORBIDDEN", "", undefined, forbiddenJson(refusal));
    }
  }
  const rate = target.config.rateLimit;
  if (rate !== undefined && limits !== undefined) {
    const wait = limits.take(`function ${target.functionName}`, rate);
    if (wait !== undefined) {
      return rateLimited(
        `Function ${target.functionName}`,
        `${rate.count} calls per ${rate.periodMs / 1000} s`,
        wait,
      );
    }
  }
  return target;
}

function notFound(message: string): CallRefusal {
  return new CallRefusal("RUNLET_FUNCTION_NOT_FOUND", message, undefined);
}
