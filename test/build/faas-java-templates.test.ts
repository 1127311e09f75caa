/**
 * The springboot template's pom at build time: Runlet's runner needs Spring Boot among the
 * function's dependencies, added where Maven reads the project's own (not a plugin's or a
 * dependencyManagement's), and a spring-boot-starter-parent of another version is moved to
 * the one the runtime supplies.
 */
import { describe, expect, it } from "vitest";
import { springBootPom } from "../../src/build/faas-java-templates.js";
import { springBootVersion } from "../../src/host/java-runtime.js";

const project = (inner: string): string =>
  `<?xml version="1.0"?>\n<project>\n  <modelVersion>4.0.0</modelVersion>\n${inner}</project>\n`;

const starter = new RegExp(
  `<artifactId>spring-boot-starter</artifactId>\\s*<version>${springBootVersion.replace(/\./g, "\\.")}</version>`,
);

describe("springBootPom", () => {
  it("adds a dependencies block to a pom without one (the template's function pom)", () => {
    const { pom, notices } = springBootPom(
      project(
        "  <build><plugins><plugin><dependencies></dependencies></plugin></plugins></build>\n",
      ),
    );
    expect(pom).toMatch(starter);
    // The plugin's own dependencies are left as they were.
    expect(pom).toContain("<plugin><dependencies></dependencies></plugin>");
    expect(pom.indexOf("spring-boot-starter")).toBeGreaterThan(pom.indexOf("</build>"));
    expect(notices).toEqual([]);
  });

  it("adds to the project's dependencies, not dependencyManagement's or a comment's", () => {
    const { pom } = springBootPom(
      project(
        "  <!-- <dependencies></dependencies> -->\n  <dependencyManagement><dependencies></dependencies></dependencyManagement>\n  <dependencies>\n    <dependency><groupId>a</groupId><artifactId>b</artifactId><version>1</version></dependency>\n  </dependencies>\n",
      ),
    );
    expect(pom).toContain(
      "<dependencyManagement><dependencies></dependencies></dependencyManagement>",
    );
    expect(pom).toContain("<!-- <dependencies></dependencies> -->");
    const own = pom.lastIndexOf("<dependencies>");
    expect(pom.indexOf("spring-boot-starter")).toBeGreaterThan(own);
    expect(pom.match(/spring-boot-starter/g)).toHaveLength(1);
  });

  it("moves spring-boot-starter-parent 2.0.4 to the supplied version and keeps a named starter", () => {
    const { pom, notices } = springBootPom(
      project(
        "  <parent>\n    <groupId>org.springframework.boot</groupId>\n    <artifactId>spring-boot-starter-parent</artifactId>\n    <version>2.0.4.RELEASE</version>\n  </parent>\n  <dependencies>\n    <dependency><groupId>org.springframework.boot</groupId><artifactId>spring-boot-starter-web</artifactId></dependency>\n  </dependencies>\n",
      ),
    );
    expect(pom).toContain(`<version>${springBootVersion}</version>\n  </parent>`);
    expect(pom).not.toContain("2.0.4.RELEASE");
    expect(pom).not.toMatch(starter);
    expect(notices).toEqual([expect.stringContaining("2.0.4.RELEASE is built as")]);
  });
});
