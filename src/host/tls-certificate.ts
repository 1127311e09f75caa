/**
 * TLS for the gateway (issue 18): a certificate and key the operator gives, or a self-signed
 * pair made once with the host's `openssl` into `<data-dir>/tls/` (key 0600) and reused on
 * later starts, so clients that pinned its fingerprint (or trust it with --ca) keep working.
 */
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { UserError } from "../errors.js";

const run = promisify(execFile);

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** SHA-256 fingerprint of the certificate, colon-separated hex (what browsers show). */
  readonly fingerprint: string;
  /** Where the certificate is, for clients' --ca. */
  readonly certPath: string;
  /** True when this start made the certificate. */
  readonly created: boolean;
}

/** Reads a certificate and key the operator gave; a pair that does not fit is refused. */
export async function readTlsFiles(certPath: string, keyPath: string): Promise<TlsMaterial> {
  let cert: Buffer;
  let key: Buffer;
  try {
    [cert, key] = await Promise.all([readFile(certPath), readFile(keyPath)]);
  } catch (error) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `Cannot read the TLS certificate or key (${(error as Error).message}); give PEM files: runlet up --tls-cert cert.pem --tls-key key.pem`,
      { cause: error },
    );
  }
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(cert);
  } catch (error) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `${certPath} is not a PEM certificate; give the certificate (-----BEGIN CERTIFICATE-----) with --tls-cert.`,
      { cause: error },
    );
  }
  return { cert, key, fingerprint: parsed.fingerprint256, certPath, created: false };
}

/** The data directory's self-signed certificate, made on first use. */
export async function selfSignedCertificate(dataDir: string): Promise<TlsMaterial> {
  const dir = join(dataDir, "tls");
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  let created = false;
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      await run(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-days",
          "825",
          "-subj",
          "/CN=runlet",
          "-addext",
          "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
          "-keyout",
          keyPath,
          "-out",
          certPath,
        ],
        { timeout: 30_000 },
      );
    } catch (error) {
      const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
      throw new UserError(
        "RUNLET_INVALID_REQUEST",
        missing
          ? "runlet up --tls makes its certificate with the openssl program, which is not installed; install openssl, or give your own: runlet up --tls-cert cert.pem --tls-key key.pem"
          : `openssl could not make a self-signed certificate (${(error as Error).message}); give your own: runlet up --tls-cert cert.pem --tls-key key.pem`,
        { cause: error },
      );
    }
    await chmod(keyPath, 0o600);
    created = true;
  }
  const material = await readTlsFiles(certPath, keyPath);
  return { ...material, created };
}
