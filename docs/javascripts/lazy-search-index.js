// Material for MkDocs requests the search index as soon as any page loads. This
// script, loaded before Material's, holds that one request back until the reader
// opens the search box, so reading a page costs only the page. And it asks for the
// index of the page's language: the build splits the index in two (docs_hooks/build.py),
// so a reader of the zh pages finds zh pages.
(() => {
  const { open, send } = XMLHttpRequest.prototype;
  const searchIndexRequests = new WeakSet();
  let held = [];
  let released = false;

  const zh = document.documentElement.lang.startsWith("zh");
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    if (/\/search\/search_index\.json$/.test(String(url))) {
      searchIndexRequests.add(this);
      if (zh) url = String(url).replace(/search\/search_index\.json$/, "zh/search/search_index.json");
    }
    return open.call(this, method, url, ...rest);
  };
  XMLHttpRequest.prototype.send = function (...args) {
    if (!released && searchIndexRequests.has(this)) return void held.push([this, args]);
    return send.apply(this, args);
  };

  const release = () => {
    if (released) return;
    released = true;
    held.forEach(([request, args]) => send.apply(request, args));
    held = [];
  };
  // A click on the search icon checks Material's #__search toggle; clicks and the
  // keyboard shortcuts ("/", "s") focus the search input.
  document.addEventListener("change", ({ target }) => {
    if (target.id === "__search" && target.checked) release();
  });
  document.addEventListener("focusin", ({ target }) => {
    if (target.matches?.("[data-md-component=search-query]")) release();
  });
})();
