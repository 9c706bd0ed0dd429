"""The README's promises: the Quickstart's two lines, CI running the second verbatim, and
the Python API example running as printed (on a smaller budget)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quickstart_lines():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quickstart\s+```bash\n(.*?)```", text, re.S)
    assert block, "README.md needs a Quickstart with a bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quickstart_has_exactly_two_lines_and_ci_runs_the_second():
    lines = quickstart_lines()
    assert len(lines) == 2
    assert "examples/mnist-lcm.toml" in lines[0]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert lines[1] in ci


def test_python_api_example_runs(tmp_path, monkeypatch):
    text = (ROOT / "README.md").read_text()
    code = re.search(r"## Python API\s+```python\n(.*?)```", text, re.S).group(1)
    assert len(code.strip().splitlines()) <= 12
    monkeypatch.chdir(tmp_path)
    small = (
        code.replace("max_steps=3", 'max_steps=1, fixed={"max_train": 256}')
        .replace("trials=8", "trials=2")
        .replace("workers=2", 'executor="sequential"')
    )
    namespace: dict = {}
    exec(compile(small, "README", "exec"), namespace)
    study = namespace["study"]
    assert len(study.trials) == 2
    assert study.best_trial is not None
    assert (tmp_path / "runs" / "api-demo" / "study.db").exists()


def test_every_example_study_file_is_valid():
    from curvetune.config import load_study_file
    from curvetune.preflight import check_objective
    from curvetune.schedulers import Scheduler
    from curvetune.searchers import Searcher
    from curvetune.worker import load_objective

    examples = sorted((ROOT / "examples").glob("*.toml"))
    assert len(examples) >= 4
    for path in examples:
        plan = load_study_file(path)
        assert isinstance(plan.scheduler, Scheduler) and isinstance(plan.searcher, Searcher)
        assert plan.trials >= 1
        # The objective's own checks (keys, schedule keys) pass before any trial.
        check_objective(plan.spec, load_objective(plan.spec.objective))
