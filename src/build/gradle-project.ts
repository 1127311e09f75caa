/**
 * A function whose build is Gradle's (`build.gradle`, as OpenFaaS's java11/java17 templates
 * write it) on a machine without Gradle: its dependency lines are read and written as a pom
 * Maven builds from the same source layout (src/main/java, src/main/resources). Only what a
 * pom can say is read: `api|implementation|compile|runtimeOnly|compileOnly 'group:name:version'`
 * (or `group: 'g', name: 'n', version: 'v'`);
 * the rest of the script (plugins, tasks, other repositories) is not run, and each line that
 * names a dependency some other way is reported.
 */
import { javaApi } from "../host/java-runtime.js";

export interface GradleDependency {
  readonly groupId: string;
  readonly artifactId: string;
  readonly version: string;
  /** "compile" for what the function runs with, "provided" for compileOnly. */
  readonly scope: "compile" | "runtime" | "provided";
}

export interface GradleDependencies {
  readonly dependencies: readonly GradleDependency[];
  /** Lines in `dependencies {}` that name something a pom cannot (project(...), files(...)). */
  readonly unread: readonly string[];
}

/** The OpenFaaS templates' own libraries: Runlet's runtime has their classes. */
const provided = new Set(["com.openfaas:model", "com.openfaas:entrypoint"]);

const configurationScopes: Readonly<Record<string, GradleDependency["scope"]>> = {
  api: "compile",
  implementation: "compile",
  compile: "compile",
  runtimeOnly: "runtime",
  runtime: "runtime",
  compileOnly: "provided",
};

const coordinateLine =
  /^\s*(\w+)\s*\(?\s*['"]([\w.-]+):([\w.-]+):([\w.+-]+)(?::[\w.-]+)?(?:@\w+)?['"]\s*\)?\s*$/;
// The map notation: compile group: 'io.vertx', name: 'vertx-core', version: '3.5.0'
const mapLine =
  /^\s*(\w+)\s*\(?\s*group\s*:\s*['"]([\w.-]+)['"]\s*,\s*name\s*:\s*['"]([\w.-]+)['"]\s*,\s*version\s*:\s*['"]([\w.+-]+)['"]\s*\)?\s*$/;

/** The lines inside the script's `dependencies { ... }` blocks (not buildscript's). */
function dependencyBlockLines(script: string): string[] {
  const lines: string[] = [];
  const text = script.replace(/\/\*[\s\S]*?\*\//g, "");
  const opening = /(^|[^\w.])dependencies\s*\{/g;
  let match: RegExpExecArray | null;
  while ((match = opening.exec(text)) !== null) {
    const before = text.slice(0, match.index);
    // buildscript { dependencies { classpath ... } } names Gradle plugins, not the function's.
    if (/buildscript\s*\{[^}]*$/.test(before)) {
      continue;
    }
    let depth = 1;
    let at = opening.lastIndex;
    const start = at;
    while (at < text.length && depth > 0) {
      const char = text[at];
      if (char === "{") {
        depth += 1;
      } else if (char === "}") {
        depth -= 1;
      }
      at += 1;
    }
    lines.push(...text.slice(start, at - 1).split("\n"));
  }
  return lines.map((line) => line.replace(/\/\/.*$/, "").trim()).filter((line) => line !== "");
}

export function readGradleDependencies(script: string): GradleDependencies {
  const dependencies: GradleDependency[] = [];
  const unread: string[] = [];
  for (const line of dependencyBlockLines(script)) {
    const match = coordinateLine.exec(line) ?? mapLine.exec(line);
    const configuration = (match?.[1] ?? /^\s*(\w+)/.exec(line)?.[1]) || "";
    if (/^test|^androidTest|^annotationProcessor$|^kapt$/.test(configuration)) {
      continue;
    }
    const scope = configurationScopes[configuration];
    if (!match || scope === undefined) {
      unread.push(line);
      continue;
    }
    const [, , groupId = "", artifactId = "", version = ""] = match;
    if (provided.has(`${groupId}:${artifactId}`)) {
      continue;
    }
    dependencies.push({ groupId, artifactId, version, scope });
  }
  return { dependencies, unread };
}

const escapeXml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A pom that compiles src/main/java for Java 17 with the dependencies, and the Runlet API. */
export function pomFor(name: string, dependencies: readonly GradleDependency[]): string {
  const entry = (d: Pick<GradleDependency, "groupId" | "artifactId" | "version">, scope: string) =>
    [
      "    <dependency>",
      `      <groupId>${escapeXml(d.groupId)}</groupId>`,
      `      <artifactId>${escapeXml(d.artifactId)}</artifactId>`,
      `      <version>${escapeXml(d.version)}</version>`,
      ...(scope === "compile" ? [] : [`      <scope>${scope}</scope>`]),
      "    </dependency>",
    ].join("\n");
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by Runlet from build.gradle (Gradle is not installed where the function was built). -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>function</groupId>
  <artifactId>${escapeXml(name)}</artifactId>
  <version>1.0</version>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
${[entry(javaApi, "provided"), ...dependencies.map((d) => entry(d, d.scope))].join("\n")}
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-compiler-plugin</artifactId>
        <version>3.11.0</version>
      </plugin>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-resources-plugin</artifactId>
        <version>3.3.1</version>
      </plugin>
    </plugins>
  </build>
</project>
`;
}
