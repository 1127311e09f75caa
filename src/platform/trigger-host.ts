/** Connects triggers to the platform: buffered calls, async enqueue, function lookups. */
import { callFunction } from "../router/call.js";
import type { TriggerHost } from "../triggers/trigger-host.js";
import type { Platform } from "./platform.js";

export function triggerHostOf(platform: Platform): TriggerHost {
  return {
    functionTimeoutMs: (name) => platform.findTarget(name)?.config.timeoutMs,
    hasRevision: (name, revision) => platform.functions.revision(name, revision) !== undefined,
    call: (request, signal) => callFunction(platform, request, signal),
    enqueue: (request) => {
      platform.calls.enqueue(request);
    },
    onError: (error) => platform.events.emit("backgroundError", error),
  };
}
