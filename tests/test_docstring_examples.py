"""Every docstring example of the installed package runs and prints what it shows.

The public API promises docstrings with an example; this runs each module's examples with
:mod:`doctest` on the package that is imported (the installed one in CI), so an example that
drifts from the code fails here. Examples marked ``# doctest: +SKIP`` (training runs, files on
disk) are skipped by doctest itself. The global random generators are seeded before each module,
so an example's unseeded draws do not depend on the tests that ran before it.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import random

import numpy as np
import pytest
import torch

import infomatch


def _module_names() -> list[str]:
    names = [infomatch.__name__]
    for info in pkgutil.walk_packages(infomatch.__path__, prefix=f"{infomatch.__name__}."):
        if info.name.endswith("__main__"):  # running it would start the CLI
            continue
        names.append(info.name)
    return sorted(names)


MODULES = _module_names()


def test_the_walk_finds_the_core_modules() -> None:
    for name in ("infomatch.noise", "infomatch.bounds", "infomatch.critics", "infomatch.whiten",
                 "infomatch.priors", "infomatch.metrics", "infomatch.training.config"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    # examples that draw unseeded random numbers see the same draws whatever ran before them
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report: list[str] = []
    for test in finder.find(module, name):
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} failing example(s) in {name}:\n" + "".join(report)
