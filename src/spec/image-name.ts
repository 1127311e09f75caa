/**
 * Container image names as OpenFaaS stack files and faas-cli write them (`hello`,
 * `hello:latest`, `docker.io/me/hello:0.1`), checked against the reference grammar of the
 * distribution spec and brought to one form, so each name Docker treats as the same image is
 * one image tag here (issue 17): a missing tag is `latest`, and Docker Hub's own prefixes
 * (`docker.io/`, `index.docker.io/`, `library/`) are dropped as `docker` shows them.
 */

/** Longest name (registry and path), as Docker limits it. */
export const maxImageNameLength = 255;
/** Longest tag, as the distribution spec limits it. */
export const maxImageTagLength = 128;

const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const registryHost =
  /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/;
const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export type ImageNameCheck =
  { readonly ok: true; readonly image: string } | { readonly ok: false; readonly problem: string };

/**
 * The one form of an image name, or why it is not one. A reference pinned to a registry
 * digest (`name@sha256:…`) names a container image's bytes, which no tag here can be.
 */
export function normalizeImageName(given: string): ImageNameCheck {
  const bad = (problem: string): ImageNameCheck => ({ ok: false, problem });
  const text = given.trim();
  if (text === "") {
    return bad("an image name is required (e.g. hello:latest)");
  }
  if (text.includes("@")) {
    return bad(
      `"${text}" is pinned to a registry digest; Runlet's images are tags of packages: name it by tag (e.g. hello:0.1)`,
    );
  }
  // The tag follows the last colon after the last slash (a colon before it is a registry port).
  const slash = text.lastIndexOf("/");
  const colon = text.lastIndexOf(":");
  const hasTag = colon > slash;
  const name = hasTag ? text.slice(0, colon) : text;
  const tag = hasTag ? text.slice(colon + 1) : "latest";
  if (name.length > maxImageNameLength) {
    return bad(
      `"${text.slice(0, 40)}…" is ${name.length} characters long before its tag; the limit is ${maxImageNameLength}`,
    );
  }
  if (tag.length > maxImageTagLength) {
    return bad(
      `the tag of "${name}" is ${tag.length} characters long; the limit is ${maxImageTagLength}`,
    );
  }
  if (!tagPattern.test(tag)) {
    return bad(
      `"${tag}" is not a valid tag: use letters, digits, '_', '.' and '-', not starting with '.' or '-' (e.g. latest, 0.1)`,
    );
  }
  const parts = name.split("/");
  const first = parts[0] ?? "";
  // As Docker decides: the first part names a registry when it has a dot or a port, or is localhost.
  const isRegistry =
    parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost");
  if (isRegistry && !registryHost.test(first)) {
    return bad(
      `"${first}" in "${text}" is not a valid registry host (e.g. registry.example.com:5000)`,
    );
  }
  const path = isRegistry ? parts.slice(1) : parts;
  const wrong = path.find((part) => !pathComponent.test(part));
  if (wrong !== undefined) {
    return bad(
      `"${wrong}" in "${text}" is not a valid image name part: use lower-case letters and digits, separated by '.', '_', '__' or '-' (e.g. me/hello:0.1)`,
    );
  }
  let registry = isRegistry ? first : undefined;
  if (registry === "docker.io" || registry === "index.docker.io") {
    registry = undefined;
  }
  const repository =
    registry === undefined && path.length === 2 && path[0] === "library"
      ? (path[1] ?? "")
      : path.join("/");
  return { ok: true, image: `${registry === undefined ? "" : `${registry}/`}${repository}:${tag}` };
}
