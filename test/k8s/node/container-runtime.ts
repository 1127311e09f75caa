// The real test node's container runtime (issue 15): containerd with runc and CNI in the node's namespace, and the images imported into it.
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";
import type { Component } from "../cluster/component.js";
import type { Supervisor } from "../cluster/supervisor.js";
import type { ImageBuild } from "../images/image-cache.js";
import type { NodeBinaries } from "./binaries.js";
import { cniConfigDir, containerdConfig, containerdSocket } from "./containerd-config.js";
import type { NodeNamespace } from "./namespace.js";
import { podNetworkConfig } from "./pod-network-config.js";

const execFileAsync = promisify(execFile);

export interface ContainerRuntimeOptions {
  readonly supervisor: Supervisor;
  readonly namespace: NodeNamespace;
  readonly binaries: NodeBinaries;
  /** Reference of the pod sandbox image, which must be among `images`. */
  readonly sandboxImage: string;
  /** Written (or found in the cache) meanwhile; imported as soon as containerd is up. */
  readonly images: Promise<readonly ImageBuild[]>;
  readonly startTimeoutMs: number;
}

export interface ContainerRuntime {
  readonly containerd: Component;
  /** The CRI socket the kubelet and crictl use; a file both sides of the namespace see. */
  readonly socket: string;
  /** Resolves once every image is in containerd's `k8s.io` namespace (the kubelet's). */
  readonly imported: Promise<readonly ImageBuild[]>;
  /** PATH for processes of the node: the shim, and iptables for CNI's portmap and kube-proxy. */
  readonly path: string;
}

/**
 * Starts containerd inside the node's namespace and, once it answers, imports the images.
 * Needs nothing of the control plane, so it runs while the control plane starts.
 */
export async function startContainerRuntime(
  options: ContainerRuntimeOptions,
): Promise<ContainerRuntime> {
  const { supervisor, binaries: bin } = options;
  const dir = path.join(supervisor.dir, "containerd");
  await mkdir(cniConfigDir(dir), { recursive: true });
  await writeFile(
    path.join(cniConfigDir(dir), "10-runlet-pods.conflist"),
    podNetworkConfig(path.join(supervisor.dir, "cni-ipam")),
  );
  const configFile = path.join(dir, "config.toml");
  await writeFile(
    configFile,
    containerdConfig({ dir, binaries: bin, sandboxImage: options.sandboxImage }),
  );
  const socket = containerdSocket(dir);
  const nodePath = `${bin.dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
  const containerd = await supervisor.start(
    {
      name: "containerd",
      command: bin.containerd,
      args: ["--config", configFile],
      env: { PATH: nodePath, HOME: supervisor.dir },
    },
    options.namespace.launcher,
  );
  // ctr runs inside the namespace too: an import mounts each new snapshot to unpack a layer
  // into it, and those mounts must not happen in the host's mount namespace (nor could they:
  // containerd's root is a tmpfs only the node's namespace sees).
  const ctr = async (args: readonly string[]): Promise<unknown> => {
    const command = await options.namespace.command(bin.ctr, [
      "--address",
      socket,
      "--namespace",
      "k8s.io",
      ...args,
    ]);
    return execFileAsync(command.command, command.args, {
      timeout: 180_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  };
  await supervisor.waitFor(containerd, "containerd", options.startTimeoutMs, async () => {
    await ctr(["version"]);
    return true;
  });
  const imported = (async (): Promise<readonly ImageBuild[]> => {
    const images = await options.images;
    if (!images.some((image) => image.reference === options.sandboxImage)) {
      throw new Error(`the sandbox image ${options.sandboxImage} is not among the images`);
    }
    for (const image of images) {
      try {
        // --local: the client reads the archive and writes the content itself, which is
        // several times quicker than streaming it through containerd's transfer service.
        await ctr(["images", "import", "--local", image.archive]);
      } catch (error) {
        supervisor.blame(containerd);
        throw new Error(`ctr images import ${image.archive} failed`, { cause: error });
      }
    }
    return images;
  })();
  imported.catch(() => undefined); // awaited by the caller; an early failure is not unhandled
  return { containerd, socket, imported, path: nodePath };
}
