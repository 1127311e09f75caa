// The FunctionStore contract cases against the embedded SQLite store.
import { describe } from "vitest";
import { openDatabase } from "../../src/store/database.js";
import { SqliteFunctionStore } from "../../src/store/function-store.js";
import { functionStoreCases } from "./function-store-cases.js";

describe("SqliteFunctionStore", () => {
  const store = new SqliteFunctionStore(openDatabase(":memory:"));
  functionStoreCases(() => store);
});
