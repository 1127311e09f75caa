/**
 * Tagging packages with image names (issue 17): what `runlet push` asks for, checked here so
 * every shell (API, CLI) gets the same answers. A tag names a package that is stored now and
 * the shape its code runs in; retagging moves the name, never a function already deployed
 * from it (its revision keeps the package it was deployed with).
 */
import { UserError } from "../errors.js";
import { normalizeImageName } from "../spec/image-name.js";
import { packageDigestPattern, parseFunctionSpec } from "../spec/function-spec.js";
import { imageShapeSchema, type ImageShape, type ImageTag } from "../store/image-tag-store.js";
import type { Platform } from "./platform.js";

/** The one form of an image name, or a 400 that says what is wrong with it. */
export function imageNameOf(given: string): string {
  const checked = normalizeImageName(given);
  if (!checked.ok) {
    throw new UserError("RUNLET_INVALID_NAME", `Invalid image name: ${checked.problem}.`);
  }
  return checked.image;
}

export interface TagResult {
  readonly image: string;
  readonly packageDigest: string;
  readonly created: boolean;
  /** The package the name stood for before, when a retag moved it. */
  readonly previous: string | undefined;
}

/** Points an image name at an uploaded package and the shape it runs in. */
export async function tagImage(
  platform: Platform,
  given: string,
  packageDigest: string,
  shape: unknown,
): Promise<TagResult> {
  const image = imageNameOf(given);
  if (!packageDigestPattern.test(packageDigest)) {
    throw new UserError(
      "RUNLET_INVALID_REQUEST",
      `package must be the digest of an uploaded package (sha256:<64 hex>), not ${JSON.stringify(packageDigest.slice(0, 80))}.`,
    );
  }
  const parsed: ImageShape = parseFunctionSpec(imageShapeSchema, shape, `image ${image}`);
  if (!(await platform.packages.intact(packageDigest))) {
    throw new UserError(
      "RUNLET_PACKAGE_NOT_FOUND",
      `Package ${packageDigest} has not been uploaded; upload it with POST /api/v1/packages first (runlet push does both).`,
      { status: 400 },
    );
  }
  const { created, previous } = await platform.imageTags.put(image, packageDigest, parsed);
  if (previous !== undefined && previous !== packageDigest) {
    // Its grace period before collection starts now, as a removed revision's does.
    platform.packages.release([previous]);
  }
  return { image, packageDigest, created, previous };
}

/** The tag of an image name (any of its spellings); undefined when there is none. */
export function findImageTag(platform: Platform, given: string): ImageTag | undefined {
  const checked = normalizeImageName(given);
  return checked.ok ? platform.imageTags.get(checked.image) : undefined;
}

export function imageTagNotFound(image: string): UserError {
  return new UserError(
    "RUNLET_NOT_FOUND",
    `Image ${image} has no tag here; tag it with: runlet push -f stack.yml (see them with GET /api/v1/images)`,
  );
}

/** Removes a tag; functions deployed from it keep running their package. */
export async function untagImage(platform: Platform, given: string): Promise<void> {
  const image = imageNameOf(given);
  const tag = platform.imageTags.get(image);
  if (!tag || !(await platform.imageTags.remove(image))) {
    throw imageTagNotFound(image);
  }
  platform.packages.release([tag.packageDigest]);
}
