/**
 * How the JVM of a Java instance is started. Its heap limit is fixed when it starts: from the
 * function's memory when the instance is started for a function, from the generic instance's
 * memory when it waits in a pool (a pooled instance then specialized for less memory is held
 * to the function's limit by its cgroup, and an overrun is reported as out of memory).
 */

/** Share of the instance's memory the heap may take; the rest is metaspace, code and stacks. */
const heapShare = 70;

export function javaServerArgs(memoryBytes: number): string[] {
  return [
    // One small heap, one GC thread: instances are small and many; pauses are short.
    "-XX:+UseSerialGC",
    `-XX:MaxRAM=${Math.max(64 * 2 ** 20, Math.floor(memoryBytes))}`,
    `-XX:MaxRAMPercentage=${heapShare}`,
    // Below about 250 MiB the JVM takes MinRAMPercentage instead (50% by default).
    `-XX:MinRAMPercentage=${heapShare}`,
    "-XX:ReservedCodeCacheSize=48m",
    "-XX:MaxMetaspaceSize=128m",
    "-Xss512k",
    // An OutOfMemoryError ends the instance with the JVM's own line on stderr, which the
    // provider names as out of memory; a half-broken JVM would keep taking calls.
    "-XX:+ExitOnOutOfMemoryError",
    // ...written by the VM to stdout unless told otherwise; the provider reads stderr.
    "-XX:+DisplayVMOutputToStderr",
    // No hsperfdata file in /tmp: nothing attaches to instances, and it costs start time.
    "-XX:-UsePerfData",
    "-Xshare:auto",
    "-Djava.io.tmpdir=/tmp",
    // The server fills System.getenv() with the function's env at specialize.
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    // The control channel is an inherited fd, taken by number (see Control.java).
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "-jar",
  ];
}
