/**
 * The error catalogue (src/errors.ts) is the one place codes get their status and error bodies
 * get their shape (issue 14): every code answers with an error status, and no file under src/
 * builds an `{error: {code, …}}` body by hand instead of through the serializer.
 */
import { readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { sourceFiles } from "../helpers/source-files.js";
import {
  UserError,
  errorBody,
  errorCodes,
  errorJson,
  statusOf,
  userErrorBody,
} from "../../src/errors.js";

const srcRoot = resolve("src");
const serializerFile = join(srcRoot, "errors.ts");

function propertyName(name: ts.PropertyName): string | undefined {
  return ts.isIdentifier(name) || ts.isStringLiteral(name) ? name.text : undefined;
}

/** An object literal `{ code, … }` or `{ code: …, … }`. */
function hasCodeProperty(node: ts.ObjectLiteralExpression): boolean {
  return node.properties.some(
    (property) =>
      (ts.isPropertyAssignment(property) || ts.isShorthandPropertyAssignment(property)) &&
      propertyName(property.name) === "code",
  );
}

/**
 * Where `text` builds an error body by hand: an object literal `{ error: { code, … } }`, or a
 * string holding `"error": {` (a body written as JSON text). Line numbers are 1-based.
 */
function handBuiltBodies(fileName: string, text: string): number[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const lines: number[] = [];
  const report = (node: ts.Node): void => {
    lines.push(source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1);
  };
  const visit = (node: ts.Node): void => {
    if (
      ts.isPropertyAssignment(node) &&
      propertyName(node.name) === "error" &&
      ts.isObjectLiteralExpression(node.initializer) &&
      hasCodeProperty(node.initializer)
    ) {
      report(node);
    } else if (
      (ts.isStringLiteral(node) ||
        ts.isNoSubstitutionTemplateLiteral(node) ||
        ts.isTemplateHead(node) ||
        ts.isTemplateMiddle(node) ||
        ts.isTemplateTail(node)) &&
      /"error"\s*:\s*\{/.test(node.text)
    ) {
      report(node);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return lines;
}

describe("the error catalogue", () => {
  it("gives every code an error status: 4xx for the caller's mistakes, 5xx for ours or the function's", () => {
    expect(errorCodes.length).toBeGreaterThan(40);
    const wrong = errorCodes.filter((code) => {
      const status = statusOf(code);
      return !Number.isInteger(status) || status < 400 || status > 599;
    });
    expect(wrong).toEqual([]);
    // The 5xx codes are in the catalogue with theirs, not defaulted.
    expect(statusOf("RUNLET_INTERNAL")).toBe(500);
    expect(statusOf("RUNLET_UPSTREAM_FAILED")).toBe(502);
    expect(statusOf("RUNLET_INSTANCE_FAILED")).toBe(502);
    expect(statusOf("RUNLET_INVALID_RESPONSE")).toBe(502);
    expect(statusOf("RUNLET_CRASH_LOOP")).toBe(502);
    expect(statusOf("RUNLET_FUNCTION_TIMEOUT")).toBe(504);
    expect(new UserError("RUNLET_QUEUE_FULL", "full").status).toBe(429);
  });

  it("serializes every body in one shape, with details after the code and message", () => {
    expect(errorJson("RUNLET_NOT_FOUND", "no such route")).toBe(
      '{"error":{"code":"RUNLET_NOT_FOUND","message":"no such route"}}',
    );
    expect(errorBody("RUNLET_HANDLER_SYNTAX", "bad", { file: "index.js", line: 3 })).toEqual({
      error: { code: "RUNLET_HANDLER_SYNTAX", message: "bad", file: "index.js", line: 3 },
    });
    const built = new UserError("RUNLET_BUILD_FAILED", "failed", { details: { step: "npm" } });
    expect(JSON.stringify(userErrorBody(built))).toBe(
      '{"error":{"code":"RUNLET_BUILD_FAILED","message":"failed","step":"npm"}}',
    );
  });
});

describe("error bodies in src/", () => {
  it("spots a body built by hand, as an object or as JSON text (the scan below is not vacuous)", () => {
    const sample = [
      "const a = { error: { code: 'RUNLET_INTERNAL', message } };",
      "const b = { \"error\": { code, message: 'x' } };",
      'const c = `{"error": {"code":"${code}"}}`;',
      "type Fine = { error: { code: string } };",
      "const fine = errorBody('RUNLET_INTERNAL', 'x');",
    ].join("\n");
    expect(handBuiltBodies("sample.ts", sample)).toEqual([1, 2, 3]);
  });

  it("writes every error body through the serializer in src/errors.ts", () => {
    const files = sourceFiles(srcRoot).filter((file) => file !== serializerFile);
    expect(files.length).toBeGreaterThan(100);
    const found = files.flatMap((file) => {
      const text = readFileSync(file, "utf8");
      // Parsed only where a body could be: most files never mention one.
      if (!/error"?\s*:\s*[{`'"]/.test(text)) {
        return [];
      }
      return handBuiltBodies(file, text).map((line) => `${relative(srcRoot, file)}:${line}`);
    });
    expect(found).toEqual([]);
  });
});
