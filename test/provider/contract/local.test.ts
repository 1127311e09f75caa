/** The provider contract against the local provider: sandboxed child processes on Unix sockets. */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalProvider } from "../../../src/provider/local/local-provider.js";
import { describeProviderContract } from "./provider-contract.js";

describeProviderContract("local", {
  pools: true,
  create: async (context) =>
    LocalProvider.create({
      ...context,
      workDir: await mkdtemp(join(tmpdir(), "runlet-contract-work-")),
      poolSize: 1,
    }),
});
