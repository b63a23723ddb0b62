"""A run's workflow definition: stored once per digest, found again by any service."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from kflow.actions import KflowConfig
from kflow.engine import events as ev
from kflow.errors import DefinitionNotFound
from kflow.plan import load_plan
from kflow.runtime import Service
from kflow.store import Entry, SqliteStore

WORKFLOW = """
id: greet
inputs: [{name: name, type: string}]
steps:
  - {id: hello, action: echo, inputs: {text: "hi $inputs.name"}}
outputs: [{name: text, from: $steps.hello.text}]
"""


def test_runs_of_one_workflow_share_one_stored_definition(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db")
    plan = load_plan(WORKFLOW, "greet.yaml")
    run_ids = asyncio.run(Service(store, KflowConfig()).create_many(plan, [{"name": "a"}] * 3))
    (count,) = store._db.execute("SELECT count(*) FROM definitions").fetchone()
    created = store.read(run_ids[0])[0]
    assert count == 1 and isinstance(created, ev.RunCreated)
    assert created.inline_definition is None and created.digest == plan.digest
    # Another process (a fresh service, nothing cached) finds the definition by digest.
    result = asyncio.run(Service(store, KflowConfig()).execute([run_ids[2]]))[0]
    assert result.ok and result.outputs == {"text": "hi a"}
    store.close()


def test_a_run_created_with_its_own_copy_of_the_definition_still_runs(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "k.db")
    plan = load_plan(WORKFLOW, "greet.yaml")
    spec = plan.spec.model_dump_json(by_alias=True, exclude_unset=True).encode()
    created = ev.RunCreated(
        at=1.0,
        run_id="old",
        workflow_id="greet",
        version=plan.version,
        digest=plan.digest,
        definition=msgspec.Raw(spec),  # as journals written before `definitions` hold it
        inputs={"name": "b"},
        max_concurrency=1,
    )
    store.append([Entry("old", 0, created, ev.encode(created))])
    result = asyncio.run(Service(store, KflowConfig()).execute(["old"]))[0]
    assert result.ok and result.outputs == {"text": "hi b"}
    store.close()


def test_a_run_whose_definition_is_missing_says_the_database_is_incomplete(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "k.db")
    plan = load_plan(WORKFLOW, "greet.yaml")
    (run_id,) = asyncio.run(Service(store, KflowConfig()).create_many(plan, [{"name": "c"}]))
    store._db.execute("DELETE FROM definitions")
    with pytest.raises(DefinitionNotFound, match=r"is not in .*k\.db; the database is incomplete"):
        asyncio.run(Service(store, KflowConfig()).execute([run_id]))
    assert len(store.read(run_id)) == 1  # nothing was appended to the run
    store.close()
