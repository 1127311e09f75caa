/**
 * Finds the build tools on this host (npm beside the running Node, python3 with pip, go) and
 * their versions, which are part of every build cache key: a tool upgrade rebuilds.
 */
import { execFile } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { UserError } from "../errors.js";
import { javaRuntime, type JavaRuntime } from "../host/java-runtime.js";
import { pythonInterpreter } from "../host/python-interpreter.js";

const run = promisify(execFile);

export interface NodeTools {
  /** The Node binary running Runlet; npm runs on it. */
  readonly node: string;
  readonly npmCli: string;
  readonly version: string;
}

export interface PythonTools {
  /** The real interpreter (not a pyenv shim). */
  readonly python: string;
  /** Its installation prefix, mounted into the build sandbox. */
  readonly prefix: string;
  readonly version: string;
}

export interface EsbuildTools {
  /** The native esbuild program (a static binary), run as a sandboxed tool like npm or go. */
  readonly binary: string;
  readonly version: string;
}

export interface JavaTools {
  /** The JDK and the Runlet API the function compiles against. */
  readonly runtime: JavaRuntime;
  /** Maven's launcher (resolved), its home and the host configuration it links to. */
  readonly mvn: string;
  readonly mavenHome: string;
  readonly mavenEtcDirs: readonly string[];
  /** JDK and Maven versions: part of the build key. */
  readonly version: string;
}

export interface GoTools {
  readonly go: string;
  readonly goroot: string;
  readonly version: string;
}

/** Resolves each tool once, on first use. */
export class BuildTools {
  #node: Promise<NodeTools> | undefined;
  #python: Promise<PythonTools> | undefined;
  #go: Promise<GoTools> | undefined;
  #java: Promise<JavaTools> | undefined;

  node(): Promise<NodeTools> {
    this.#node ??= findNode();
    return this.#node;
  }

  python(): Promise<PythonTools> {
    this.#python ??= findPython();
    return this.#python;
  }

  go(): Promise<GoTools> {
    this.#go ??= findGo();
    return this.#go;
  }

  java(): Promise<JavaTools> {
    this.#java ??= findJava();
    return this.#java;
  }

  /** Its version keys TypeScript builds. */
  esbuildVersion(): string {
    const require = createRequire(import.meta.url);
    return (require("esbuild/package.json") as { version: string }).version;
  }

  /**
   * The esbuild binary the esbuild package would run: ESBUILD_BINARY_PATH, else its platform
   * package (`@esbuild/linux-x64/bin/esbuild`) resolved from where esbuild is installed.
   */
  esbuild(): EsbuildTools {
    const version = this.esbuildVersion();
    const preset = process.env.ESBUILD_BINARY_PATH;
    if (preset && existsSync(preset)) {
      return { binary: preset, version };
    }
    const fromEsbuild = createRequire(createRequire(import.meta.url).resolve("esbuild"));
    try {
      return {
        binary: fromEsbuild.resolve(`@esbuild/${process.platform}-${process.arch}/bin/esbuild`),
        version,
      };
    } catch (error) {
      throw new Error(
        `esbuild's binary for ${process.platform}-${process.arch} is not installed (npm install esbuild)`,
        { cause: error },
      );
    }
  }
}

function missing(tool: string, how: string): UserError {
  return new UserError(
    "RUNLET_UNSUPPORTED_RUNTIME",
    `This Runlet server cannot build the function: ${tool} is not installed where it runs. ${how}`,
    { status: 501 },
  );
}

async function findNode(): Promise<NodeTools> {
  const node = process.execPath;
  const candidates = [
    join(dirname(node), "..", "lib", "node_modules", "npm", "bin", "npm-cli.js"),
    join(dirname(node), "node_modules", "npm", "bin", "npm-cli.js"),
  ];
  const npmCli = candidates.find((path) => existsSync(path));
  if (!npmCli) {
    throw missing("npm", "Install npm beside Node.js (it ships with Node's official builds).");
  }
  const { stdout } = await run(node, [npmCli, "--version"], { timeout: 30_000 });
  return { node, npmCli, version: `node ${process.version}, npm ${stdout.trim()}` };
}

/**
 * The interpreter the Python runtime runs (RUNLET_PYTHON, else the system's python3, else the
 * PATH's), so packages with compiled parts are installed for the Python that loads them.
 */
async function findPython(): Promise<PythonTools> {
  const python = pythonInterpreter();
  const { stdout } = await run(
    python,
    ["-c", "import sys; print(sys.prefix); print('%d.%d.%d' % sys.version_info[:3])"],
    { timeout: 30_000 },
  );
  const [prefix, version] = stdout.trim().split("\n");
  const pip = await run(python, ["-m", "pip", "--version"], { timeout: 30_000 }).catch(
    () => undefined,
  );
  const pipVersion = /^pip (\S+)/.exec(pip?.stdout ?? "")?.[1];
  if (!prefix || !version || !pipVersion) {
    throw missing(
      `pip for ${python}`,
      "Install it (apt-get install python3-pip), or set RUNLET_PYTHON to a python3 that has pip.",
    );
  }
  return { python, prefix, version: `python ${version}, pip ${pipVersion}` };
}

async function findGo(): Promise<GoTools> {
  const candidates = ["go", "/usr/local/go/bin/go"];
  for (const go of candidates) {
    try {
      const { stdout } = await run(go, ["env", "GOROOT", "GOVERSION"], { timeout: 30_000 });
      const [goroot, version] = stdout.trim().split("\n");
      if (goroot && version) {
        return { go: join(goroot, "bin", "go"), goroot, version };
      }
    } catch {
      // Try the next place.
    }
  }
  throw missing("Go", "Install Go so `go` is on the PATH or at /usr/local/go/bin/go.");
}

/**
 * The JDK the Java runtime runs (so classes are compiled for it) and Maven: RUNLET_MAVEN, else
 * `mvn` on the PATH. Without Maven, functions without a pom.xml still build with javac.
 */
async function findJava(): Promise<JavaTools> {
  const runtime = javaRuntime();
  let mvn = process.env["RUNLET_MAVEN"] ?? "";
  if (mvn === "") {
    mvn = await run("sh", ["-c", "command -v mvn"], { timeout: 10_000 }).then(
      (found) => found.stdout.trim(),
      () => "",
    );
  }
  if (mvn === "") {
    return {
      runtime,
      mvn: "",
      mavenHome: "",
      mavenEtcDirs: [],
      version: `java ${runtime.version}`,
    };
  }
  mvn = realpathSync(mvn);
  const mavenHome = dirname(dirname(mvn));
  const { stdout } = await run(mvn, ["--version", "-B"], {
    timeout: 60_000,
    env: { PATH: `${join(runtime.home, "bin")}:/usr/bin:/bin`, JAVA_HOME: runtime.home },
  });
  const mavenVersion = /Apache Maven (\S+)/.exec(stdout)?.[1] ?? "unknown";
  return {
    runtime,
    mvn,
    mavenHome,
    // Debian's Maven links its conf/ to /etc/maven.
    mavenEtcDirs: ["/etc/maven"].filter((dir) => existsSync(dir)),
    version: `java ${runtime.version}, maven ${mavenVersion}`,
  };
}
