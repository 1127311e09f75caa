// Writes deploy/crds/*.yaml from the zod schemas of Runlet's custom resources (npm run crds).
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { crdManifestFiles } from "../src/kubernetes/crd-manifests.js";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "deploy", "crds");
await mkdir(dir, { recursive: true });
const files = crdManifestFiles();
for (const name of await readdir(dir)) {
  if (name.endsWith(".yaml") && !files.has(name)) {
    await rm(join(dir, name));
  }
}
for (const [name, text] of files) {
  await writeFile(join(dir, name), text);
  console.log(`wrote deploy/crds/${name}`);
}
