/**
 * Deploy from the browser: paste a handler or pick a folder, choose the runtime. The files
 * are packed here (source-archive.ts), uploaded, and deployed with the build's progress
 * streamed back, as `runlet deploy` does.
 */
import { useState } from "preact/hooks";
import { errorOf, type Api } from "../api.js";
import { functionHref } from "../hooks.js";
import { packSource, packable, type SourceFile } from "../source-archive.js";

const runtimes = ["node", "typescript", "python", "exec", "go"] as const;
type Runtime = (typeof runtimes)[number];

const starter: Record<Runtime, { file: string; code: string }> = {
  node: {
    file: "index.js",
    code: 'export default async function handle(event, context) {\n  console.log("called with", event.method, event.path);\n  return { message: "hi" };\n}\n',
  },
  typescript: {
    file: "index.ts",
    code: 'export default async function handle(event: { query: Record<string, string> }) {\n  return { message: `hi ${event.query.name ?? "there"}` };\n}\n',
  },
  python: {
    file: "handler.py",
    code: 'def handle(event, context):\n    print("called with", event.method)\n    return {"message": "hi"}\n',
  },
  exec: { file: "run.sh", code: "#!/bin/sh\ntr a-z A-Z\n" },
  go: {
    file: "main.go",
    code: 'package main\n\nimport (\n\t"fmt"\n\t"net/http"\n\t"os"\n)\n\nfunc main() {\n\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hi") })\n\thttp.ListenAndServe(":"+os.Getenv("PORT"), nil)\n}\n',
  },
};

/** Files of a folder picked with webkitdirectory, without the folder's own name. */
async function folderFiles(list: FileList): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  for (const file of Array.from(list)) {
    const relative = file.webkitRelativePath || file.name;
    const path = relative.includes("/") ? relative.slice(relative.indexOf("/") + 1) : relative;
    if (packable(path)) {
      files.push({ path, bytes: new Uint8Array(await file.arrayBuffer()) });
    }
  }
  return files;
}

export function Deploy(props: { readonly api: Api; readonly name?: string }) {
  const [name, setName] = useState(props.name ?? "");
  const [runtime, setRuntime] = useState<Runtime>("node");
  const [source, setSource] = useState<"paste" | "folder">("paste");
  const [fileName, setFileName] = useState(starter.node.file);
  const [code, setCode] = useState(starter.node.code);
  const [command, setCommand] = useState("sh run.sh");
  const [folder, setFolder] = useState<FileList | null>(null);
  const [progress, setProgress] = useState<string[]>([]);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const pickRuntime = (next: Runtime) => {
    // Replace the starter code only if it was not edited.
    if (code === starter[runtime].code) {
      setCode(starter[next].code);
      setFileName(starter[next].file);
    }
    setRuntime(next);
  };

  const deploy = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    setProgress([]);
    const say = (text: string) => setProgress((lines) => [...lines, text]);
    try {
      const files =
        source === "paste"
          ? [{ path: fileName.trim(), bytes: new TextEncoder().encode(code) }]
          : await folderFiles(folder ?? new DataTransfer().files);
      if (files.length === 0) {
        throw new Error("Pick a folder with the function's files in it.");
      }
      const archive = await packSource(files);
      say(`packed ${files.length} file${files.length === 1 ? "" : "s"} (${archive.size} bytes)`);
      const stored = await props.api.json<{ digest: string }>("/api/v1/packages", {
        method: "POST",
        headers: { "content-type": "application/gzip" },
        body: archive,
      });
      const spec: Record<string, unknown> = { runtime, package: stored.digest };
      if (source === "paste" && runtime !== "exec" && runtime !== "go") {
        spec["handler"] = fileName.trim();
      }
      if (runtime === "exec") {
        spec["command"] = command;
      }
      const path = `/api/v1/functions/${encodeURIComponent(name.trim())}`;
      const response = await fetch(props.api.inNamespace(path), {
        method: "PUT",
        headers: {
          authorization: `Bearer ${props.api.token}`,
          "content-type": "application/json",
          accept: "application/x-ndjson",
        },
        body: JSON.stringify(spec),
        credentials: "omit",
      });
      if (!response.ok || !response.body) {
        throw await errorOf(response);
      }
      // One JSON object a line: build steps and tool output, then the result or the error.
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          break;
        }
        buffer += value;
        let end = buffer.indexOf("\n");
        while (end >= 0) {
          const line = JSON.parse(buffer.slice(0, end)) as Record<string, unknown> & {
            type: string;
          };
          buffer = buffer.slice(end + 1);
          if (line.type === "result") {
            say(`${String(line["outcome"])}: revision ${String(line["revision"])}`);
            location.hash = functionHref(name.trim());
          } else if (line.type === "error") {
            const failure = line["error"] as { message?: string } | undefined;
            throw new Error(failure?.message ?? "The deploy failed.");
          } else {
            say(String(line["text"] ?? line["message"] ?? line["step"] ?? JSON.stringify(line)));
          }
          end = buffer.indexOf("\n");
        }
      }
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="deploy">
      <h2>Deploy a function</h2>
      <form onSubmit={deploy}>
        <div class="row">
          <label>
            Name
            <input
              name="name"
              required
              pattern="[a-z0-9]([-a-z0-9]*[a-z0-9])?"
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </label>
          <label>
            Runtime
            <select
              name="runtime"
              value={runtime}
              onChange={(e) => pickRuntime(e.currentTarget.value as Runtime)}
            >
              {runtimes.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
        </div>
        <fieldset class="row">
          <legend>Source</legend>
          <label class="check">
            <input
              type="radio"
              name="source"
              checked={source === "paste"}
              onChange={() => setSource("paste")}
            />
            paste a handler
          </label>
          <label class="check">
            <input
              type="radio"
              name="source"
              checked={source === "folder"}
              onChange={() => setSource("folder")}
            />
            upload a folder
          </label>
        </fieldset>
        {source === "paste" ? (
          <>
            <label>
              File
              <input
                name="file"
                value={fileName}
                onInput={(e) => setFileName(e.currentTarget.value)}
              />
            </label>
            <label>
              Code
              <textarea
                name="code"
                rows={12}
                spellcheck={false}
                value={code}
                onInput={(e) => setCode(e.currentTarget.value)}
              />
            </label>
          </>
        ) : (
          <label>
            Folder
            <input
              type="file"
              name="folder"
              // @ts-expect-error: webkitdirectory is not in Preact's attribute types, and every browser reads it
              webkitdirectory={true}
              multiple
              onChange={(e) => setFolder(e.currentTarget.files)}
            />
          </label>
        )}
        {runtime === "exec" && (
          <label>
            Command
            <input
              name="command"
              value={command}
              onInput={(e) => setCommand(e.currentTarget.value)}
            />
          </label>
        )}
        <button type="submit" disabled={busy}>
          {busy ? "Deploying…" : "Deploy"}
        </button>
      </form>
      {progress.length > 0 && (
        <pre class="progress" aria-label="Deploy progress">
          {progress.join("\n")}
        </pre>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
