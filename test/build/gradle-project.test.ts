import { describe, expect, it } from "vitest";
import { pomFor, readGradleDependencies } from "../../src/build/gradle-project.js";

describe("build.gradle read for Maven", () => {
  it("takes the function's dependencies, leaves out tests, build plugins and the OpenFaaS model", () => {
    const read = readGradleDependencies(`
buildscript {
    dependencies {
        classpath 'org.example:gradle-plugin:1.0'
    }
}
/* implementation 'commented:out:1' */
dependencies {
    api 'org.apache.commons:commons-math3:3.6.1'
    implementation "com.google.guava:guava:23.0" // a comment
    implementation("org.slf4j:slf4j-api:2.0.9")
    compileOnly 'org.projectlombok:lombok:1.18.30'
    runtimeOnly 'org.postgresql:postgresql:42.7.1'
    testImplementation 'junit:junit:4.12'
    compile 'com.openfaas:model:0.1.1'
    compile group: 'io.vertx', name: 'vertx-core', version: '3.5.0'
    testCompile group: 'junit', name: 'junit', version: '4.12'
    implementation project(':model')
    implementation files('libs/a.jar')
}
`);
    expect(
      read.dependencies.map((d) => `${d.groupId}:${d.artifactId}:${d.version}:${d.scope}`),
    ).toEqual([
      "org.apache.commons:commons-math3:3.6.1:compile",
      "com.google.guava:guava:23.0:compile",
      "org.slf4j:slf4j-api:2.0.9:compile",
      "org.projectlombok:lombok:1.18.30:provided",
      "org.postgresql:postgresql:42.7.1:runtime",
      "io.vertx:vertx-core:3.5.0:compile",
    ]);
    expect(read.unread).toEqual([
      "implementation project(':model')",
      "implementation files('libs/a.jar')",
    ]);
    const pom = pomFor("hello", read.dependencies);
    expect(pom).toContain("<artifactId>runlet-java-api</artifactId>");
    expect(pom).toContain(
      "<artifactId>guava</artifactId>\n      <version>23.0</version>\n    </dependency>",
    );
    expect(pom).toContain(
      "<artifactId>lombok</artifactId>\n      <version>1.18.30</version>\n      <scope>provided</scope>",
    );
    expect(pom).not.toContain("gradle-plugin");
  });
});
