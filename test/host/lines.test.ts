/** onLines splits a child's output into lines whatever the chunking, keeping a last partial line. */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { onLines } from "../../src/host/lines.js";

describe("onLines", () => {
  it("joins lines split across writes and reports an unterminated last line at the end", async () => {
    // Separate writes with a pause between them, so the pipe delivers them as separate chunks.
    const script = [
      'process.stdout.write("first li");',
      'setTimeout(() => process.stdout.write("ne\\nsecond\\n\\nthi"), 50);',
      'setTimeout(() => process.stdout.write("rd"), 100);',
    ].join("\n");
    const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    const lines: string[] = [];
    onLines(child.stdout, (line) => lines.push(line));
    await once(child.stdout, "end");

    expect(lines).toEqual(["first line", "second", "", "third"]);
  });
});
