// Credentials of a test cluster: a CA and the apiserver's serving certificate (openssl), bearer tokens, the service-account key pair.
import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import * as path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export interface ClusterCredentials {
  readonly caFile: string;
  readonly caPem: string;
  readonly apiserverCertFile: string;
  readonly apiserverKeyFile: string;
  /** The apiserver's client certificate for the kubelet (`system:masters`). */
  readonly kubeletClientCertFile: string;
  readonly kubeletClientKeyFile: string;
  /** kube-apiserver --token-auth-file */
  readonly tokensFile: string;
  /** Bearer token of a `system:masters` user. */
  readonly adminToken: string;
  /** Bearer token of the node `system:node:<name>`, when a node name was given. */
  readonly nodeToken: string | undefined;
  readonly serviceAccountKeyFile: string;
  readonly serviceAccountPublicKeyFile: string;
}

export interface CredentialOptions {
  readonly dir: string;
  /**
   * Names the apiserver is reached by: 127.0.0.1 always (the host's forwarder and components
   * beside it), plus e.g. the node address and the `kubernetes` Service IP.
   */
  readonly apiserverNames: readonly string[];
  /** A real node's name, to get a token in the `system:nodes` group (the Node authorizer). */
  readonly nodeName?: string;
}

/**
 * Writes everything into `dir` (keys 0600). The CA is our own rather than the apiserver's
 * self-signed one, so the serving certificate can name the node address and the Service IP
 * that controllers and pods use.
 */
export async function createCredentials(options: CredentialOptions): Promise<ClusterCredentials> {
  const dir = options.dir;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = (name: string): string => path.join(dir, name);
  const openssl = (args: readonly string[]): Promise<unknown> =>
    execFileAsync("openssl", args, { cwd: dir }).catch((error: unknown) => {
      throw new Error(`openssl ${args[0] ?? ""} failed (is openssl installed?)`, { cause: error });
    });

  // P-256 keys: as good as RSA here and much quicker to make on a busy machine.
  const ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl([
    "req",
    "-x509",
    ...ecKey,
    "-days",
    "7",
    "-subj",
    "/CN=runlet-test-ca",
    "-keyout",
    file("ca.key"),
    "-out",
    file("ca.crt"),
  ]);
  /** A key and a certificate for `subject`, signed by the CA, with the given extensions. */
  const issue = async (name: string, subject: string, extensions: string): Promise<void> => {
    await writeFile(file(`${name}.ext`), extensions);
    await openssl([
      "req",
      ...ecKey,
      "-subj",
      subject,
      "-keyout",
      file(`${name}.key`),
      "-out",
      file(`${name}.csr`),
    ]);
    await openssl([
      "x509",
      "-req",
      "-in",
      file(`${name}.csr`),
      "-CA",
      file("ca.crt"),
      "-CAkey",
      file("ca.key"),
      "-CAcreateserial",
      "-days",
      "7",
      "-extfile",
      file(`${name}.ext`),
      "-out",
      file(`${name}.crt`),
    ]);
  };
  const names = ["127.0.0.1", "localhost", ...options.apiserverNames];
  const altNames = [...new Set(names)].map((n) => (isIP(n) === 0 ? `DNS:${n}` : `IP:${n}`));
  await issue(
    "apiserver",
    "/CN=kube-apiserver",
    `subjectAltName=${altNames.join(",")}\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n`,
  );
  // What the apiserver shows the kubelet (logs, exec, port-forward). The kubelet accepts no
  // other client: a pod on the node can reach its port, and must not be let in.
  await issue(
    "apiserver-kubelet-client",
    "/O=system:masters/CN=kube-apiserver-kubelet-client",
    "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n",
  );

  // Token auth: `token,user,uid,"groups"` (kube-apiserver --token-auth-file).
  const adminToken = randomBytes(24).toString("hex");
  const nodeToken = options.nodeName === undefined ? undefined : randomBytes(24).toString("hex");
  let tokens = `${adminToken},runlet-test-admin,runlet-test-admin,"system:masters"\n`;
  if (options.nodeName !== undefined && nodeToken !== undefined) {
    const user = `system:node:${options.nodeName}`;
    tokens += `${nodeToken},${user},${user},"system:nodes"\n`;
  }
  await writeFile(file("tokens.csv"), tokens, { mode: 0o600 });

  // Service-account token signing key pair (the apiserver signs and verifies; the controller
  // manager signs the legacy token secrets).
  const { privateKey, publicKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  await writeFile(file("sa.key"), privateKey, { mode: 0o600 });
  await writeFile(file("sa.pub"), publicKey);

  return {
    caFile: file("ca.crt"),
    caPem: await readFile(file("ca.crt"), "utf8"),
    apiserverCertFile: file("apiserver.crt"),
    apiserverKeyFile: file("apiserver.key"),
    kubeletClientCertFile: file("apiserver-kubelet-client.crt"),
    kubeletClientKeyFile: file("apiserver-kubelet-client.key"),
    tokensFile: file("tokens.csv"),
    adminToken,
    nodeToken,
    serviceAccountKeyFile: file("sa.key"),
    serviceAccountPublicKeyFile: file("sa.pub"),
  };
}

/** A kubeconfig as JSON (valid YAML), read by kubectl and `@kubernetes/client-node` alike. */
export function kubeconfig(server: string, user: string, token: string, caPem: string): string {
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "runlet-test",
        cluster: {
          server,
          "certificate-authority-data": Buffer.from(caPem).toString("base64"),
        },
      },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [
      {
        name: "runlet-test",
        context: { cluster: "runlet-test", user, namespace: "default" },
      },
    ],
    "current-context": "runlet-test",
    preferences: {},
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}
