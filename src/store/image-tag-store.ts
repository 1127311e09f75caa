/**
 * Image tags (issue 17): a container image name, as a stack file's `image:` writes it, standing
 * for a package and the shape its code runs in (runtime, handler, compat, command), which is
 * what an image carries besides its files. `runlet push` and `runlet deploy -f stack.yml`
 * record them; an OpenFaaS deploy of that image (faas-cli) deploys the package they name.
 */
import type { z } from "zod";
import { functionSpecSchema } from "../spec/function-spec.js";
import type { Awaitable } from "./awaitable.js";
import type { Db } from "./database.js";

/** What of a function spec an image fixes: the rest comes with each deploy. */
export const imageShapeSchema = functionSpecSchema.pick({
  runtime: true,
  handler: true,
  compat: true,
  command: true,
  mode: true,
});
export type ImageShape = z.infer<typeof imageShapeSchema>;

export interface ImageTag {
  /** The image name in its one form (spec/image-name.ts), e.g. `me/hello:0.1`. */
  readonly image: string;
  /** The source package it stands for (sha256:…). */
  readonly packageDigest: string;
  readonly shape: ImageShape;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What the platform uses of a tag store (reads at once, writes awaited). */
export interface ImageTagStore {
  /**
   * Points `image` at a package and shape (a new tag, or a retag); returns the package it
   * pointed at before, if any.
   */
  put(
    image: string,
    packageDigest: string,
    shape: ImageShape,
  ): Awaitable<{ created: boolean; previous: string | undefined }>;
  get(image: string): ImageTag | undefined;
  list(): ImageTag[];
  remove(image: string): Awaitable<boolean>;
  /** The packages tags point at: kept from collection as a revision's are. */
  referencedPackages(): Set<string>;
}

/** A stored shape, read back through the schema it was written with. */
export function parseImageShape(text: string): ImageShape {
  return imageShapeSchema.parse(JSON.parse(text));
}

/** Tags in name order, as every store lists them. */
export function byImageName(a: ImageTag, b: ImageTag): number {
  return a.image < b.image ? -1 : a.image > b.image ? 1 : 0;
}

interface TagRow {
  image: string;
  package_digest: string;
  shape: string;
  created_at: number;
  updated_at: number;
}

function tagOf(row: TagRow): ImageTag {
  return {
    image: row.image,
    packageDigest: row.package_digest,
    shape: parseImageShape(row.shape),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The embedded tag store: rows of the SQLite database. */
export class SqliteImageTagStore implements ImageTagStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  put(
    image: string,
    packageDigest: string,
    shape: ImageShape,
  ): { created: boolean; previous: string | undefined } {
    return this.#db.transaction(() => {
      const before = this.get(image);
      const now = Date.now();
      this.#db
        .prepare(
          `INSERT INTO image_tags (image, package_digest, shape, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(image) DO UPDATE SET package_digest = excluded.package_digest,
             shape = excluded.shape, updated_at = excluded.updated_at`,
        )
        .run(image, packageDigest, JSON.stringify(shape), now, now);
      return { created: before === undefined, previous: before?.packageDigest };
    })();
  }

  get(image: string): ImageTag | undefined {
    const row = this.#db
      .prepare<[string], TagRow>("SELECT * FROM image_tags WHERE image = ?")
      .get(image);
    return row ? tagOf(row) : undefined;
  }

  list(): ImageTag[] {
    return this.#db.prepare<[], TagRow>("SELECT * FROM image_tags ORDER BY image").all().map(tagOf);
  }

  remove(image: string): boolean {
    return this.#db.prepare("DELETE FROM image_tags WHERE image = ?").run(image).changes > 0;
  }

  referencedPackages(): Set<string> {
    return new Set(
      this.#db
        .prepare<[], { package_digest: string }>("SELECT DISTINCT package_digest FROM image_tags")
        .all()
        .map((row) => row.package_digest),
    );
  }
}
