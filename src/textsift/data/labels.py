"""Label names in a fixed order, and the mapping from a table's labels to class ids."""

from __future__ import annotations

from dataclasses import dataclass

from textsift.data.io import Table
from textsift.errors import DataError


@dataclass
class LabelMap:
    """Label names in a fixed order; the index is the class id."""

    names: list[str]

    @classmethod
    def from_labels(cls, labels: list[str]) -> LabelMap:
        return cls(sorted(set(labels), key=natural_key))

    def encode(self, table: Table) -> list[int]:
        """Class ids of a table's labels; a label unseen in training is an error naming its line."""
        index = {name: i for i, name in enumerate(self.names)}
        if table.labels is None:
            raise DataError(table.path, None, "no labels", "pass a labelled file")
        ids = []
        for label, line in zip(table.labels, table.lines, strict=True):
            if label not in index:
                raise DataError(
                    table.path, line, f"label {label!r} was not in the training data (known: {', '.join(self.names)})",
                    "fix the label or add examples of it to the training file",
                )
            ids.append(index[label])
        return ids


def natural_key(label: str) -> tuple[int, float | str]:
    try:
        return (0, float(label))
    except ValueError:
        return (1, label)
