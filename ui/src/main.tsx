/** The dashboard's entry: the login gate, then the page the URL's fragment names. */
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { apiFor, checkToken, defaultNamespace, type Identity } from "./api.js";
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
  useEffect(() => {
    setIdentity(undefined);
    if (token !== undefined) {
      checkToken(token).then(
        (who) => {
          setIdentity(who);
          setNamespace(who.namespace);
        },
        () => setIdentity(undefined),
      );
    }
  }, [token]);
  const api = useMemo(
    () =>
      token === undefined
        ? undefined
        : apiFor(
            token,
            () => {
              forgetToken();
              setToken(undefined);
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
        {identity && (
          <NamespacePicker
            identity={identity}
            token={token ?? ""}
            namespace={namespace ?? identity.namespace}
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
  readonly identity: Identity;
  readonly token: string;
  readonly namespace: string;
  readonly onPick: (namespace: string) => void;
}) {
  const [namespaces, setNamespaces] = useState<readonly string[]>([props.namespace]);
  const isAdmin = props.identity.kind === "admin";
  useEffect(() => {
    if (!isAdmin) {
      return;
    }
    fetch("/system/namespaces", {
      headers: { authorization: `Bearer ${props.token}` },
      credentials: "omit",
    })
      .then((response) => (response.ok ? (response.json() as Promise<string[]>) : []))
      .then((listed) => setNamespaces(listed.length > 0 ? listed : [props.namespace]))
      .catch(() => undefined);
  }, [isAdmin, props.token]);
  if (!isAdmin) {
    return <span class="namespace">namespace {props.namespace}</span>;
  }
  return (
    <label class="namespace">
      Namespace{" "}
      <select
        name="namespace"
        value={props.namespace}
        onChange={(e) => props.onPick(e.currentTarget.value)}
      >
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
