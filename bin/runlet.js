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

process.exitCode = await main(process.argv.slice(2));
