// Run with: npm install && npm test (type-checks with tsc, then runs this test)
import assert from "node:assert/strict";
import { test } from "node:test";
import handle from "./index.js";

test("greets by name", async () => {
  const result = await handle(
    { method: "GET", path: "/", query: { name: "Ada" }, headers: {} },
    { callId: "test" },
  );
  assert.deepEqual(result, { message: "Hello, Ada!" });
});
