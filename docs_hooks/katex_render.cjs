// TeX to HTML with KaTeX, for the build (docs_hooks/build.py): reads [[tex, display], ...]
// as JSON on stdin, writes the rendered HTML strings as a JSON list. Bad TeX fails loudly.
const katex = require("katex");

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const rendered = JSON.parse(input).map(([tex, displayMode]) =>
    katex.renderToString(tex, { displayMode, throwOnError: true }));
  process.stdout.write(JSON.stringify(rendered));
});
