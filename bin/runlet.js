#!/usr/bin/env node
// The `runlet` command: a shim over the compiled CLI in dist/.
import { main } from "../dist/cli/main.js";

// `runlet list | head -1` closes the pipe early: that is the reader's choice, not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error) => {
    if (error.code === "EPIPE") {
      process.exit(0);
    }
    throw error;
  });
}

const code = await main(process.argv.slice(2));
// A command that failed is over: whatever it started and left open (a platform that failed
// halfway through its start, issue 13) must not keep the process alive.
if (code !== 0) {
  process.exit(code);
}
process.exitCode = code;
