import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBuildRunlet, type TestRunlet } from "../helpers/runlet.js";
import { deployStreamed } from "./build-helpers.js";

export const pom = (dependencies = ""): string => `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>example</groupId>
  <artifactId>fn</artifactId>
  <version>1</version>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency>
      <groupId>dev.runlet</groupId>
      <artifactId>runlet-java-api</artifactId>
      <version>1.0.0</version>
      <scope>provided</scope>
    </dependency>${dependencies}
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

const commonsText = `
    <dependency>
      <groupId>org.apache.commons</groupId>
      <artifactId>commons-text</artifactId>
      <version>1.10.0</version>
    </dependency>`;

const handler = (greeting: string): string => `package example;

import dev.runlet.Context;
import dev.runlet.Event;
import dev.runlet.Function;
import java.util.Map;
import org.apache.commons.text.WordUtils;

public class Handler implements Function {
  @Override
  public Object handle(Event event, Context context) {
    String name = event.query("name") == null ? "world" : event.query("name");
    System.out.println("greeting " + name);
    return Map.of("message", "${greeting}, " + WordUtils.capitalize(name) + "!");
  }
}
`;

describe("Java with Maven", () => {
  let runlet: TestRunlet;
  beforeAll(async () => {
    runlet = await startBuildRunlet("runlet-java-");
  });
  afterAll(async () => {
    await runlet.close(1000);
    await rm(runlet.dataDir, { recursive: true, force: true });
  });

  it("builds pom.xml at deploy, caches the dependencies by pom, and keeps serving on a compile error", async () => {
    const spec = { runtime: "java", handler: "example.Handler" };
    const first = await deployStreamed(
      runlet,
      "greet",
      { "pom.xml": pom(commonsText), "src/main/java/example/Handler.java": handler("Hello") },
      spec,
    );
    if (first.last.type !== "result") {
      console.log(first.lines.map((line) => JSON.stringify(line)).join("\n"));
    }
    expect(first.last).toMatchObject({ type: "result", revision: 1 });
    expect(first.ran).toEqual(["mvn dependencies", "mvn compile", "package"]);
    expect(first.lines.some((line) => line.type === "log" && line.step === "mvn compile")).toBe(
      true,
    );
    const answer = await fetch(`${runlet.url}/function/greet?name=ada`);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ message: "Hello, Ada!" });

    // Only the code changed: the dependency layer is reused.
    const second = await deployStreamed(
      runlet,
      "greet",
      { "pom.xml": pom(commonsText), "src/main/java/example/Handler.java": handler("Hi") },
      spec,
    );
    expect(second.last).toMatchObject({ type: "result", revision: 2 });
    expect(second.cached).toContain("mvn dependencies");
    expect(second.ran).toContain("mvn compile");
    expect(await (await fetch(`${runlet.url}/function/greet?name=bo`)).json()).toEqual({
      message: "Hi, Bo!",
    });

    const broken = await deployStreamed(
      runlet,
      "greet",
      {
        "pom.xml": pom(commonsText),
        "src/main/java/example/Handler.java": handler("Hey").replace(
          "WordUtils.capitalize",
          "WordUtils.nope",
        ),
      },
      spec,
    );
    expect(broken.last.type).toBe("error");
    expect(broken.last.error?.code).toBe("RUNLET_BUILD_FAILED");
    expect(broken.last.error?.message).toMatch(
      /src\/main\/java\/example\/Handler\.java:14:\d+: cannot find symbol/,
    );
    expect(await (await fetch(`${runlet.url}/function/greet?name=cy`)).json()).toEqual({
      message: "Hi, Cy!",
    });
  }, 600_000);
});
