#!/usr/bin/env node
// The `runlet` command: a shim over the compiled CLI in dist/.
import { main } from "../dist/cli/main.js";

process.exitCode = await main(process.argv.slice(2));
