/**
 * Java functions: compiled at deploy into `.runlet/java/classes`, with their runtime
 * dependencies as jars in `.runlet/java/lib`, which the Java runtime server loads in a class
 * loader of the function's own. With a pom.xml, Maven resolves the dependencies into a layer
 * keyed by the pom (so changing only code reuses them) and compiles; without one, javac
 * compiles the source's .java files against the Runlet API alone. The Maven repository is a
 * tool cache shared by all builds; the Runlet API is installed into it as a provided artifact.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chown,
  copyFile,
  cp,
  mkdir,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  writeFile,
} from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { promisify } from "node:util";
import { UserError } from "../errors.js";
import { fissionJavaCore, javaApi, springBootVersion } from "../host/java-runtime.js";
import { linkTree } from "../host/tree-link.js";
import {
  buildFailed,
  insideLayer,
  insideOut,
  installLayer,
  runStepTool,
  seen,
  toolEnv,
  type BuildContext,
} from "./build-context.js";
import { step, type BuildEvent } from "./build-events.js";
import { springBootPom, springBootRunnerNotice, vertxRunnerNotice } from "./faas-java-templates.js";
import { pomFor, readGradleDependencies } from "./gradle-project.js";
import type { JavaTools } from "./tools.js";

/** Where a built package holds the function's classes and dependency jars. */
export const javaClassesDir = ".runlet/java/classes";
export const javaLibDir = ".runlet/java/lib";

/** Pinned so a build means the same thing tomorrow (Maven would pick the newest otherwise). */
const dependencyPlugin = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1";
const mavenCache = "/cache/maven";
const execFileAsync = promisify(execFile);

export function hasMavenProject(sourceTree: string): boolean {
  return existsSync(join(sourceTree, "pom.xml"));
}

export async function buildJava(ctx: BuildContext): Promise<void> {
  const java = await ctx.tools.java();
  // The springboot template's pom checks Java 8 API use (animal-sniffer 1.16), which cannot
  // read Spring Boot 3's class files; the function runs on Java 17, so the check is not run.
  const flags: string[] = [];
  if (ctx.compat === "openfaas-springboot") {
    await springBootProject(ctx);
    flags.push("-Danimal.sniffer.skip=true");
  } else if (ctx.compat === "openfaas-vertx") {
    ctx.emit({ type: "notice", text: vertxRunnerNotice });
  }
  if (hasMavenProject(ctx.outDir)) {
    await buildWithMaven(ctx, java, flags);
    if (ctx.compat === "openfaas-springboot") {
      await shareSpringBoot(ctx, java);
    }
  } else if (await pomFromGradle(ctx)) {
    await buildWithMaven(ctx, java);
  } else {
    await buildWithJavac(ctx, java);
  }
}

/**
 * A Gradle build (OpenFaaS's java templates) without Gradle here: its dependencies become a
 * pom.xml Maven builds; with none, javac compiles the same layout. Says so in the build log.
 */
async function pomFromGradle(ctx: BuildContext): Promise<boolean> {
  const script = ["build.gradle", "build.gradle.kts"].find((name) =>
    existsSync(join(ctx.outDir, name)),
  );
  if (script === undefined) {
    return false;
  }
  const read = readGradleDependencies(await readFile(join(ctx.outDir, script), "utf8"));
  const how =
    read.dependencies.length === 0
      ? "javac compiles src/main/java (it names no dependency the function runs with that Runlet does not have)"
      : `Maven builds src/main/java with its ${read.dependencies.length} dependencies (${read.dependencies
          .map((d) => `${d.groupId}:${d.artifactId}:${d.version}`)
          .join(", ")}) from Maven Central`;
  ctx.emit({
    type: "notice",
    text: `${script}: Gradle is not installed where Runlet builds, so its tasks are not run; ${how}.`,
  });
  if (read.unread.length > 0) {
    ctx.emit({
      type: "notice",
      text: `${script}: not read (a pom cannot say it): ${read.unread.join("; ")}`,
    });
  }
  if (read.dependencies.length === 0) {
    return false;
  }
  await writeFile(join(ctx.outDir, "pom.xml"), pomFor(ctx.functionName, read.dependencies));
  return true;
}

/**
 * A springboot template function: its pom (or one written for a folder without) gets the
 * Spring Boot Runlet's runner starts; the build log says what replaced the template's runner.
 */
async function springBootProject(ctx: BuildContext): Promise<void> {
  ctx.emit({ type: "notice", text: springBootRunnerNotice });
  const path = join(ctx.outDir, "pom.xml");
  if (!existsSync(path)) {
    await writeFile(
      path,
      pomFor(ctx.functionName, [
        {
          groupId: "org.springframework.boot",
          artifactId: "spring-boot-starter",
          version: springBootVersion,
          scope: "compile",
        },
      ]),
    );
    return;
  }
  const changed = springBootPom(await readFile(path, "utf8"));
  for (const text of changed.notices) {
    ctx.emit({ type: "notice", text });
  }
  await writeFile(path, changed.pom);
}

/**
 * Puts Spring Boot's jars beside the Java runtime, once, for its pooled JVMs to warm
 * (SpringBootPool.java): every function's instance may come from that pool, so these jars are
 * never a function's. The platform resolves them itself from a pom of its own naming only
 * spring-boot-starter, into a Maven repository no build sees (builds run the plugins their pom
 * names, and could write into their own layer or the shared repository).
 */
async function shareSpringBoot(ctx: BuildContext, java: JavaTools): Promise<void> {
  const shared = java.runtime.springBootLibDir;
  if (existsSync(shared)) {
    return;
  }
  const work = join(ctx.cacheDir("springboot-pool"), randomBytes(4).toString("hex"));
  const repository = join(ctx.cacheDir("springboot-pool"), "repository");
  const staging = `${shared}.tmp-${randomBytes(4).toString("hex")}`;
  try {
    await mkdir(work, { recursive: true });
    await writeFile(
      join(work, "pom.xml"),
      `<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0">\n  <modelVersion>4.0.0</modelVersion>\n  <groupId>dev.runlet.pool</groupId>\n  <artifactId>springboot</artifactId>\n  <version>1</version>\n  <dependencies>\n    <dependency>\n      <groupId>org.springframework.boot</groupId>\n      <artifactId>spring-boot-starter</artifactId>\n      <version>${springBootVersion}</version>\n    </dependency>\n  </dependencies>\n</project>\n`,
    );
    await execFileAsync(
      java.mvn,
      [
        "-B",
        "-q",
        "--no-transfer-progress",
        `-Dmaven.repo.local=${repository}`,
        `${dependencyPlugin}:copy-dependencies`,
        "-DincludeScope=runtime",
        "-DexcludeGroupIds=dev.runlet",
        `-DoutputDirectory=${staging}`,
      ],
      {
        cwd: work,
        env: { ...process.env, JAVA_HOME: java.runtime.home, MAVEN_CONFIG: "" },
        timeout: 600_000,
      },
    );
    await rename(staging, shared);
    ctx.emit({
      type: "notice",
      text: `Spring Boot ${springBootVersion} is kept beside the Java runtime: pooled JVMs warm it from now on.`,
    });
  } catch {
    // Not resolved, or another build put it there first: the pool goes on without it, and
    // springboot functions start Spring Boot at specialize.
  } finally {
    await rm(staging, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  }
}

/** Compiler messages name `path:[line,col] message` (Maven) or `path:line: error: message` (javac). */
const compilerError = [
  /^\[ERROR\] (\/\S+?\.java):\[(\d+),(\d+)\] (.*)$/,
  /^(\S+?\.java):(\d+): error: (.*)$/,
];

/** The first compile error as `file:line[:col]: message`, the file relative to the source. */
function firstCompileError(lines: readonly string[], root: string): string | undefined {
  for (const text of lines) {
    for (const pattern of compilerError) {
      const match = pattern.exec(text.trim());
      if (match?.[1] && match[2]) {
        const file = match[1].startsWith("/") ? relative(root, match[1]) : match[1];
        const column = match.length === 5 ? `:${match[3] ?? ""}` : "";
        const message = match.length === 5 ? match[4] : match[3];
        return `${file}:${match[2]}${column}: ${message ?? ""}`;
      }
    }
  }
  return undefined;
}

/** Runs a compile, and on failure names the first error's file and line in the headline. */
async function compile(
  ctx: BuildContext,
  stepName: string,
  run: (ctx: BuildContext) => Promise<void>,
): Promise<void> {
  const lines: string[] = [];
  const watching: BuildContext = {
    ...ctx,
    emit: (event: BuildEvent) => {
      if (event.type === "log" && lines.length < 10_000) {
        lines.push(event.text);
      }
      ctx.emit(event);
    },
  };
  try {
    await run(watching);
  } catch (error) {
    const where = firstCompileError(lines, seen(ctx, ctx.outDir, insideOut));
    if (error instanceof UserError && where !== undefined) {
      const output = (error.details?.["output"] as string[] | undefined) ?? [];
      throw buildFailed(ctx, stepName, `${where}`, output);
    }
    throw error;
  }
}

/**
 * Makes `repository/...segments` with the repository's owner: builds run Maven as another
 * user, which must be able to add artifacts beside these (io/fission beside io/micrometer).
 */
async function repositoryDir(repository: string, segments: readonly string[]): Promise<string> {
  await mkdir(repository, { recursive: true });
  const owner = await stat(repository);
  let dir = repository;
  for (const segment of segments) {
    dir = join(dir, segment);
    if (!existsSync(dir)) {
      await mkdir(dir, { recursive: true });
      if (owner.uid !== process.getuid?.()) {
        await chown(dir, owner.uid, owner.gid);
      }
    }
  }
  return dir;
}

async function installApi(repository: string, java: JavaTools): Promise<void> {
  const dir = await repositoryDir(repository, [
    ...javaApi.groupId.split("."),
    javaApi.artifactId,
    javaApi.version,
  ]);
  const base = `${javaApi.artifactId}-${javaApi.version}`;
  await copyFile(java.runtime.apiJar, join(dir, `${base}.jar`));
  await copyFile(java.runtime.apiPom, join(dir, `${base}.pom`));
  // No repository serves Fission's library (it was a snapshot on a host that is gone); its
  // functions name it as provided, and the build finds Runlet's in the local repository.
  for (const version of fissionJavaCore.versions) {
    const at = await repositoryDir(repository, [
      ...fissionJavaCore.groupId.split("."),
      fissionJavaCore.artifactId,
      version,
    ]);
    const name = `${fissionJavaCore.artifactId}-${version}`;
    await copyFile(java.runtime.fissionJar, join(at, `${name}.jar`));
    await writeFile(
      join(at, `${name}.pom`),
      `<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0">\n  <modelVersion>4.0.0</modelVersion>\n  <groupId>${fissionJavaCore.groupId}</groupId>\n  <artifactId>${fissionJavaCore.artifactId}</artifactId>\n  <version>${version}</version>\n  <packaging>jar</packaging>\n</project>\n`,
    );
  }
}

async function buildWithMaven(
  ctx: BuildContext,
  java: JavaTools,
  compileFlags: readonly string[] = [],
): Promise<void> {
  if (!ctx.runsPackageCode) {
    throw new UserError(
      "RUNLET_BUILD_FAILED",
      "This Runlet server does not build pom.xml (or build.gradle) functions: a Maven build runs the plugins the pom names, which are code, and builds here are not sandboxed (Kubernetes mode builds in the gateway pod). A function without pom.xml is compiled with javac alone, which runs no code of the function's, and deploys here.",
    );
  }
  if (java.mvn === "") {
    throw new UserError(
      "RUNLET_UNSUPPORTED_RUNTIME",
      "This Runlet server cannot build the function's pom.xml: Maven is not installed where it runs. Install it (apt-get install maven) or set RUNLET_MAVEN; a function without pom.xml is compiled with javac alone.",
      { status: 501 },
    );
  }
  const cache = ctx.cacheDir("maven");
  const repository = join(cache, "repository");
  await installApi(repository, java);
  const repositoryInside = `${seen(ctx, cache, mavenCache)}/repository`;
  const toolDirs = [
    java.runtime.home,
    java.mavenHome,
    ...java.runtime.etcDirs,
    ...java.mavenEtcDirs,
  ];
  const env = (home: string): Record<string, string> =>
    toolEnv(ctx, [join(java.runtime.home, "bin"), dirname(java.mvn)], {
      JAVA_HOME: java.runtime.home,
      // Maven's own JVM: a short-lived tool, so start fast rather than peak.
      MAVEN_OPTS: "-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto",
      MAVEN_CONFIG: "",
      HOME: home,
    });
  const pom = await readFile(join(ctx.outDir, "pom.xml"));
  // Fission's functions name Spring as provided (its environment had it); here they bring it.
  const scope = ctx.compat === "fission" ? "compile" : "runtime";
  const key = `maven-${createHash("sha256")
    .update("maven-layer-1\0")
    .update(`${java.version}\0`)
    .update(scope === "runtime" ? "" : `${scope}\0`)
    .update(pom)
    .digest("hex")}`;
  const layerDir = await installLayer(ctx, {
    key,
    step: "mvn dependencies",
    detail: `mvn ${dependencyPlugin.split(":").slice(1).join(":")}:copy-dependencies (pom.xml)`,
    cachedDetail: "pom.xml unchanged: reusing the resolved dependencies",
    inputs: ["pom.xml"],
    cache: "maven",
    tool: (dir) => ({
      command: java.mvn,
      args: [
        "-B",
        "--no-transfer-progress",
        "-Dstyle.color=never",
        `-Dmaven.repo.local=${repositoryInside}`,
        `${dependencyPlugin}:copy-dependencies`,
        `-DincludeScope=${scope}`,
        "-DexcludeGroupIds=dev.runlet",
        `-DoutputDirectory=${seen(ctx, join(dir, "lib"), `${insideLayer}/lib`)}`,
      ],
      env: env(ctx.sandboxed ? "/tmp" : join(ctx.scratchDir, "home")),
      toolDirs,
    }),
  });
  const out = seen(ctx, ctx.outDir, insideOut);
  const release = releaseWithoutCompilerPlugin(pom.toString("utf8"));
  await compile(ctx, "mvn compile", (watching) =>
    step(watching.emit, "mvn compile", "mvn compile (pom.xml)", () =>
      runStepTool(watching, {
        step: "mvn compile",
        command: java.mvn,
        args: [
          "-B",
          "--no-transfer-progress",
          "-Dstyle.color=never",
          `-Dmaven.repo.local=${repositoryInside}`,
          "-DskipTests",
          ...compileFlags,
          ...(release === undefined
            ? []
            : [`-Dmaven.compiler.source=${release}`, `-Dmaven.compiler.target=${release}`]),
          "compile",
        ],
        cwd: out,
        env: env(ctx.sandboxed ? "/tmp" : join(ctx.scratchDir, "home")),
        mounts: [
          { host: ctx.outDir, inside: insideOut, writable: true },
          { host: cache, inside: mavenCache, writable: true },
        ],
        toolDirs,
      }),
    ),
  );
  const compiled = join(ctx.outDir, "target", "classes");
  await mkdir(join(ctx.outDir, dirname(javaClassesDir)), { recursive: true });
  if (existsSync(compiled)) {
    await rename(compiled, join(ctx.outDir, javaClassesDir));
  } else {
    await mkdir(join(ctx.outDir, javaClassesDir), { recursive: true });
  }
  // What else Maven left in target/ is not run; the package carries only the classes.
  await rm(join(ctx.outDir, "target"), { recursive: true, force: true });
  const lib = join(layerDir, "lib");
  if (existsSync(lib)) {
    await linkTree(lib, join(ctx.outDir, javaLibDir));
  }
}

/**
 * The `maven.compiler.release` of a pom that does not pin maven-compiler-plugin. Maven 3.8's
 * default compiler plugin (3.1) does not know `release` and compiles for Java 5, which a
 * JDK 17 refuses; given as source and target it means what the pom says (Fission's JVM
 * examples are written so, for a newer Maven).
 */
export function releaseWithoutCompilerPlugin(pom: string): string | undefined {
  const release = /<maven\.compiler\.release>\s*(\d+)\s*<\/maven\.compiler\.release>/.exec(
    pom,
  )?.[1];
  const pinned = /<artifactId>\s*maven-compiler-plugin\s*<\/artifactId>\s*<version>/.test(pom);
  const explicit = /<maven\.compiler\.(?:source|target)>/.test(pom);
  return release !== undefined && !pinned && !explicit ? release : undefined;
}

async function javaSources(root: string, dir = root): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".") || entry.name === "target" || entry.name === "node_modules") {
      continue;
    }
    const path = join(dir, entry.name);
    // A function's tests (src/test/java) compile against JUnit, which the function does not run with.
    if (entry.isDirectory() && relative(root, path) === join("src", "test")) {
      continue;
    }
    if (entry.isDirectory()) {
      found.push(...(await javaSources(root, path)));
    } else if (entry.name.endsWith(".java") && !entry.name.endsWith("Test.java")) {
      found.push(relative(root, path));
    }
  }
  return found.sort();
}

async function buildWithJavac(ctx: BuildContext, java: JavaTools): Promise<void> {
  const sources = await javaSources(ctx.outDir);
  if (sources.length === 0) {
    throw new UserError(
      "RUNLET_BUILD_FAILED",
      `Building ${ctx.functionName} failed: the source has no .java files and no pom.xml.`,
      { status: 422, details: { step: "javac", output: [] } },
    );
  }
  // The API jar is put beside the source for the compile (the sandbox shows only the tree).
  const apiJar = ".runlet/java/runlet-java-api.jar";
  await mkdir(join(ctx.outDir, dirname(apiJar)), { recursive: true });
  await copyFile(java.runtime.apiJar, join(ctx.outDir, apiJar));
  const out = seen(ctx, ctx.outDir, insideOut);
  try {
    await compile(ctx, "javac", (watching) =>
      step(watching.emit, "javac", `javac --release 17 (${sources.length} files)`, () =>
        runStepTool(watching, {
          step: "javac",
          command: java.runtime.javac,
          args: [
            "--release",
            "17",
            "-encoding",
            "UTF-8",
            "-cp",
            `${out}/${apiJar}`,
            "-d",
            `${out}/${javaClassesDir}`,
            ...sources,
          ],
          cwd: out,
          env: toolEnv(ctx, [join(java.runtime.home, "bin")], { JAVA_HOME: java.runtime.home }),
          mounts: [{ host: ctx.outDir, inside: insideOut, writable: true }],
          toolDirs: [java.runtime.home, ...java.runtime.etcDirs],
        }),
      ),
    );
  } finally {
    await rm(join(ctx.outDir, apiJar), { force: true });
  }
  // Maven's and Gradle's layout: resources sit beside the classes (ServiceLoader files too).
  const resources = join(ctx.outDir, "src", "main", "resources");
  if (existsSync(resources)) {
    await cp(resources, join(ctx.outDir, javaClassesDir), { recursive: true });
  }
}
