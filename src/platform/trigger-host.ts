/** Connects triggers to the platform's parts: buffered calls, async enqueue, function lookups. */
import type { AsyncCallQueue } from "../calls/async-call-queue.js";
import { callFunction, type CallRouting } from "../router/call.js";
import type { RevisionLookup } from "../router/revision-lookup.js";
import type { FunctionStore } from "../store/function-store.js";
import type { TriggerHost } from "../triggers/trigger-host.js";

export interface TriggerHostParts {
  readonly revisions: RevisionLookup;
  readonly functions: Pick<FunctionStore, "revision">;
  readonly routing: CallRouting;
  readonly calls: Pick<AsyncCallQueue, "enqueue">;
  readonly onError: (error: unknown) => void;
}

export function triggerHostOf(parts: TriggerHostParts): TriggerHost {
  return {
    functionTimeoutMs: (name) => parts.revisions.find(name)?.config.timeoutMs,
    hasRevision: (name, revision) => parts.functions.revision(name, revision) !== undefined,
    call: (request, signal) => callFunction(parts.routing, request, signal),
    enqueue: async (request) => {
      await parts.calls.enqueue(request);
    },
    onError: parts.onError,
  };
}
