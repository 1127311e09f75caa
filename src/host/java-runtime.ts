/**
 * The JDK that builds and runs Java functions, and the Java runtime server compiled with it.
 * The server and the Runlet Java API (runtimes/java/src) are compiled once per source and JDK
 * into a directory under the system temp dir, named by their hash: `runtime.jar` is what
 * instances run, and the API jar and pom are what function builds compile against (installed
 * into the build's Maven repository as dev.runlet:runlet-java-api).
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../errors.js";

/** Maven coordinates of the API a function compiles against (scope provided: the runtime has it). */
export const javaApi = {
  groupId: "dev.runlet",
  artifactId: "runlet-java-api",
  version: "1.0.0",
} as const;

/**
 * Fission's JVM library as its functions name it (scope provided): Runlet's own io.fission
 * classes, installed for builds under the versions Fission's poms use. Kept out of the server:
 * its signature names Spring's classes, which only the function's class loader has.
 */
export const fissionJavaCore = {
  groupId: "io.fission",
  artifactId: "fission-java-core",
  versions: ["0.0.1", "0.0.2", "0.0.2-SNAPSHOT"],
} as const;

export interface JavaRuntime {
  /** The JDK's home (mounted into sandboxes when outside /usr). */
  readonly home: string;
  readonly java: string;
  readonly javac: string;
  /** e.g. "17.0.15" */
  readonly version: string;
  /**
   * Host configuration the JDK links to outside its home (Debian's /etc/java-17-openjdk holds
   * java.security): sandboxes that run it must show these too.
   */
  readonly etcDirs: readonly string[];
  /** Directory holding runtime.jar, the API jar and its pom. */
  readonly dir: string;
  readonly runtimeJar: string;
  readonly apiJar: string;
  readonly apiPom: string;
  /** io.fission.Function and Context, compiled against names of Spring's classes only. */
  readonly fissionJar: string;
  /**
   * The springboot template's runner (dev.runlet.springboot), loaded in a function's class
   * loader beside its Spring Boot jars; the server finds it beside runtime.jar.
   */
  readonly springBootJar: string;
  /** Spring Boot's jars, once a springboot function is built: pooled JVMs warm them. */
  readonly springBootLibDir: string;
}

/** The Spring Boot the springboot template's functions run with (the template's 2.0.4 does not resolve). */
export const springBootVersion = "3.5.14";

const sourceDir = fileURLToPath(new URL("../../runtimes/java/src/", import.meta.url));
const fissionDir = fileURLToPath(new URL("../../runtimes/java/fission/", import.meta.url));
// Spring's class names for the compile of fissionDir; never packaged.
const fissionStubsDir = fileURLToPath(
  new URL("../../runtimes/java/fission-stubs/", import.meta.url),
);
const springBootDir = fileURLToPath(new URL("../../runtimes/java/springboot/", import.meta.url));
const springBootStubsDir = fileURLToPath(
  new URL("../../runtimes/java/springboot-stubs/", import.meta.url),
);
const minimumMajor = 17;
let resolved: JavaRuntime | undefined;

/** The JDK (RUNLET_JAVA_HOME, JAVA_HOME, else the `javac` on PATH) and the compiled server. */
export function javaRuntime(): JavaRuntime {
  resolved ??= compileRuntime(findJdk());
  return resolved;
}

function missingJdk(why: string): UserError {
  return new UserError(
    "RUNLET_UNSUPPORTED_RUNTIME",
    `runtime java needs a JDK ${minimumMajor} or newer where Runlet runs: ${why}. Install one (apt-get install openjdk-17-jdk-headless) or set RUNLET_JAVA_HOME.`,
    { status: 501 },
  );
}

function findJdk(): { home: string; version: string } {
  const explicit = process.env["RUNLET_JAVA_HOME"] ?? process.env["JAVA_HOME"];
  let javac: string;
  try {
    javac = explicit
      ? join(explicit, "bin", "javac")
      : execFileSync("sh", ["-c", "command -v javac"], { encoding: "utf8" }).trim();
    javac = realpathSync(javac);
  } catch {
    throw missingJdk("no javac found");
  }
  const out = execFileSync(javac, ["--version"], { encoding: "utf8", timeout: 30_000 });
  const version = /javac (\d+)(\S*)/.exec(out);
  if (!version?.[1] || Number(version[1]) < minimumMajor) {
    throw missingJdk(`${javac} is ${out.trim()}`);
  }
  return { home: dirname(dirname(javac)), version: `${version[1]}${version[2] ?? ""}` };
}

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".java"))
    .sort()
    .map((name) => join(dir, name));
}

function compileRuntime(jdk: { home: string; version: string }): JavaRuntime {
  const files = sources(sourceDir);
  const fissionFiles = sources(fissionDir);
  const stubFiles = sources(fissionStubsDir);
  const springBootFiles = sources(springBootDir);
  const springBootStubFiles = sources(springBootStubsDir);
  const hash = createHash("sha256").update(`${jdk.home}\0${jdk.version}\0`);
  for (const [root, list] of [
    [sourceDir, files],
    [fissionDir, fissionFiles],
    [fissionStubsDir, stubFiles],
    [springBootDir, springBootFiles],
    [springBootStubsDir, springBootStubFiles],
  ] as const) {
    for (const file of list) {
      hash.update(relative(root, file)).update("\0").update(readFileSync(file));
    }
  }
  const dir = join(tmpdir(), `runlet-java-runtime-${hash.digest("hex").slice(0, 16)}`);
  const runtime: JavaRuntime = {
    home: jdk.home,
    java: join(jdk.home, "bin", "java"),
    javac: join(jdk.home, "bin", "javac"),
    version: jdk.version,
    etcDirs: [`/etc/java-${jdk.version.split(".")[0] ?? ""}-openjdk`].filter((path) =>
      existsSync(path),
    ),
    dir,
    runtimeJar: join(dir, "runtime.jar"),
    apiJar: join(dir, `${javaApi.artifactId}-${javaApi.version}.jar`),
    apiPom: join(dir, `${javaApi.artifactId}-${javaApi.version}.pom`),
    fissionJar: join(dir, `${fissionJavaCore.artifactId}.jar`),
    springBootJar: join(dir, "runlet-springboot.jar"),
    springBootLibDir: join(dir, "springboot-lib"),
  };
  if (existsSync(runtime.runtimeJar)) {
    return runtime;
  }
  // Built beside, then renamed into place: another Runlet on this machine may build it too.
  const staging = `${dir}.tmp-${randomBytes(4).toString("hex")}`;
  const apiClasses = join(staging, "api");
  const serverClasses = join(staging, "server");
  const jar = join(jdk.home, "bin", "jar");
  try {
    const apiSources = files.filter((file) => !relative(sourceDir, file).includes("runtime/"));
    const serverSources = files.filter((file) => relative(sourceDir, file).includes("runtime/"));
    mkdirSync(staging, { recursive: true });
    const javacRun = (args: string[]): void => {
      execFileSync(
        runtime.javac,
        ["--release", String(minimumMajor), "-encoding", "UTF-8", ...args],
        {
          stdio: ["ignore", "ignore", "pipe"],
          timeout: 120_000,
        },
      );
    };
    javacRun(["-d", apiClasses, ...apiSources]);
    javacRun(["-d", serverClasses, "-cp", apiClasses, ...serverSources]);
    const fissionClasses = join(staging, "fission");
    javacRun(["-d", fissionClasses, "-sourcepath", fissionStubsDir, ...fissionFiles]);
    // Only io/fission: the stubs javac compiled from the source path stay out of the jar.
    const jarRun = (args: string[]): void => {
      execFileSync(jar, args, { stdio: ["ignore", "ignore", "pipe"], timeout: 60_000 });
    };
    jarRun([
      "--create",
      "--file",
      join(staging, "runtime.jar"),
      "--main-class",
      "dev.runlet.runtime.Server",
      "-C",
      apiClasses,
      ".",
      "-C",
      serverClasses,
      ".",
    ]);
    jarRun([
      "--create",
      "--file",
      join(staging, `${javaApi.artifactId}-${javaApi.version}.jar`),
      "-C",
      apiClasses,
      ".",
    ]);
    jarRun([
      "--create",
      "--file",
      join(staging, `${fissionJavaCore.artifactId}.jar`),
      "-C",
      fissionClasses,
      "io",
    ]);
    rmSync(fissionClasses, { recursive: true, force: true });
    const springBootClasses = join(staging, "springboot");
    javacRun(["-d", springBootClasses, "-sourcepath", springBootStubsDir, ...springBootFiles]);
    jarRun([
      "--create",
      "--file",
      join(staging, "runlet-springboot.jar"),
      "-C",
      springBootClasses,
      "dev",
    ]);
    rmSync(springBootClasses, { recursive: true, force: true });
    writeFileSync(
      join(staging, `${javaApi.artifactId}-${javaApi.version}.pom`),
      `<?xml version="1.0" encoding="UTF-8"?>\n<project xmlns="http://maven.apache.org/POM/4.0.0">\n  <modelVersion>4.0.0</modelVersion>\n  <groupId>${javaApi.groupId}</groupId>\n  <artifactId>${javaApi.artifactId}</artifactId>\n  <version>${javaApi.version}</version>\n  <packaging>jar</packaging>\n</project>\n`,
    );
    rmSync(apiClasses, { recursive: true, force: true });
    rmSync(serverClasses, { recursive: true, force: true });
    // Instances run as other uids: the jar must be theirs to read.
    chmodSync(staging, 0o755);
    try {
      renameSync(staging, dir);
    } catch (error) {
      if (!existsSync(runtime.runtimeJar)) {
        throw error;
      }
    }
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? "";
    throw new Error(
      `compiling the Java runtime server failed: ${stderr || (error as Error).message}`,
      {
        cause: error,
      },
    );
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return runtime;
}
