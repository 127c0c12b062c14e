"""Run docs_src scripts as fresh Python sessions, without paying for torch's import each time.

Importing torch, torchvision and matplotlib takes about 5 s of CPU, more than
most chapters' own code. This process imports them once, then forks one child
per script: each child starts from that state (as if the script's first imports
had just run) and runs the script as ``__main__`` in its own folder, with its
own environment, stdout and stderr. A child's crash, ``sys.exit`` or leftover
state never reaches another script.

    python tests/fork_runner.py WORKERS < jobs.json > results.json

Each job is ``{"script", "cwd", "env", "stdout", "stderr", "timeout"}``; the
result is the list of exit codes, in job order (-N: killed by signal N).
Started with ``OMP_NUM_THREADS=1`` and the offline guard on ``PYTHONPATH`` by
tests/test_book.py.
"""

import json
import os
import runpy
import signal
import sys
import traceback


def run_child(job: dict) -> None:
    """In the forked child: run one script, then leave with its exit code (never returns)."""
    code = 1
    try:
        os.makedirs(job["cwd"], exist_ok=True)
        os.chdir(job["cwd"])
        os.environ.clear()
        os.environ.update(job["env"])
        for stream, path in ((1, job["stdout"]), (2, job["stderr"])):
            os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), stream)
        signal.alarm(job["timeout"])  # SIGALRM ends a script that hangs
        sys.argv = [job["script"]]
        sys.path[0] = os.path.dirname(job["script"])
        runpy.run_path(job["script"], run_name="__main__")
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    workers = int(sys.argv[1])
    jobs = json.load(sys.stdin)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401  (what nearly every chapter imports, once)
    import torch  # noqa: F401
    import torchvision  # noqa: F401

    import pytorch_notes  # noqa: F401

    codes: list = [None] * len(jobs)
    running: dict[int, int] = {}
    for number, job in enumerate(jobs):
        while len(running) >= workers:
            pid, status = os.wait()
            codes[running.pop(pid)] = os.waitstatus_to_exitcode(status)
        pid = os.fork()
        if pid == 0:
            run_child(job)
        running[pid] = number
    while running:
        pid, status = os.wait()
        codes[running.pop(pid)] = os.waitstatus_to_exitcode(status)
    json.dump(codes, sys.stdout)


if __name__ == "__main__":
    main()
