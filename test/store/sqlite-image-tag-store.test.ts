// The ImageTagStore contract cases against the embedded SQLite store.
import { describe } from "vitest";
import { openDatabase } from "../../src/store/database.js";
import { SqliteImageTagStore } from "../../src/store/image-tag-store.js";
import { imageTagStoreCases } from "./image-tag-store-cases.js";

describe("SqliteImageTagStore", () => {
  const store = new SqliteImageTagStore(openDatabase(":memory:"));
  imageTagStoreCases(() => store);
});
