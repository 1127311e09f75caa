/**
 * What an OpenFaaS FunctionDeployment's `image` means here, where there are no images: a
 * package digest is that package; an image name `runlet push` (or `runlet deploy -f stack.yml`)
 * tagged is the package and shape it names; an image name with an `envProcess` whose program
 * is on this host is an exec function running it as the classic watchdog would (so
 * `functions/alpine` with `fprocess: sha512sum` works); any other image name is refused with
 * what to do.
 */
import { accessSync, constants } from "node:fs";
import { delimiter, isAbsolute, join } from "node:path";
import { UserError } from "../errors.js";
import { packEmptySource } from "../packaging/pack.js";
import { findImageTag } from "../platform/image-tags.js";
import type { Platform } from "../platform/platform.js";
import { packageDigestPattern } from "../spec/function-spec.js";
import type { ImageShape } from "../store/image-tag-store.js";

/** Annotations that say where a function deployed through the OpenFaaS API came from. */
export const imageAnnotation = "com.runlet.image";
export const packageSourceAnnotation = "com.runlet.package-source";

/** What the `com.runlet.package-source` annotation says for each kind. */
export type ImageResolution =
  | { readonly kind: "package"; readonly digest: string }
  | {
      readonly kind: "tag";
      readonly digest: string;
      /** The image name in its one form (`hello` is `hello:latest`). */
      readonly image: string;
      readonly shape: ImageShape;
    }
  | { readonly kind: "envProcess"; readonly digest: string; readonly command: string };

/** The program an fprocess runs, when it is on this host's PATH (or an absolute path). */
export function hostProgram(command: string, path = process.env.PATH ?? ""): string | undefined {
  const program = command.trim().split(/\s+/)[0] ?? "";
  if (program === "") {
    return undefined;
  }
  const candidates = isAbsolute(program)
    ? [program]
    : program.includes("/")
      ? []
      : path
          .split(delimiter)
          .filter((dir) => dir !== "")
          .map((dir) => join(dir, program));
  return candidates.find((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export async function resolveImage(
  platform: Platform,
  image: string,
  envProcess: string | undefined,
): Promise<ImageResolution> {
  if (packageDigestPattern.test(image)) {
    return { kind: "package", digest: image };
  }
  // A tag wins over an envProcess: faas-cli sends its template's fprocess with every image.
  const tag = findImageTag(platform, image);
  if (tag) {
    return { kind: "tag", digest: tag.packageDigest, image: tag.image, shape: tag.shape };
  }
  const command = envProcess?.trim();
  if (command !== undefined && command !== "" && hostProgram(command) !== undefined) {
    return { kind: "envProcess", digest: await emptyPackage(platform), command };
  }
  const why =
    command === undefined || command === ""
      ? ""
      : ` Its envProcess ${JSON.stringify(command)} names no program on this host either.`;
  throw new UserError(
    "RUNLET_PACKAGE_NOT_FOUND",
    `Image ${image} has no package here: Runlet deploys functions from source, not container images, and no push tagged this one.${why} Upload the function's source and tag it as ${image} with \`runlet push -f stack.yml\` (the stack file naming this image), then deploy again; or set image to the digest of an uploaded package (sha256:…).`,
    { status: 400 },
  );
}

/** The package of a function with no code of its own (its program is the host's). */
async function emptyPackage(platform: Platform): Promise<string> {
  const packed = await packEmptySource();
  await platform.packages.put(packed.archive, packed.digest);
  return packed.digest;
}
