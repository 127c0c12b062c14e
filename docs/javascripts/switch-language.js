// The language switcher keeps the reader's place: both languages have the same headings in
// the same order (tests/test_book.py checks it), so the twin page opens at the same section.
(() => {
  const KEY = "pytorch-notes:section";
  const headings = () => [...document.querySelectorAll("article h2[id], article h3[id]")];

  document.addEventListener("click", (event) => {
    const link = event.target.closest?.("a.md-select__link[hreflang]");
    if (!link) return;
    const passed = headings().filter((heading) => heading.getBoundingClientRect().top < 120);
    if (!passed.length) return;
    const target = new URL(link.href, location.href).pathname;
    sessionStorage.setItem(KEY, JSON.stringify({ target, index: passed.length - 1 }));
  }, { capture: true });

  document$.subscribe(() => {
    const saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
    sessionStorage.removeItem(KEY);
    if (!saved || saved.target !== location.pathname || location.hash) return;
    const heading = headings()[saved.index];
    if (!heading) return;
    history.replaceState(null, "", `#${heading.id}`);
    heading.scrollIntoView();
  });
})();
