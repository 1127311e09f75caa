// The runtime's side of its supervisor (docs/runtime-protocol.md, "Control channel"): exit when
// the supervisor goes, and tell it things, "ready" and the function's log lines, on the control
// fd; without one, the call-tagged lines go to GET /v2/logs. Shared by the Node-based runtime
// servers (node, exec); dependency-free.
import { fstatSync, writeSync } from "node:fs";
import { LogStream } from "./log-stream.mjs";

const controlFd = process.env.RUNLET_CONTROL_FD ? Number(process.env.RUNLET_CONTROL_FD) : undefined;

/** Where call-tagged log lines go when there is no control pipe; undefined when there is one. */
export const logStream = controlFd === undefined ? new LogStream() : undefined;

function isPipe(fd) {
  try {
    const stat = fstatSync(fd);
    // Node's child_process gives stdio pipes as socket pairs.
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return false;
  }
}

/**
 * Under a supervisor, stdin is a pipe from it that is never written: its end means the
 * supervisor is gone (even if it was killed), so the instance must not outlive it. Only a
 * pipe counts: a supervisor that gives no stdin (/dev/null) does not use this signal.
 */
export function exitWithSupervisor() {
  if (controlFd !== undefined && isPipe(0)) {
    process.stdin.on("end", () => process.exit(0));
    process.stdin.on("error", () => process.exit(0));
    process.stdin.resume();
  }
}

/**
 * One JSON line to the supervisor (fd 3). Without one (in a pod), a log line of a call goes to
 * the log stream, and one of no call to the process's own stdout or stderr.
 */
export function control(message) {
  if (controlFd === undefined) {
    if (message.event !== "log") {
      return;
    }
    if (message.callId !== undefined) {
      logStream?.write(message.stream, message.text, message.callId);
    } else {
      (message.stream === "stderr" ? process.stderr : process.stdout).write(message.text + "\n");
    }
    return;
  }
  try {
    writeSync(controlFd, JSON.stringify(message) + "\n");
  } catch {
    // The supervisor is gone; nothing useful is left to tell it.
  }
}

/** One line of the function's output, tagged with the call that wrote it (if known). */
export function log(stream, text, callId) {
  control({ event: "log", stream, callId, text });
}
