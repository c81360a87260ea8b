// Starts GraphiQL on The Eye's page (src/graphiql.rs). The page passes its settings in the
// JSON element #the-eye-config, so the Content-Security-Policy needs no inline script.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("the-eye-config").textContent);
  const HEADERS_CHOICE = "graphiql:shouldPersistHeaders";
  // GraphiQL's history and favourites ({"queries": [...]}, {"favorites": [...]}).
  const HISTORY_KEYS = ["graphiql:queries", "graphiql:favorites"];

  // Whether the user turned "Persist headers" on in GraphiQL's settings. Off by default: an
  // admin key typed on a shared machine must not stay in its storage.
  function persistHeadersChosen() {
    return window.localStorage.getItem(HEADERS_CHOICE) === "true";
  }

  // A history entry without the headers it was run with.
  function withoutHeaders(value) {
    try {
      const stored = JSON.parse(value);
      for (const items of Object.values(stored)) {
        if (Array.isArray(items)) items.forEach((item) => delete item.headers);
      }
      return JSON.stringify(stored);
    } catch (e) {
      return value;
    }
  }

  // GraphiQL's storage is local storage, except that its history and favourites (which keep
  // each query's headers whatever the setting says) lose their headers unless the user chose
  // to persist them.
  const storage = {
    getItem: (key) => window.localStorage.getItem(key),
    setItem: (key, value) =>
      window.localStorage.setItem(
        key,
        HISTORY_KEYS.includes(key) && !persistHeadersChosen() ? withoutHeaders(value) : value,
      ),
    removeItem: (key) => window.localStorage.removeItem(key),
    clear: () => ownKeys().forEach((key) => window.localStorage.removeItem(key)),
    get length() {
      return ownKeys().length;
    },
  };
  function ownKeys() {
    return Object.keys(window.localStorage).filter((key) => key.startsWith("graphiql:"));
  }

  // Requests go to this origin only; the browser refuses anything else.
  function sameOriginFetch(url, init) {
    return window.fetch(url, Object.assign({}, init, { mode: "same-origin", credentials: "same-origin" }));
  }

  const h = React.createElement;
  const logo = h(
    GraphiQL.Logo,
    null,
    h("span", { className: "the-eye-logo" }, h("img", { src: config.logo, alt: "" }), "The Eye"),
  );
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    h(
      GraphiQL,
      {
        fetcher: GraphiQL.createFetcher({ url: config.endpoint, fetch: sameOriginFetch }),
        storage: storage,
        defaultQuery: config.defaultQuery,
        defaultHeaders: config.defaultHeaders,
        // GraphiQL 3.9 resets the stored choice to this prop on every load, and hides the
        // setting when the prop is false: pass the choice, and show the setting.
        shouldPersistHeaders: persistHeadersChosen(),
        showPersistHeadersSettings: true,
        defaultEditorToolsVisibility: "headers",
      },
      logo,
    ),
  );
})();
