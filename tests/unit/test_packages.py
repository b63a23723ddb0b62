"""The packages' lazy exports: each name declared in a package's stub resolves on use."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import kflow

PACKAGE_DIR = Path(kflow.__file__).parent
LAZY = sorted(
    ".".join(("kflow", *stub.parent.relative_to(PACKAGE_DIR).parts))
    for stub in PACKAGE_DIR.glob("*/__init__.pyi")
)


def _declared(package: str) -> list[str]:
    """The `__all__` that the package's stub declares to type checkers."""
    stub = PACKAGE_DIR.joinpath(*package.split(".")[1:], "__init__.pyi")
    for node in ast.parse(stub.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "__all__":
            return list(ast.literal_eval(node.value))
    raise AssertionError(f"{stub} declares no __all__")


def test_every_subpackage_of_the_core_is_lazy() -> None:
    assert LAZY == [
        "kflow.actions",
        "kflow.engine",
        "kflow.expr",
        "kflow.plan",
        "kflow.runtime",
        "kflow.spec",
        "kflow.store",
    ]


@pytest.mark.parametrize("package", LAZY)
def test_each_declared_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == sorted(_declared(package))
    for name in module.__all__:
        assert getattr(module, name) is not None
    assert sorted(dir(module)) == sorted(module.__all__)


def test_an_unknown_name_raises_attribute_error() -> None:
    import kflow.engine

    misspelt = "RunMachin"
    with pytest.raises(AttributeError, match="RunMachin"):
        getattr(kflow.engine, misspelt)


def test_a_function_named_like_its_module_is_the_function() -> None:
    # In a new interpreter, the module imported first: importing it sets the package's
    # attribute to the module, which the lazy exports must not let hide the function.
    code = (
        "import kflow.actions.classify, kflow.actions; "
        "from kflow.actions import classify; "
        "print(callable(kflow.actions.classify), callable(classify))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True"]


def test_the_store_imports_without_the_workflow_language() -> None:
    code = (
        "import sys, kflow.store.sqlite, kflow.actions.config; "
        "print(sorted(m for m in sys.modules if m == 'pydantic' or m.startswith('kflow.spec.m')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
