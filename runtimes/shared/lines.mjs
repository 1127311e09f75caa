// Splitting a program's output into lines, for log lines and error messages. Dependency-free.

/** Calls `onLine` for each line of `stream` (a final unterminated line included). */
export function onLines(stream, onLine) {
  let pending = "";
  stream.setEncoding("utf8");
  stream.on("data", (text) => {
    const lines = (pending + text).split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) {
      onLine(line.endsWith("\r") ? line.slice(0, -1) : line);
    }
  });
  stream.on("end", () => {
    if (pending) {
      onLine(pending);
      pending = "";
    }
  });
}
