/** The dashboard's entry: the login gate, then the page the URL's fragment names. */
import { render } from "preact";
import { useMemo, useState } from "preact/hooks";
import { apiFor } from "./api.js";
import { useRoute } from "./hooks.js";
import { forgetToken, saveToken, savedToken } from "./session.js";
import { Deploy } from "./views/deploy.js";
import { FunctionList } from "./views/function-list.js";
import { FunctionPage } from "./views/function-page.js";
import { Login } from "./views/login.js";

function App() {
  const [token, setToken] = useState(savedToken());
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const route = useRoute();
  const api = useMemo(
    () =>
      token === undefined
        ? undefined
        : apiFor(token, () => {
            forgetToken();
            setToken(undefined);
            setNotice("The gateway no longer accepts that token; log in again.");
          }),
    [token],
  );
  if (!api) {
    return (
      <Login
        notice={notice}
        onLogin={(accepted) => {
          saveToken(accepted);
          setNotice(undefined);
          setToken(accepted);
        }}
      />
    );
  }
  return (
    <>
      <nav class="top">
        <a class="brand" href="#/">
          Runlet
        </a>
        <a href="#/">Functions</a>
        <a href="#/deploy">Deploy</a>
        <button
          type="button"
          class="logout"
          onClick={() => {
            forgetToken();
            setToken(undefined);
          }}
        >
          Log out
        </button>
      </nav>
      <main>
        {route.page === "functions" && <FunctionList api={api} />}
        {route.page === "function" && <FunctionPage key={route.name} api={api} name={route.name} />}
        {route.page === "deploy" && <Deploy api={api} name={route.name} />}
      </main>
    </>
  );
}

const root = document.getElementById("app");
if (root) {
  render(<App />, root);
}
