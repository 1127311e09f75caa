/**
 * `runlet import fission DIR`: reads the YAML that `fission spec` writes (Environment,
 * Package, Function, HTTPTrigger, ArchiveUploadSpec) and turns each Function into a Runlet
 * function with the fission handler shape (docs/compat.md).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { globSync } from "tinyglobby";
import { parseAllDocuments } from "yaml";
import { UserError } from "../errors.js";
import { functionSpecSchema, type RuntimeName } from "../spec/function-spec.js";
import { resolveFissionEntrypoint, type PackageFiles } from "../spec/fission-entrypoint.js";
import { fissionNamespace } from "../spec/names.js";
import {
  envList,
  importOutcome,
  isZip,
  list,
  record,
  text,
  unzipFiles,
  type ImportProblem,
  type ImportResult,
  type ImportedFunction,
} from "./imported.js";

interface Resource {
  readonly kind: string;
  readonly name: string;
  readonly file: string;
  readonly body: Record<string, unknown>;
}

const knownImages =
  "an image whose name says node, python or jvm (fission/node-env, fission/python-env, fission/jvm-env)";

/** Reads every *.yaml in `dir` (the specs folder); sources resolve from its parent folder. */
export function readFissionSpecs(dir: string): ImportResult {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new UserError(
      "RUNLET_INVALID_IMPORT",
      `${dir} is not a folder; pass the specs folder that \`fission spec init\` created, e.g. runlet import fission specs/`,
    );
  }
  const problems: ImportProblem[] = [];
  const notices: string[] = [];
  const resources: Resource[] = [];
  const files = globSync("**/*.{yaml,yml}", { cwd: dir }).sort();
  for (const file of files) {
    const path = join(dir, file);
    for (const doc of parseAllDocuments(readFileSync(path, "utf8"))) {
      if (doc.errors.length > 0) {
        for (const error of doc.errors) {
          problems.push({ file: path, message: error.message.split("\n")[0] ?? error.message });
        }
        continue;
      }
      const body = record(doc.toJS());
      const kind = text(body.kind);
      if (!kind) {
        continue;
      }
      // ArchiveUploadSpec has its name at the top; the custom resources in metadata.
      const name = text(body.name) ?? text(record(body.metadata).name) ?? "";
      resources.push({ kind, name, file: path, body });
    }
  }
  // Sources named by ArchiveUploadSpec are relative to where `fission spec apply` runs: the
  // folder that holds specs/.
  const root = dirname(resolve(dir));
  const byKind = (kind: string) => resources.filter((r) => r.kind === kind);
  const find = (kind: string, name: string) => byKind(kind).find((r) => r.name === name);

  const functions: ImportedFunction[] = [];
  for (const fn of byKind("Function")) {
    const at = (message: string) => problems.push({ file: fn.file, message, function: fn.name });
    const spec = record(fn.body.spec);
    const envName = text(record(spec.environment).name) ?? "";
    const environment = find("Environment", envName);
    if (!environment) {
      at(`function ${fn.name} uses environment ${JSON.stringify(envName)}, which no spec declares`);
      continue;
    }
    const image = text(record(record(environment.body.spec).runtime).image) ?? "";
    const runtime: RuntimeName | undefined = /node/i.test(image)
      ? "node"
      : /python/i.test(image)
        ? "python"
        : /jvm|java/i.test(image)
          ? "java"
          : undefined;
    if (!runtime) {
      problems.push({
        file: environment.file,
        message: `environment ${environment.name} runs image ${JSON.stringify(image)}; Runlet knows ${knownImages}`,
        function: fn.name,
      });
      continue;
    }
    if (text(record(record(environment.body.spec).builder).image)) {
      notices.push(
        `${fn.name}: environment ${environment.name}'s builder is not run; Runlet builds the package at deploy instead (its package.json, requirements.txt or pom.xml)`,
      );
    }
    const packageRef = record(spec.package);
    const pkgName = text(record(packageRef.packageref).name) ?? "";
    const pkg = find("Package", pkgName);
    if (!pkg) {
      at(`function ${fn.name} uses package ${JSON.stringify(pkgName)}, which no spec declares`);
      continue;
    }
    const pkgSpec = record(pkg.body.spec);
    if (text(pkgSpec.buildcmd)) {
      notices.push(`${fn.name}: package ${pkg.name}'s buildcmd is ignored`);
    }
    const deployment = record(pkgSpec.deployment);
    const source = record(pkgSpec.source);
    const archive = hasArchive(deployment) ? deployment : source;
    if (!hasArchive(archive)) {
      problems.push({
        file: pkg.file,
        message: `package ${pkg.name} has no source or deployment archive`,
        function: fn.name,
      });
      continue;
    }
    const entrypoint = text(packageRef.functionName) ?? "";
    const content = archiveFiles(archive, literalFileName(entrypoint, runtime), root, (name) =>
      find("ArchiveUploadSpec", name),
    );
    if (typeof content === "string") {
      problems.push({
        file: pkg.file,
        message: `package ${pkg.name}: ${content}`,
        function: fn.name,
      });
      continue;
    }
    // A JVM entrypoint is a class name, which the Java build and runtime look up.
    const resolved =
      runtime === "java"
        ? { handler: entrypoint }
        : resolveFissionEntrypoint(entrypoint, runtime, filesOf(content));
    if ("problem" in resolved) {
      problems.push({
        file: fn.file,
        message: `function ${fn.name}: ${resolved.problem} in package ${pkg.name} (looked for ${resolved.tried.join(", ")}; it has ${[...content.keys()].join(", ") || "no files"})`,
        function: fn.name,
      });
      continue;
    }
    const runletSpec: Record<string, unknown> = {
      runtime,
      handler: resolved.handler,
      compat: "fission",
      timeout: `${Number(spec.functionTimeout ?? 60) || 60}s`,
    };
    const env = envList(spec.env, (name) =>
      notices.push(
        `${fn.name}: env ${name} comes from a reference (valueFrom) and is not imported`,
      ),
    );
    if (Object.keys(env).length > 0) {
      runletSpec.env = env;
    }
    // Fission mounts each key at /secrets/<namespace>/<name>/<key> (/configs/... for config
    // maps); Runlet does too, under its one namespace, Fission's default.
    const references = (field: unknown, kind: "secrets" | "configmaps"): string[] =>
      list(field).flatMap((item) => {
        const name = text(record(item).name);
        const namespace = text(record(item).namespace) ?? fissionNamespace;
        if (name !== undefined && namespace !== fissionNamespace) {
          notices.push(
            `${fn.name}: ${kind} ${name} is in namespace ${namespace}; Runlet mounts it under /${kind === "secrets" ? "secrets" : "configs"}/${fissionNamespace}/${name}/`,
          );
        }
        return name === undefined ? [] : [name];
      });
    const secrets = references(spec.secrets, "secrets");
    if (secrets.length > 0) {
      runletSpec.secrets = secrets;
      notices.push(
        `${fn.name}: secrets ${secrets.join(", ")} are read from Runlet; create them with \`runlet secret create NAME --key KEY=VALUE\` (each key at /secrets/${fissionNamespace}/NAME/KEY)`,
      );
    }
    const configs = references(spec.configmaps, "configmaps");
    if (configs.length > 0) {
      runletSpec.configs = configs;
      notices.push(
        `${fn.name}: config maps ${configs.join(", ")} are read from Runlet; create them with \`runlet config create NAME --key KEY=VALUE\` (each key at /configs/${fissionNamespace}/NAME/KEY)`,
      );
    }
    const limits = record(record(spec.resources).limits);
    if (text(limits.memory)) {
      runletSpec.memory = text(limits.memory);
    }
    if (text(limits.cpu)) {
      const cpu = text(limits.cpu) ?? "";
      runletSpec.cpu = /^\d+(\.\d+)?$/.test(cpu) ? Number(cpu) : cpu;
    }
    const strategy = record(record(spec.InvokeStrategy).ExecutionStrategy);
    const scale: Record<string, unknown> = {};
    const minScale = Number(strategy.MinScale ?? 0);
    const maxScale = Number(strategy.MaxScale ?? 0);
    if (minScale > 0) {
      scale.min = minScale;
    }
    if (maxScale > 0) {
      scale.max = maxScale;
    }
    // Fission writes requestsPerPod: 1 by default; only a chosen value says something.
    const perPod = Number(spec.requestsPerPod ?? 0);
    if (perPod > 1) {
      scale.concurrency = perPod;
    }
    const idle = Number(spec.idletimeout ?? 0);
    if (idle > 0) {
      scale.idleTimeout = `${idle}s`;
    }
    if (Object.keys(scale).length > 0) {
      runletSpec.scale = scale;
    }
    const checked = functionSpecSchema.safeParse(runletSpec);
    if (!checked.success) {
      for (const issue of checked.error.issues) {
        at(`function ${fn.name}: ${issue.path.join(".")}: ${issue.message}`);
      }
      continue;
    }
    functions.push({
      name: fn.name,
      spec: checked.data,
      files: content,
      triggers: [],
      origin: fn.file,
    });
  }

  const withTriggers = functions.map((fn) => ({ ...fn, triggers: [] as { http: string }[] }));
  for (const trigger of byKind("HTTPTrigger")) {
    const spec = record(trigger.body.spec);
    const ref = record(spec.functionref);
    const target = withTriggers.find((fn) => fn.name === text(ref.name));
    if (!target) {
      if (text(ref.type) === "function-weights") {
        notices.push(`HTTP trigger ${trigger.name}: weighted functions are not imported`);
      } else {
        problems.push({
          file: trigger.file,
          message: `HTTP trigger ${trigger.name} calls function ${JSON.stringify(text(ref.name) ?? "")}, which no spec declares`,
        });
      }
      continue;
    }
    const prefix = text(spec.prefix);
    const url = prefix ? `${prefix.replace(/\/$/, "")}/*` : (text(spec.relativeurl) ?? "/");
    // gorilla/mux parameters may carry a pattern ({id:[0-9]+}); routes take the name only.
    const path = url.replace(/\{([A-Za-z_][A-Za-z0-9_]*):[^}]*\}/g, "{$1}");
    const methods = list(spec.methods)
      .map(text)
      .filter((m): m is string => m !== undefined);
    for (const method of methods.length > 0 ? methods : [text(spec.method) ?? "GET"]) {
      target.triggers.push({ http: `${method.toUpperCase()} ${path}` });
    }
  }
  for (const resource of resources) {
    if (
      ![
        "Function",
        "Environment",
        "Package",
        "HTTPTrigger",
        "ArchiveUploadSpec",
        "DeploymentConfig",
      ].includes(resource.kind)
    ) {
      notices.push(
        `${resource.kind} ${resource.name} (${basename(resource.file)}) is not imported`,
      );
    }
  }
  if (withTriggers.length === 0 && problems.length === 0) {
    throw new UserError(
      "RUNLET_INVALID_IMPORT",
      `${dir} declares no Function; run \`fission function create --spec …\` first, or pass the folder that holds the specs`,
    );
  }
  return importOutcome(`Fission specs in ${dir}`, { functions: withTriggers, notices }, problems);
}

function hasArchive(archive: Record<string, unknown>): boolean {
  return text(archive.url) !== undefined || text(archive.literal) !== undefined;
}

/**
 * The files of a Package archive: a literal (base64; a zip, or one file), or an
 * ArchiveUploadSpec's local files (archive://NAME). Returns a problem as a string.
 */
function archiveFiles(
  archive: Record<string, unknown>,
  singleFileName: string,
  root: string,
  uploadSpec: (name: string) => Resource | undefined,
): Map<string, Buffer> | string {
  const literal = text(archive.literal);
  if (literal !== undefined) {
    const bytes = Buffer.from(literal, "base64");
    return isZip(bytes) ? unzipFiles(bytes) : new Map([[singleFileName, bytes]]);
  }
  const url = text(archive.url) ?? "";
  if (!url.startsWith("archive://")) {
    return `its archive is at ${url}; Runlet imports local sources only: download it and name it in an ArchiveUploadSpec (fission spec writes those for --code and --src)`;
  }
  const name = url.slice("archive://".length);
  const spec = uploadSpec(name);
  if (!spec) {
    return `its archive ${url} names an ArchiveUploadSpec that no spec declares`;
  }
  const include = list(spec.body.include)
    .map(text)
    .filter((p): p is string => p !== undefined);
  const exclude = list(spec.body.exclude)
    .map(text)
    .filter((p): p is string => p !== undefined);
  const matches: string[] = [];
  for (const pattern of include) {
    const direct = resolve(root, pattern);
    if (existsSync(direct)) {
      matches.push(direct);
      continue;
    }
    const found = globSync(pattern, {
      cwd: root,
      absolute: true,
      ignore: exclude,
      onlyFiles: false,
    });
    if (found.length === 0) {
      return `ArchiveUploadSpec ${name} includes ${pattern}, which matches nothing under ${root}`;
    }
    matches.push(...found);
  }
  const only = matches[0];
  if (matches.length === 1 && only !== undefined && statSync(only).isFile()) {
    const bytes = readFileSync(only);
    if (isZip(bytes)) {
      return unzipFiles(bytes);
    }
  }
  // Like the fission CLI's archiver: files go in by their base name, folders by theirs.
  const files = new Map<string, Buffer>();
  for (const match of matches) {
    if (statSync(match).isDirectory()) {
      for (const file of globSync("**/*", { cwd: match, ignore: exclude })) {
        files.set(`${basename(match)}/${file}`, readFileSync(join(match, file)));
      }
    } else {
      files.set(basename(match), readFileSync(match));
    }
  }
  return files;
}

/** The file an entrypoint names, as Fission's environments look it up. */
/** The name a package's one literal file gets: the module its entrypoint names. */
function literalFileName(entrypoint: string, runtime: RuntimeName): string {
  const dot = entrypoint.lastIndexOf(".");
  const module = dot > 0 ? entrypoint.slice(0, dot) : "";
  if (runtime === "python") {
    return `${module === "" ? "main" : module.split(".").join("/")}.py`;
  }
  return `${module || entrypoint || "index"}.js`;
}

function filesOf(content: ReadonlyMap<string, Buffer>): PackageFiles {
  return {
    has: (path) => content.has(path),
    topLevel: () => [...content.keys()].filter((file) => !file.includes("/")),
    packageMain: () => {
      const pkg = content.get("package.json");
      try {
        return pkg === undefined ? undefined : text(record(JSON.parse(pkg.toString("utf8"))).main);
      } catch {
        return undefined; // Not JSON: the usual names are tried.
      }
    },
  };
}
