"""Optional features name the extra that brings them, as one typed error and one CLI line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from textsift import MissingExtraError
from textsift._optional import require


def test_a_missing_module_names_its_extra() -> None:
    with pytest.raises(MissingExtraError, match=r"^no_such_module is not installed; this feature needs it: "
                                                r"pip install 'textsift\[onnx\]'$") as error:
        require("no_such_module", extra="onnx")
    assert (error.value.module, error.value.extra) == ("no_such_module", "onnx")


def test_predicting_an_onnx_folder_without_onnxruntime_is_one_line(int8_model: Path) -> None:
    code = ("import sys\nsys.modules['onnxruntime'] = None\n"
            f"sys.argv = ['textsift', 'predict', {str(int8_model)!r}]\nfrom textsift.cli.app import main\nmain()")
    done = subprocess.run([sys.executable, "-c", code], input="a fine film\n", capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: onnxruntime is not installed; this feature needs it: pip install 'textsift[onnx]'"]
