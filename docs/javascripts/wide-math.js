// A display equation wider than the column scrolls inside its own box (extra.css shades the
// edge that hides more). Such a box gets keyboard focus, so the arrow keys scroll it, and a name.
const markWideEquations = () => {
  const zh = document.documentElement.lang.startsWith("zh");
  for (const box of document.querySelectorAll("div.arithmatex")) {
    const wide = box.scrollWidth > box.clientWidth + 1;
    if (wide) {
      box.tabIndex = 0;
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", zh ? "公式（可横向滚动）" : "Equation (scrolls sideways)");
    } else {
      box.removeAttribute("tabindex");
      box.removeAttribute("role");
      box.removeAttribute("aria-label");
    }
  }
};
document$.subscribe(markWideEquations);
window.addEventListener("resize", markWideEquations);
