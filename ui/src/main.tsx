/** The dashboard's entry: the login gate, then the page the URL's fragment names. */
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { apiFor, checkToken, defaultNamespace, type Api, type Identity } from "./api.js";
import { useRoute } from "./hooks.js";
import { forgetToken, saveToken, savedToken } from "./session.js";
import { Deploy } from "./views/deploy.js";
import { FunctionList } from "./views/function-list.js";
import { FunctionPage } from "./views/function-page.js";
import { Login } from "./views/login.js";

function App() {
  const [token, setToken] = useState(savedToken());
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [identity, setIdentity] = useState<Identity | undefined>(undefined);
  // The namespace shown: a token's own; the admin token's pick (the default one at first).
  const [namespace, setNamespace] = useState<string | undefined>(undefined);
  const route = useRoute();
  /** Who the token is, and its namespace shown first. */
  const adopt = (who: Identity | undefined): void => {
    setIdentity(who);
    setNamespace(who?.namespace);
  };
  // A login brings who the token is; a saved token (a reload) is asked once. A token refused
  // here is refused by the pages' own calls too, which log out (onRefused).
  useEffect(() => {
    if (token !== undefined && identity === undefined) {
      checkToken(token).then(adopt, () => undefined);
    }
  }, [token, identity]);
  const api = useMemo(
    () =>
      token === undefined
        ? undefined
        : apiFor(
            token,
            () => {
              forgetToken();
              setToken(undefined);
              adopt(undefined);
              setNotice("The gateway no longer accepts that token; log in again.");
            },
            namespace ?? defaultNamespace,
          ),
    [token, namespace],
  );
  if (!api) {
    return (
      <Login
        notice={notice}
        onLogin={(accepted, who) => {
          saveToken(accepted);
          setNotice(undefined);
          setToken(accepted);
          adopt(who);
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
        {identity && (
          <NamespacePicker
            api={api}
            identity={identity}
            onPick={(picked) => {
              setNamespace(picked);
              location.hash = "#/";
            }}
          />
        )}
        <button
          type="button"
          class="logout"
          onClick={() => {
            forgetToken();
            setToken(undefined);
            adopt(undefined);
          }}
        >
          Log out
        </button>
      </nav>
      <main>
        {route.page === "functions" && <FunctionList key={api.namespace} api={api} />}
        {route.page === "function" && (
          <FunctionPage key={`${api.namespace}/${route.name}`} api={api} name={route.name} />
        )}
        {route.page === "deploy" && <Deploy key={api.namespace} api={api} name={route.name} />}
      </main>
    </>
  );
}

/**
 * The namespace the pages show: the admin token picks one of those in use; a scoped token acts
 * in its own only, so it is named, not offered.
 */
function NamespacePicker(props: {
  readonly api: Api;
  readonly identity: Identity;
  readonly onPick: (namespace: string) => void;
}) {
  const shown = props.api.namespace;
  const [namespaces, setNamespaces] = useState<readonly string[]>([shown]);
  const isAdmin = props.identity.kind === "admin";
  useEffect(() => {
    if (isAdmin) {
      props.api
        .json<string[]>("/system/namespaces")
        .then((listed) => setNamespaces(listed.length > 0 ? listed : [shown]))
        .catch(() => undefined);
    }
  }, [isAdmin, props.api]);
  if (!isAdmin) {
    return <span class="namespace">namespace {shown}</span>;
  }
  return (
    <label class="namespace">
      Namespace{" "}
      <select name="namespace" value={shown} onChange={(e) => props.onPick(e.currentTarget.value)}>
        {namespaces.map((name) => (
          <option key={name} value={name}>
            {name}
          </option>
        ))}
      </select>
    </label>
  );
}

const root = document.getElementById("app");
if (root) {
  render(<App />, root);
}
