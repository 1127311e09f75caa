// What each image of the real test node holds (issue 15): the same images deploy/*.Dockerfile describe for real clusters.
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import type { ImageRuntimeConfig } from "./oci-image.js";
import { productionPackages } from "./production-packages.js";
import type { Rootfs } from "./rootfs.js";

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const VERSION = (
  JSON.parse(readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as {
    version: string;
  }
).version;

/** Where Runlet's own files live in every image. */
export const RUNLET_HOME = "/opt/runlet";
/** The unprivileged user every Runlet image runs as (numeric, so runAsNonRoot can be checked). */
export const RUNLET_UID = 10001;
const USER = `${String(RUNLET_UID)}:${String(RUNLET_UID)}`;
const PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * A repo path copied into the image, as a Dockerfile `COPY from to` does: a directory's
 * contents land in `to`, a file becomes `to`.
 */
export interface RepoCopy {
  readonly from: string;
  readonly to: string;
}

export interface ImageSpec {
  /** Short name, also the Dockerfile's: `deploy/<name>.Dockerfile`. */
  readonly name: string;
  /** Fully qualified, never `latest`: pods use it with imagePullPolicy Never or IfNotPresent. */
  readonly reference: string;
  /** The Dockerfile describing the same image for real clusters, relative to the repo root. */
  readonly dockerfile: string | undefined;
  readonly config: ImageRuntimeConfig;
  /** Runlet's files in the image, its top layer; the Dockerfile COPYs exactly these. */
  readonly copies: readonly RepoCopy[];
  /** What the image needs below `copies` (programs from the host, their libraries), bottom first. */
  readonly layers: readonly ImageLayer[];
}

/**
 * One layer of an image. Images that list the same layer object share it: containerd then
 * imports and unpacks it once (the Node.js binary alone is 100 MB).
 */
export interface ImageLayer {
  /** Names its cached file, e.g. `node-base`. */
  readonly name: string;
  readonly assemble: (rootfs: Rootfs) => Promise<void>;
}

/** Names in the repo tree that never go into an image. */
const NOT_SHIPPED = new Set(["__pycache__", ".DS_Store"]);

/**
 * The pod sandbox: a static binary and nothing else. Real clusters use their registry's pause
 * image, so there is no Dockerfile for it.
 */
export function pauseImage(pauseBinary: string): ImageSpec {
  return {
    name: "pause",
    reference: "runlet.local/pause:1",
    dockerfile: undefined,
    config: {
      entrypoint: ["/pause"],
      user: "65535:65535",
      env: [PATH_ENV],
      workingDir: "/",
      exposedPorts: [],
    },
    copies: [],
    layers: [
      {
        name: "pause",
        assemble: async (rootfs) => {
          await rootfs.file(pauseBinary, "/pause", 0o755);
        },
      },
    ],
  };
}

/** A minimal Linux root with the host's Node.js and the libraries it loads. */
const NODE_BASE: ImageLayer = {
  name: "node-base",
  assemble: async (rootfs) => {
    baseSystem(rootfs);
    await rootfs.hostProgram(hostNode());
  },
};

/** A minimal Linux root with the host's python3 and its standard library. */
const PYTHON_BASE: ImageLayer = {
  name: "python-base",
  assemble: async (rootfs) => {
    baseSystem(rootfs);
    await hostPython(rootfs);
  },
};

/**
 * A runtime server's image: the same user, working dir and port (8888, where a runtime listens
 * in a pod) for every language.
 */
function runtimeImage(options: {
  readonly language: string;
  readonly entrypoint: readonly string[];
  readonly env: readonly string[];
  readonly copies: readonly RepoCopy[];
  readonly layers: readonly ImageLayer[];
}): ImageSpec {
  const name = `runtime-${options.language}`;
  return {
    name,
    reference: `runlet.local/${name}:${VERSION}`,
    dockerfile: `deploy/${name}.Dockerfile`,
    config: {
      entrypoint: options.entrypoint,
      user: USER,
      env: [PATH_ENV, ...options.env, "PORT=8888"],
      workingDir: RUNLET_HOME,
      exposedPorts: ["8888/tcp"],
    },
    copies: options.copies,
    layers: options.layers,
  };
}

/** The Node.js runtime server (runtimes/node, with runtimes/shared). */
export const runtimeNodeImage = runtimeImage({
  language: "node",
  entrypoint: ["node", `${RUNLET_HOME}/runtimes/node/server.mjs`],
  env: ["NODE_ENV=production"],
  copies: [repoDir("runtimes/shared"), repoDir("runtimes/node")],
  layers: [NODE_BASE],
});

/** The Python runtime server (runtimes/python), standard library only. */
export const runtimePythonImage = runtimeImage({
  language: "python",
  entrypoint: ["python3", `${RUNLET_HOME}/runtimes/python/server.py`],
  env: ["PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1"],
  copies: [repoDir("runtimes/python")],
  layers: [PYTHON_BASE],
});

/** The exec runtime (runtimes/exec, with runtimes/shared), with a shell for functions that are scripts. */
export const runtimeExecImage = runtimeImage({
  language: "exec",
  entrypoint: ["node", `${RUNLET_HOME}/runtimes/exec/server.mjs`],
  env: ["NODE_ENV=production"],
  copies: [repoDir("runtimes/shared"), repoDir("runtimes/exec")],
  layers: [
    NODE_BASE,
    {
      name: "shell",
      assemble: async (rootfs) => {
        await rootfs.hostProgram("/bin/sh");
      },
    },
  ],
});

/** A repo path (file or folder) at the same place under RUNLET_HOME. */
function repoDir(from: string): RepoCopy {
  return { from, to: path.posix.join(RUNLET_HOME, from) };
}

/**
 * The platform (`runlet up`: gateway, executor, store) with its production dependencies, on
 * 8080. Needs the compiled dist/ (npm run build).
 */
export const platformImage: ImageSpec = {
  name: "platform",
  reference: `runlet.local/platform:${VERSION}`,
  dockerfile: "deploy/platform.Dockerfile",
  config: {
    entrypoint: ["node", `${RUNLET_HOME}/bin/runlet.js`],
    cmd: [
      "up",
      "--host",
      "0.0.0.0",
      "--port",
      "8080",
      "--data-dir",
      "/var/lib/runlet",
      "--pool-size",
      "0",
    ],
    user: USER,
    env: [PATH_ENV, "NODE_ENV=production"],
    workingDir: RUNLET_HOME,
    exposedPorts: ["8080/tcp"],
  },
  copies: ["package.json", "bin", "dist", "runtimes", "templates"].map(repoDir),
  layers: [
    NODE_BASE,
    {
      name: "platform-dependencies",
      assemble: async (rootfs) => {
        rootfs.directory("/var/lib/runlet", 0o700, { uid: RUNLET_UID, gid: RUNLET_UID });
        // The Dockerfile installs these with `npm ci --omit=dev`; here they come from the
        // checkout's node_modules, with the libraries their native addons load.
        const packages = await productionPackages(REPO_ROOT);
        for (const pkg of packages) {
          await rootfs.tree(
            pkg.dir,
            path.posix.join(RUNLET_HOME, "node_modules", pkg.name),
            NOT_SHIPPED,
          );
        }
        await rootfs.librariesOf(packages.flatMap((pkg) => pkg.nativeAddons));
      },
    },
  ],
};

/** The nats-server version the NATS image carries (test/k8s/tools/build.sh builds it). */
export const NATS_VERSION = "2.15.3";

/**
 * NATS with JetStream (the shared async call queue, NATS triggers): the nats-server built from
 * its Go module and deploy/nats/nats-server.conf, nothing else. Its store is /data, a volume.
 */
export function natsImage(natsServerBinary: string): ImageSpec {
  return {
    name: "nats",
    reference: `runlet.local/nats:${NATS_VERSION}`,
    dockerfile: "deploy/nats.Dockerfile",
    config: {
      entrypoint: ["nats-server", "--config", "/etc/nats/nats-server.conf"],
      user: USER,
      env: [PATH_ENV],
      workingDir: "/",
      exposedPorts: ["4222/tcp", "8222/tcp"],
    },
    copies: [{ from: "deploy/nats/nats-server.conf", to: "/etc/nats/nats-server.conf" }],
    layers: [
      {
        name: `nats-server-${NATS_VERSION}`,
        assemble: async (rootfs) => {
          await rootfs.file(natsServerBinary, "/usr/local/bin/nats-server", 0o755);
          rootfs.directory("/data", 0o755, { uid: RUNLET_UID, gid: RUNLET_UID });
        },
      },
    ],
  };
}

export const RUNLET_IMAGES: readonly ImageSpec[] = [
  runtimeNodeImage,
  runtimePythonImage,
  runtimeExecImage,
  platformImage,
];

/** Copies a spec's repo paths into the rootfs (its top layer). */
export async function addRepoCopies(rootfs: Rootfs, spec: ImageSpec): Promise<void> {
  for (const copy of spec.copies) {
    const from = path.join(REPO_ROOT, copy.from);
    if (!existsSync(from)) {
      throw new Error(
        `${copy.from} is missing, and the ${spec.name} image needs it` +
          (copy.from === "dist" ? " (run npm run build)" : ""),
      );
    }
    if (statSync(from).isDirectory()) {
      await rootfs.tree(from, copy.to, NOT_SHIPPED);
    } else {
      await rootfs.file(from, copy.to);
    }
  }
}

/** Users, a writable /tmp, mount points: what a program expects of any Linux root. */
function baseSystem(rootfs: Rootfs): void {
  const uid = String(RUNLET_UID);
  rootfs.data(
    "/etc/passwd",
    "root:x:0:0:root:/root:/usr/sbin/nologin\n" +
      `runlet:x:${uid}:${uid}:runlet:/home/runlet:/usr/sbin/nologin\n` +
      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
  );
  rootfs.data("/etc/group", `root:x:0:\nrunlet:x:${uid}:\nnogroup:x:65534:\n`);
  rootfs.data("/etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n");
  for (const dir of ["/tmp", "/var/tmp"]) {
    rootfs.directory(dir, 0o1777);
  }
  for (const dir of ["/proc", "/sys", "/dev", "/run", "/root"]) {
    rootfs.directory(dir, dir === "/root" ? 0o700 : 0o755);
  }
  rootfs.directory("/home/runlet", 0o755, { uid: RUNLET_UID, gid: RUNLET_UID });
}

/** The node binary running this process: the images run what the suite was tested with. */
function hostNode(): string {
  return process.execPath;
}

/** Debian's python3 with its standard library, minus what a server never imports. */
async function hostPython(rootfs: Rootfs): Promise<void> {
  const python = "/usr/bin/python3";
  await rootfs.hostProgram(python);
  const real = realpathSync(python);
  const version = path.basename(real).replace(/^python/, ""); // e.g. 3.11
  const stdlib = `/usr/lib/python${version}`;
  await rootfs.mirrorHostPath(stdlib);
  await rootfs.tree(
    stdlib,
    stdlib,
    new Set([
      ...NOT_SHIPPED,
      "test",
      "idlelib",
      "tkinter",
      "turtledemo",
      "ensurepip",
      "lib2to3",
      "pydoc_data",
      "site-packages",
      "dist-packages",
      // Debian's links to files of other packages (site configuration, the static library).
      "sitecustomize.py",
      `config-${version}-x86_64-linux-gnu`,
    ]),
  );
  const modules = path.join(stdlib, "lib-dynload");
  await rootfs.librariesOf(
    readdirSync(modules)
      .filter((name) => name.endsWith(".so"))
      .map((name) => path.join(modules, name)),
  );
}
