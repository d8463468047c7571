"""`get_task(name)`: the `Task` for a name as `--task` and textsift.json spell it."""

from __future__ import annotations

from typing import get_args

from textsift.config import TaskName
from textsift.errors import TextsiftError
from textsift.tasks.base import Task
from textsift.tasks.classification import SingleLabel
from textsift.tasks.multilabel import MultiLabel
from textsift.tasks.regression import Regression

_CLASSES: dict[str, type[Task]] = {"multi-class": SingleLabel, "pair": SingleLabel, "multi-label": MultiLabel,
                                   "regression": Regression, "pair-regression": Regression}
assert set(_CLASSES) == set(get_args(TaskName))


def get_task(name: str) -> Task:
    """The task called `name`; an unknown one is one line listing the known."""
    if name not in _CLASSES:
        raise TextsiftError(f"unknown task {name!r}; textsift knows {', '.join(_CLASSES)}")
    return _CLASSES[name](name)
