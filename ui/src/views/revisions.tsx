/** A function's revisions, the active one marked, with a rollback to any other. */
import { useState } from "preact/hooks";
import type { Api } from "../api.js";
import { dateTime } from "../format.js";
import { usePoll } from "../hooks.js";
import type { RevisionView } from "../types.js";

export function Revisions(props: {
  readonly api: Api;
  readonly name: string;
  readonly active: number;
  readonly onChange: () => void;
}) {
  const revisions = usePoll(
    () =>
      props.api.json<RevisionView[]>(
        `/api/v1/functions/${encodeURIComponent(props.name)}/revisions`,
      ),
    10_000,
    `${props.name}:${props.active}`,
  );
  const [busy, setBusy] = useState<number | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const rollback = async (revision: number) => {
    setBusy(revision);
    setProblem(undefined);
    try {
      await props.api.json(`/api/v1/functions/${encodeURIComponent(props.name)}/rollback`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ revision }),
      });
      props.onChange();
    } catch (error) {
      setProblem((error as Error).message);
    } finally {
      setBusy(undefined);
    }
  };
  const list = [...(revisions.data ?? [])].reverse();
  return (
    <section class="revisions" aria-label="Revisions">
      <h3>Revisions</h3>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      <table>
        <tbody>
          {list.map((revision) => (
            <tr
              key={revision.revision}
              data-revision={revision.revision}
              class={revision.revision === props.active ? "active" : ""}
            >
              <td>{revision.revision}</td>
              <td>{dateTime(revision.createdAt)}</td>
              <td>
                <code title={revision.package}>{revision.package.slice(7, 19)}</code>
              </td>
              <td>
                {revision.revision === props.active ? (
                  <span class="badge">active</span>
                ) : (
                  <button
                    type="button"
                    disabled={busy !== undefined}
                    onClick={() => void rollback(revision.revision)}
                  >
                    {busy === revision.revision
                      ? "Rolling back…"
                      : `Roll back to ${revision.revision}`}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
