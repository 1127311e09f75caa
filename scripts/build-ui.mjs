#!/usr/bin/env node
// Builds the dashboard (ui/) into dist/ui/ at `npm run build`: one minified script and one
// stylesheet, named by content hash so the gateway can let browsers keep them, and the
// index.html that loads them. The gateway serves these files as they are (src/gateway/routes/ui.ts).
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, "dist", "ui");
const assetsDir = join(outDir, "assets");

await rm(outDir, { recursive: true, force: true });
await mkdir(assetsDir, { recursive: true });
const result = await build({
  entryPoints: [join(root, "ui", "src", "main.tsx"), join(root, "ui", "src", "styles.css")],
  outdir: assetsDir,
  entryNames: "[name]-[hash]",
  bundle: true,
  minify: true,
  format: "esm",
  target: ["chrome110", "firefox110", "safari16"],
  jsx: "automatic",
  jsxImportSource: "preact",
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});
const outputs = Object.keys(result.metafile.outputs).map((path) => basename(path));
const script = outputs.find((name) => name.endsWith(".js"));
const stylesheet = outputs.find((name) => name.endsWith(".css"));
if (!script || !stylesheet) {
  throw new Error(`the dashboard build gave no script or stylesheet: ${outputs.join(", ")}`);
}
const template = await readFile(join(root, "ui", "index.html"), "utf8");
await writeFile(
  join(outDir, "index.html"),
  template
    .replace("{{script}}", `/ui/assets/${script}`)
    .replace("{{stylesheet}}", `/ui/assets/${stylesheet}`),
);
