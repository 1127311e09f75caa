/**
 * How a built function runs: TypeScript runs its compiled module on the Node runtime, Go runs
 * its compiled program on the exec runtime in HTTP mode. Other runtimes run as declared.
 */
import type { FunctionConfig } from "../spec/function-spec.js";
import { goCommand } from "./go-compile.js";
import { compiledHandler } from "./typescript-compile.js";

export function runConfigOf(config: FunctionConfig): FunctionConfig {
  switch (config.runtime) {
    case "typescript":
      return { ...config, handler: compiledHandler(config.handler) };
    case "go":
      return { ...config, command: goCommand, mode: "http" };
    default:
      return config;
  }
}
