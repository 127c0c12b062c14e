// Accessibility the theme leaves to us, on every page load.
// - A code block, table or display equation wider than the column scrolls in its own box
//   (extra.css shades the edge that hides more): such a box gets keyboard focus, so the
//   arrow keys scroll it, and an equation box gets a name.
// - The search dialog gets a name.
const zh = document.documentElement.lang.startsWith("zh");

const markScrollBoxes = () => {
  const boxes = "article pre > code, article .md-typeset__scrollwrap, article div.arithmatex";
  // Measure every box first, then change attributes: a read after a write would
  // make the browser lay the page out again for each box.
  const wide = [...document.querySelectorAll(boxes)]
    .map((box) => [box, box.scrollWidth > box.clientWidth + 1]);
  for (const [box, scrolls] of wide) {
    const equation = box.matches("div.arithmatex");
    if (scrolls) {
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

document$.subscribe(() => {
  markScrollBoxes();
  document.fonts.ready.then(markScrollBoxes);  // KaTeX's fonts widen equations once they load
  document.querySelector(".md-search[role=dialog]")?.setAttribute("aria-label", zh ? "搜索" : "Search");
});
window.addEventListener("resize", markScrollBoxes);
