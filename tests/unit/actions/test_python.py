from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from kflow.actions import PythonAction, StepContext, current_step, import_callable
from kflow.errors import ActionNotFound, ErrorKind, StepFailure

from .conftest import MakeModule


def run(action: PythonAction, inputs: dict[str, Any], context: StepContext) -> Any:
    return asyncio.run(action(inputs, context))


def test_an_async_function_is_awaited_with_the_inputs_as_keyword_arguments(
    context: StepContext,
) -> None:
    async def add(a: int, b: int) -> dict[str, int]:
        await asyncio.sleep(0)
        return {"sum": a + b}

    assert run(PythonAction(add), {"a": 2, "b": 3}, context) == {"sum": 5}


def test_a_sync_function_runs_in_a_worker_thread_and_sees_the_step_context(
    context: StepContext,
) -> None:
    loop_thread = threading.get_ident()

    def where() -> dict[str, Any]:
        return {"thread": threading.get_ident(), "step": current_step()}

    result = run(PythonAction(where), {}, context)
    assert result["thread"] != loop_thread
    assert result["step"] == context


def test_an_async_function_sees_the_step_context_and_it_is_unbound_afterwards(
    context: StepContext,
) -> None:
    async def which() -> StepContext:
        return current_step()

    async def scenario() -> StepContext:
        seen: StepContext = await PythonAction(which)({}, context)
        with pytest.raises(RuntimeError, match="outside a kflow step"):
            current_step()
        return seen

    assert asyncio.run(scenario()) == context


def test_a_callable_object_with_an_async_call_method_is_awaited(context: StepContext) -> None:
    class Doubler:
        async def __call__(self, x: int) -> int:
            return 2 * x

    assert run(PythonAction(Doubler()), {"x": 4}, context) == 8


def test_a_sync_function_that_returns_a_coroutine_has_it_awaited(context: StepContext) -> None:
    async def later() -> str:
        return "done"

    def make() -> Awaitable[str]:
        return later()

    assert run(PythonAction(make), {}, context) == "done"


def test_missing_and_unexpected_inputs_are_a_validation_failure_naming_them(
    context: StepContext,
) -> None:
    def fetch(url: str, retries: int = 1) -> None:
        raise AssertionError("must not be called")

    with pytest.raises(StepFailure) as caught:
        run(PythonAction(fetch), {"retires": 2}, context)
    failure = caught.value
    assert failure.kind is ErrorKind.VALIDATION
    assert "fetch" in failure.message
    assert "missing required parameter 'url'" in failure.message
    assert "unexpected input 'retires' (did you mean 'retries'?)" in failure.message
    assert "inputs given: 'retires'" in failure.message


def test_inputs_that_fit_once_do_not_let_other_inputs_through(context: StepContext) -> None:
    def fetch(url: str, retries: int = 1) -> str:
        return url

    action = PythonAction(fetch)
    assert run(action, {"url": "a"}, context) == "a"
    assert run(action, {"url": "b"}, context) == "b"  # the same names: checked once
    for _ in range(2):
        with pytest.raises(StepFailure, match="missing required parameter 'url'"):
            run(action, {"retries": 2}, context)


def test_a_function_with_no_parameters_given_inputs_lists_them(context: StepContext) -> None:
    def nothing() -> None:
        return None

    with pytest.raises(StepFailure, match=r"unexpected input 'a'.*inputs given: 'a'"):
        run(PythonAction(nothing, name="function 'mod:nothing'"), {"a": 1}, context)


def test_a_function_taking_keyword_arguments_accepts_any_inputs(context: StepContext) -> None:
    def collect(**kwargs: Any) -> dict[str, Any]:
        return kwargs

    assert run(PythonAction(collect), {"a": 1, "b": 2}, context) == {"a": 1, "b": 2}


def test_a_required_positional_only_parameter_cannot_be_filled_by_inputs(
    context: StepContext,
) -> None:
    def positional(x: int, /) -> int:
        return x

    with pytest.raises(StepFailure, match="parameter 'x' is positional-only"):
        run(PythonAction(positional), {"x": 1}, context)


def test_errors_raised_by_the_function_propagate_unchanged(context: StepContext) -> None:
    def broken() -> None:
        raise ValueError("bad thing")

    with pytest.raises(ValueError, match="bad thing"):
        run(PythonAction(broken), {}, context)


def test_import_callable_finds_a_function_by_module_and_name() -> None:
    join: Callable[..., str] = import_callable("os.path:join")
    assert join("a", "b") == "a/b"


def test_import_callable_follows_a_dotted_name_after_the_colon(make_module: MakeModule) -> None:
    module = make_module(
        "tasks", "class Tasks:\n    @staticmethod\n    def ping(): return 'pong'\n"
    )
    assert import_callable(f"{module}:Tasks.ping")() == "pong"


def test_a_reference_without_a_colon_suggests_the_colon_form() -> None:
    with pytest.raises(ActionNotFound) as caught:
        import_callable("mypkg.tasks.fetch")
    assert "'mypkg.tasks.fetch' is not a 'module:function' reference" in str(caught.value)
    assert "did you mean 'mypkg.tasks:fetch'?" in str(caught.value)


def test_a_missing_module_is_reported_as_not_found() -> None:
    with pytest.raises(ActionNotFound) as caught:
        import_callable("no_such_module_xyz:run")
    message = str(caught.value)
    assert "module 'no_such_module_xyz' not found (from 'no_such_module_xyz:run')" in message
    assert "Python path" in message


def test_a_misspelt_submodule_gets_a_suggestion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "pkg_hint_demo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tasks.py").write_text("def run(): pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ActionNotFound, match=r"did you mean 'pkg_hint_demo\.tasks'\?"):
        import_callable("pkg_hint_demo.taks:run")


def test_a_module_whose_own_import_is_missing_names_the_missing_dependency(
    make_module: MakeModule,
) -> None:
    module = make_module("needs_dep", "import not_installed_dep_xyz\n")
    with pytest.raises(ActionNotFound) as caught:
        import_callable(f"{module}:run")
    assert f"module '{module}' could not be imported" in str(caught.value)
    assert "'not_installed_dep_xyz', which is not installed" in str(caught.value)


def test_a_module_that_fails_while_importing_reports_the_error(make_module: MakeModule) -> None:
    module = make_module("explodes", "raise RuntimeError('config missing')\n")
    with pytest.raises(ActionNotFound) as caught:
        import_callable(f"{module}:run")
    assert f"module '{module}' failed to import" in str(caught.value)
    assert "RuntimeError: config missing" in str(caught.value)


def test_a_missing_attribute_suggests_a_public_name_of_the_module(
    make_module: MakeModule,
) -> None:
    module = make_module("fetchers", "def fetch_rows(): pass\ndef _private(): pass\n")
    with pytest.raises(ActionNotFound) as caught:
        import_callable(f"{module}:fetch_row")
    assert f"module '{module}' has no attribute 'fetch_row'" in str(caught.value)
    assert "(did you mean 'fetch_rows'?)" in str(caught.value)


def test_something_that_is_not_callable_is_rejected(make_module: MakeModule) -> None:
    module = make_module("constants", "LIMIT = 3\n")
    with pytest.raises(ActionNotFound, match=rf"'{module}:LIMIT' is not callable: it is a int"):
        import_callable(f"{module}:LIMIT")
