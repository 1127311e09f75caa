/**
 * Image tags under /api/v1/images (issue 17): `PUT /api/v1/images/<image>` is what
 * `runlet push` sends after its upload, so an OpenFaaS deploy of that image (faas-cli) finds
 * the package. The image name is the rest of the path, slashes and all
 * (`/api/v1/images/docker.io/me/hello:0.1`).
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { FunctionView, Platform } from "../../platform/platform.js";
import {
  findImageTag,
  imageNameOf,
  imageTagNotFound,
  tagImage,
  untagImage,
} from "../../platform/image-tags.js";
import { parseFunctionSpec } from "../../spec/function-spec.js";
import type { ImageTag } from "../../store/image-tag-store.js";
import { imageAnnotation, packageSourceAnnotation } from "../openfaas-image.js";

/** The body of a tag: the package, and the shape its code runs in. */
export const imageTagBodySchema = z.looseObject({
  package: z.string({ error: "package is required: the digest of an uploaded package" }),
});

type Wildcard = { Params: { "*": string } };

export function registerImageRoutes(app: FastifyInstance, platform: Platform): void {
  app.get("/api/v1/images", async () => {
    const functions = platform.list();
    return platform.imageTags.list().map((tag) => imageView(tag, functions));
  });

  app.get<Wildcard>("/api/v1/images/*", async (request) => {
    const given = request.params["*"];
    const tag = findImageTag(platform, imageNameOf(given));
    if (!tag) {
      throw imageTagNotFound(given);
    }
    return imageView(tag, platform.list());
  });

  app.put<Wildcard>("/api/v1/images/*", async (request, reply) => {
    const { package: digest, ...shape } = parseFunctionSpec(
      imageTagBodySchema,
      request.body,
      "image tag",
    );
    const result = await tagImage(platform, request.params["*"], digest, shape);
    return reply.code(result.created ? 201 : 200).send({
      image: result.image,
      package: result.packageDigest,
      created: result.created,
      ...(result.previous === undefined ? {} : { previous: result.previous }),
    });
  });

  app.delete<Wildcard>("/api/v1/images/*", async (request, reply) => {
    await untagImage(platform, request.params["*"]);
    return reply.code(204).send();
  });
}

/** Names of the functions an OpenFaaS deploy of this tag made (their active revisions). */
function deployedFrom(tag: ImageTag, functions: readonly FunctionView[]): string[] {
  return functions
    .filter(
      (fn) =>
        fn.config.annotations[packageSourceAnnotation] === "tag" &&
        fn.config.annotations[imageAnnotation] === tag.image,
    )
    .map((fn) => fn.name);
}

function imageView(tag: ImageTag, functions: readonly FunctionView[]): Record<string, unknown> {
  return {
    image: tag.image,
    package: tag.packageDigest,
    ...tag.shape,
    createdAt: new Date(tag.createdAt).toISOString(),
    updatedAt: new Date(tag.updatedAt).toISOString(),
    functions: deployedFrom(tag, functions),
  };
}
