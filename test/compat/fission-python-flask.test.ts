/**
 * Fission Python functions written against Flask as Fission's examples write them: a module
 * that makes its own `Flask(__name__)` app and routes `main` on it, `jsonify` and dict answers
 * with dates, the request's URL parts, form lists and cookies, `flask.g`, `escape`, and
 * `render_template` of the package's `templates/` (Jinja2, as Flask renders them).
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startTestRunlet } from "../helpers/runlet.js";

/**
 * Jinja2 and MarkupSafe as a package vendors them (`pip install -t .`), from a Python on this
 * host that has them: Flask brings them under Fission; here the package brings them.
 */
function vendoredJinja(): Record<string, string> | undefined {
  const found = spawnSync(
    "python3",
    ["-c", "import jinja2, markupsafe; print(jinja2.__path__[0]); print(markupsafe.__path__[0])"],
    { encoding: "utf8" },
  );
  if (found.status !== 0) {
    return undefined;
  }
  const files: Record<string, string> = {};
  for (const dir of found.stdout.trim().split("\n")) {
    const name = dir.split("/").pop() ?? "";
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".py"))) {
      files[`${name}/${file}`] = readFileSync(join(dir, file), "utf8");
    }
  }
  return files;
}
const jinja = vendoredJinja();

const fission = { runtime: "python", compat: "fission", handler: "main.main" };

describe("Fission's Python environment, Flask as its examples use it", () => {
  it("takes a module with its own Flask app and routes, and answers jsonify of dates as Flask does", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const main = `from datetime import date, datetime, timezone
from decimal import Decimal
from flask import Flask, request, jsonify, current_app, g

app = Flask(__name__, static_url_path="/shop/static")


@app.route("/shop", methods=["GET", "POST"])
def main():
    g.seen = request.method
    current_app.logger.info("order from %s", request.remote_addr)
    return jsonify({
        "when": datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
        "day": date(2024, 1, 2),
        "price": Decimal("9.90"),
        "sku": request.json["sku"],
        "method": g.seen,
        "url": request.url,
        "host": request.host,
        "cookies": request.cookies,
    })


if __name__ == "__main__":
    app.run(debug=True)
`;
    const deployed = await runlet.deploy("shop", { "main.py": main }, fission);
    expect(deployed.status, await deployed.clone().text()).toBeLessThan(300);
    const answer = await fetch(`${runlet.url}/function/shop?x=1`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: "session=abc; theme=dark" },
      body: JSON.stringify({ sku: "abc123" }),
    });
    expect(answer.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await answer.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      when: "Tue, 02 Jan 2024 03:04:05 GMT",
      day: "Tue, 02 Jan 2024 00:00:00 GMT",
      price: "9.90",
      sku: "abc123",
      method: "POST",
      cookies: { session: "abc", theme: "dark" },
    });
    expect(String(body["url"])).toMatch(/^http:\/\/[^/]+\/\?x=1$/);
  });

  it.skipIf(jinja === undefined)(
    "renders the package's templates with render_template, and takes form lists",
    async () => {
      const runlet = await startTestRunlet({ poolSize: 0 });
      const main = `import os
from flask import render_template, request, current_app, escape

APP_DIR = os.path.dirname(os.path.abspath(__file__))
current_app.template_folder = os.path.join(APP_DIR, "templates")


def main():
    if request.method == "POST":
        picked = request.form.getlist("products")
        return render_template("index.html", products=picked, note=escape(request.form["note"]))
    return render_template("index.html", products=[], note="")
`;
      const template = `<ul>{% for p in products %}<li>{{ p }}</li>{% endfor %}</ul><p>{{ note }}</p>`;
      const deployed = await runlet.deploy(
        "pick",
        { ...jinja, "main.py": main, "templates/index.html": template },
        fission,
      );
      expect(deployed.status, await deployed.clone().text()).toBeLessThan(300);
      const answer = await fetch(`${runlet.url}/function/pick`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "products=tea&products=%3Cb%3Ecake%3C%2Fb%3E&note=%3Ci%3Ehi%3C%2Fi%3E",
      });
      const text = await answer.clone().text();
      expect(answer.headers.get("content-type"), text).toBe("text/html; charset=utf-8");
      // Autoescaped as Flask's Jinja2 environment does for .html templates.
      expect(await answer.text()).toBe(
        "<ul><li>tea</li><li>&lt;b&gt;cake&lt;/b&gt;</li></ul><p>&lt;i&gt;hi&lt;/i&gt;</p>",
      );
    },
  );

  it("answers a returned dict with dates as Flask's JSON provider writes them", async () => {
    const runlet = await startTestRunlet({ poolSize: 0 });
    const main = `from datetime import datetime, timezone


def main():
    return {"at": datetime(2023, 12, 31, 23, 59, 0, tzinfo=timezone.utc)}
`;
    const deployed = await runlet.deploy("when", { "main.py": main }, fission);
    expect(deployed.status, await deployed.clone().text()).toBeLessThan(300);
    expect(await (await fetch(`${runlet.url}/function/when`)).json()).toEqual({
      at: "Sun, 31 Dec 2023 23:59:00 GMT",
    });
  });
});
