import { describe, expect, it } from "vitest";
import { fromFunctionDeployment } from "../../src/gateway/routes/openfaas.js";

const image = `sha256:${"a".repeat(64)}`;

describe("OpenFaaS deployment mapping", () => {
  it("maps scale labels, limits, env and secrets onto the function spec", () => {
    const spec = fromFunctionDeployment({
      service: "fn",
      image,
      envVars: { A: "1" },
      secrets: ["db"],
      labels: { "com.openfaas.scale.min": "2", "com.openfaas.scale.max": "7" },
      annotations: { "com.runlet.handler": "main.js" },
      limits: { memory: "64Mi" },
    });
    expect(spec).toMatchObject({
      runtime: "node",
      handler: "main.js",
      package: image,
      env: { A: "1" },
      secrets: ["db"],
      memory: "64Mi",
      scale: { min: 2, max: 7 },
    });
  });

  it("honours com.openfaas.scale.zero", () => {
    expect(
      fromFunctionDeployment({
        service: "fn",
        image,
        labels: { "com.openfaas.scale.min": "3", "com.openfaas.scale.zero": "true" },
      }).scale,
    ).toEqual({ min: 0 });
    expect(
      fromFunctionDeployment({
        service: "fn",
        image,
        labels: { "com.openfaas.scale.zero": "false" },
      }).scale,
    ).toEqual({ min: 1 });
  });

  it("refuses an image that is not an uploaded package digest", () => {
    expect(() =>
      fromFunctionDeployment({ service: "fn", image: "ghcr.io/openfaas/figlet:latest" }),
    ).toThrow(/package digest sha256/);
  });
});
