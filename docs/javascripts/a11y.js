// Accessibility the theme leaves to us, on every page load.
// - A code block, table or display equation wider than the column scrolls in its own box
//   (extra.css shades the edge that hides more): such a box gets keyboard focus, so the
//   arrow keys scroll it, and an equation box gets a name.
// - The search dialog gets a name.
// - A link to a section lands on its heading, even one from before the API reference was
//   split into pages (see the end).
const zh = document.documentElement.lang.startsWith("zh");
const boxes = "article pre > code, article .md-typeset__scrollwrap, article div.arithmatex";
const nearScreen = new Set();
const scrolls = new WeakMap();  // box → whether it scrolls sideways, as last measured

const markScrollBoxes = (candidates) => {
  // Measure every box first, then change attributes: a read after a write would
  // make the browser lay the page out again for each box.
  // (An equation box is itself a block that may not be drawn yet, and such a block does not
  // measure its content: the typeset formula inside it does.)
  const width = (box) => (box.matches("div.arithmatex") && box.firstElementChild || box).scrollWidth;
  const wide = [...candidates].map((box) => [box, width(box) > box.clientWidth + 1]);
  for (const [box, sideways] of wide) {
    const equation = box.matches("div.arithmatex");
    scrolls.set(box, sideways);
    if (sideways) {
      box.tabIndex = 0;
      if (equation) {
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", zh ? "公式（可横向滚动）" : "Equation (scrolls sideways)");
      }
    } else {
      box.removeAttribute("tabindex");
      if (equation) ["role", "aria-label"].forEach((name) => box.removeAttribute(name));
    }
  }
};

// Blocks far from the screen are not laid out at load (content-visibility in extra.css), and
// measuring a box lays out its block. So a box near the screen is measured at once, and the
// others a few at a time while the browser is idle, each turn short enough not to hold up
// the page; <body data-scroll-boxes="measured"> says when all are done.
const watcher = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (entry.isIntersecting) nearScreen.add(entry.target);
    else nearScreen.delete(entry.target);
  }
  markScrollBoxes(entries.filter((entry) => entry.isIntersecting).map((entry) => entry.target));
}, {rootMargin: "100% 0px"});
const whenIdle = (run) => window.requestIdleCallback ? requestIdleCallback(run, {timeout: 500})
  : setTimeout(run, 50);

let sweep = 0;  // a new sweep (after a resize) ends the one before
const markAllScrollBoxes = () => {
  const pending = [...document.querySelectorAll(boxes)], mine = ++sweep;
  delete document.body.dataset.scrollBoxes;
  const markSome = async () => {
    if (mine !== sweep) return;
    const start = performance.now(), measured = [];
    while (pending.length && performance.now() - start < 8) {
      measured.push(pending.shift());
      markScrollBoxes(measured.slice(-1));
    }
    if (document.fonts.status === "loading") {  // laying a formula out sent for a KaTeX font:
      await document.fonts.ready;                // measure those boxes again once it is here
      pending.unshift(...measured);
    }
    if (pending.length) whenIdle(markSome);
    else if (mine === sweep) document.body.dataset.scrollBoxes = "measured";
  };
  whenIdle(markSome);
};

document$.subscribe(() => {
  document.querySelectorAll(boxes).forEach((box) => watcher.observe(box));
  document.fonts.ready.then(markAllScrollBoxes);  // KaTeX's fonts widen equations once they load
  // and a font that arrives later (the browser may start a load after the layout that asked for
  // it) can widen a box already measured: measure all again
  document.fonts.addEventListener("loadingdone", markAllScrollBoxes);
  document.querySelector(".md-search[role=dialog]")?.setAttribute("aria-label", zh ? "搜索" : "Search");
});
// Material sets up a code block when it first comes into view (content.lazy in mkdocs.yml),
// and on a screen without hover it takes the block's keyboard focus away then: give it back.
new MutationObserver((changes) => markScrollBoxes(changes.map((change) => change.target)
  .filter((box) => scrolls.has(box) && scrolls.get(box) !== box.hasAttribute("tabindex"))))
  .observe(document.body, {subtree: true, attributeFilter: ["tabindex"]});
window.addEventListener("resize", () => {
  markScrollBoxes(nearScreen);
  markAllScrollBoxes();
});

// The blocks above a section get their real heights only as they are drawn, which moves its
// heading after the browser has scrolled to it (and the table of contents then marks the
// section before). So while the article changes height in the first seconds, the page is
// scrolled to the heading again, unless the reader has moved on.
const landOnSection = () => {
  const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (!target) return;
  const resizes = new ResizeObserver(() => target.scrollIntoView());
  const stop = () => resizes.disconnect();
  for (const type of ["wheel", "touchmove", "keydown", "pointerdown"]) {
    window.addEventListener(type, stop, {once: true, passive: true});
  }
  resizes.observe(document.querySelector("article"));
  setTimeout(stop, 3000);
};
// The API reference was one page before it was split by theme: a link to an object there
// (reference/#pytorch_notes.module.name) goes on to the page that now holds its module.
const movedReferenceLink = () => {
  const module = location.hash.match(/^#(pytorch_notes\.\w+)/);
  if (!module || document.getElementById(location.hash.slice(1))) return null;
  return document.querySelector(`article a[href$="#${module[1]}"]`);
};
const moved = movedReferenceLink();
if (moved) location.replace(moved.href.split("#")[0] + location.hash);
else landOnSection();
window.addEventListener("hashchange", landOnSection);
