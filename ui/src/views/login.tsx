/** The login form: nothing of the platform is shown before a token the gateway accepts. */
import { useState } from "preact/hooks";
import { checkToken, type Identity } from "../api.js";

export function Login(props: {
  readonly onLogin: (token: string, who: Identity) => void;
  readonly notice?: string;
}) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const who = await checkToken(token.trim());
      props.onLogin(token.trim(), who);
    } catch (caught) {
      setError(
        (caught as { status?: number }).status === 401
          ? "The gateway refused that token."
          : `Could not check the token: ${(caught as Error).message}`,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <h1>Runlet</h1>
      <form onSubmit={submit}>
        <label>
          Token
          <input
            type="password"
            name="token"
            autocomplete="current-password"
            value={token}
            onInput={(e) => setToken(e.currentTarget.value)}
            required
          />
        </label>
        <button type="submit" disabled={busy || token.trim() === ""}>
          Log in
        </button>
        <p class="hint">
          The admin token <code>runlet up</code> printed (also in <code>~/.runlet/admin-token</code>
          ).
        </p>
        {props.notice && <p class="notice">{props.notice}</p>}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
