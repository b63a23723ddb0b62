"""Compiling specs into plans: actions, references, graph, policies, outputs."""

from __future__ import annotations

import pathlib
import textwrap
import time

import pytest

from kflow.errors import Problem, SpecError
from kflow.expr import Interpolation, Ref
from kflow.plan import ActionRef, FanOut, Plan, compile_plan, load_plan, spec_digest
from kflow.plan.compile import priority_band
from kflow.spec import WorkflowSpec, load_spec

EXAMPLES = pathlib.Path(__file__).parents[3] / "examples"


def plan_of(text: str) -> Plan:
    return compile_plan(load_spec(textwrap.dedent(text), "wf.yaml"))


def problems_of(text: str) -> tuple[Problem, ...]:
    with pytest.raises(SpecError) as caught:
        load_plan(textwrap.dedent(text), "wf.yaml")
    return caught.value.problems


def messages_of(text: str) -> list[str]:
    return [p.message for p in problems_of(text)]


def test_the_research_seed_compiles_to_a_chain() -> None:
    plan = load_plan(EXAMPLES / "research-and-summarize.yaml")
    assert plan.workflow_id == "research-and-summarize"
    assert plan.order == ("planning", "information_gathering", "synthesis", "quality_check")
    gathering = plan.steps["information_gathering"]
    assert gathering.action == ActionRef("agent", "kExecutor", "execute_research_plan")
    assert gathering.inputs == {"plan": Ref("steps", ("planning", "research_plan"))}
    assert gathering.depends_on == ("planning",)
    assert gathering.dependents == ("synthesis",)
    assert gathering.fan_out == FanOut(None, None)
    assert gathering.on_failure == "retry"
    assert gathering.retry.max_retries == 3
    assert gathering.fallback == ActionRef("agent", "kExecutor", "manual_research")
    synthesis = plan.steps["synthesis"]
    assert synthesis.on_failure == "escalate"
    assert synthesis.escalation == ActionRef("agent", "kCoordinator", "escalate")
    assert [plan.steps[s].priority for s in plan.order] == [4.0, 3.0, 2.0, 1.0]


def test_workflow_outputs_bind_to_the_last_step_declaring_them() -> None:
    plan = load_plan(EXAMPLES / "research-and-summarize.yaml")
    assert {b.name: b.ref.text for b in plan.outputs} == {
        "summary": "$steps.synthesis.summary",
        "sources": "$steps.information_gathering.sources",
    }


def test_the_task_seed_compiles_with_engine_settings() -> None:
    plan = load_plan(EXAMPLES / "data-pipeline.yaml")
    assert plan.sequential
    assert plan.max_concurrency == 1
    assert plan.timeout == 3600.0
    assert plan.steps["data_processing"].retry.max_retries == 2
    assert plan.steps["notification"].retry.max_retries == 3
    assert plan.steps["notification"].depends_on == ("data_processing",)


def test_a_task_without_agent_or_action_is_a_noop() -> None:
    plan = plan_of("tasks: [{name: notify, type: service}]")
    assert plan.steps["notify"].action == ActionRef("noop", "noop")


@pytest.mark.parametrize(
    ("step", "action"),
    [
        ("{id: a, action: 'pkg.mod:func'}", ActionRef("python", "pkg.mod:func")),
        ("{id: a, action: shell}", ActionRef("shell", "shell")),
        ("{id: a, action: sleep}", ActionRef("sleep", "sleep")),
        ("{id: a, agent: kX, action: run}", ActionRef("agent", "kX", "run")),
    ],
)
def test_actions_resolve_by_their_form(step: str, action: ActionRef) -> None:
    assert plan_of(f"steps: [{step}]").steps["a"].action == action


def test_bad_actions_are_problems() -> None:
    assert messages_of(
        """\
        steps:
          - {id: a, action: ehco}
          - {id: b, agent: kX}
          - {id: c, action: "bad target:x y"}
          - {id: d, agent: kX, action: "not a method"}
        """
    ) == [
        "step 'a': unknown action 'ehco' (did you mean 'echo'?); use module:function, "
        "an agent, or one of echo/noop/shell/sleep",
        "step 'b' names agent 'kX' but no action",
        "'bad target:x y' is not a Python function reference",
        "'not a method' is not a method name of agent 'kX'",
    ]


def test_references_become_dependencies_in_definition_order() -> None:
    plan = plan_of(
        """\
        inputs: [{name: topic}]
        steps:
          - {id: a, outputs: [x]}
          - {id: b}
          - id: c
            depends_on: [b]
            inputs: {x: $steps.a.x, text: "about $inputs.topic from $steps.b"}
        """
    )
    step = plan.steps["c"]
    assert step.depends_on == ("a", "b")
    assert isinstance(step.inputs["text"], Interpolation)
    assert plan.steps["a"].dependents == ("c",)


def test_reference_problems_are_located_and_suggest_names() -> None:
    problems = problems_of(
        """\
        inputs: [{name: topic}]
        steps:
          - {id: fetch, outputs: {rows: rows}}
          - id: store
            inputs:
              a: $steps.fetch.row
              b: $steps.fech.rows
              c: $inputs.topc
              d: [$steps.store.x]
              e: {deep: "$steps"}
        """
    )
    assert [(p.line, p.column, p.message) for p in problems] == [
        (6, 10, "step 'store': step 'fetch' has no output 'row' in $steps.fetch.row "
         "(did you mean 'rows'?)"),
        (7, 10, "step 'store': unknown step 'fech' in $steps.fech.rows (did you mean 'fetch'?)"),
        (8, 10, "step 'store': unknown input 'topc' in $inputs.topc (did you mean 'topic'?)"),
        (9, 11, "step 'store' refers to its own output in $steps.store.x"),
        (10, 17, "step 'store': '$steps' is not a valid reference"),
    ]  # fmt: skip


def test_a_step_without_declared_outputs_accepts_any_output_name() -> None:
    plan = plan_of("steps: [{id: a}, {id: b, inputs: {x: $steps.a.anything}}]")
    assert plan.steps["b"].depends_on == ("a",)


def test_unknown_dependencies_are_problems() -> None:
    assert messages_of("steps: [{id: a, depends_on: [b, a]}, {id: bb}]") == [
        "step 'a' depends on unknown step 'b' (did you mean 'bb'?)",
        "step 'a' depends on itself",
    ]


def test_each_cycle_is_reported_once_at_its_first_step() -> None:
    problems = problems_of(
        """\
        steps:
          - {id: a, depends_on: [c]}
          - {id: b, depends_on: [a]}
          - {id: c, depends_on: [b]}
          - {id: d, depends_on: [e]}
          - {id: e, depends_on: [d]}
          - {id: f, depends_on: [e]}
        """
    )
    assert [(p.line, p.message) for p in problems] == [
        (2, "steps form a cycle: a -> b -> c -> a"),
        (5, "steps form a cycle: d -> e -> d"),
    ]


def test_error_handling_merges_into_the_step() -> None:
    plan = plan_of(
        """\
        engine: {retry_attempts: 1, backoff_strategy: fixed}
        steps:
          - {id: a, agent: kA, action: go, retries: 5, on_failure: continue}
          - {id: b, agent: kB, action: go, on_failure: escalate, escalation_agent: kBoss}
          - {id: c, action: echo, retry: {max_retries: 2, initial_delay: 5s, jitter: 0}}
          - {id: d, action: echo, on_failure: retry}
        error_handling:
          - {step: a, max_retries: 9, fallback: backup, initial_delay: 100ms}
          - {step: c, fallback: "pkg:handler"}
        """
    )
    a, b, c, d = (plan.steps[s] for s in "abcd")
    assert (a.retry.max_retries, a.on_failure, a.retry.backoff) == (9, "continue", "fixed")
    assert a.retry.initial_delay == 0.1
    assert a.fallback == ActionRef("agent", "kA", "backup")
    assert (b.retry.max_retries, b.escalation) == (1, ActionRef("agent", "kBoss", "escalate"))
    assert (c.retry.max_retries, c.retry.initial_delay, c.retry.jitter) == (2, 5.0, 0.0)
    assert (c.on_failure, c.fallback) == ("retry", ActionRef("python", "pkg:handler"))
    assert (d.retry.max_retries, d.on_failure) == (1, "retry")


def test_on_failure_retry_means_three_retries_by_default() -> None:
    plan = plan_of("steps: [{id: a, on_failure: retry}, {id: b}]")
    assert plan.steps["a"].retry.max_retries == 3
    assert (plan.steps["b"].retry.max_retries, plan.steps["b"].on_failure) == (0, "fail")


def test_policy_problems_are_reported() -> None:
    assert messages_of(
        """\
        steps:
          - {id: a, action: echo, on_failure: escalate, fallback: by_hand}
          - {id: b, action: echo, retries: 1, retry: {max_retries: 2}}
        error_handling:
          - {step: c}
        """
    ) == [
        "step 'a' escalates on failure but names no escalation_agent",
        "step 'a': fallback 'by_hand' is not an action",
        "step 'b' sets both `retries` and `retry.max_retries`",
        "error_handling names unknown step 'c'",
    ]


def test_fan_out_must_name_one_of_the_steps_inputs() -> None:
    plan = plan_of(
        "steps: [{id: a, inputs: {xs: [1, 2]}, parallel: {over: xs, max_concurrency: 2}}]"
    )
    assert plan.steps["a"].fan_out == FanOut("xs", 2)
    broken = "steps: [{id: a, inputs: {xs: []}, parallel: {over: x}}, {id: b, parallel: true}]"
    assert messages_of(broken) == [
        "step 'a' fans out over 'x', which is not one of its inputs (did you mean 'xs'?)",
        "step 'b' is parallel but has no inputs to fan out over",
    ]


def test_output_problems_are_reported() -> None:
    assert messages_of(
        """\
        outputs:
          - {name: missing}
          - {name: bad, from: "$inputs.x"}
          - {name: wrong, from: $steps.a.nope}
        steps: [{id: a, outputs: [yes_]}]
        """
    ) == [
        "output 'missing' is not produced by any step; add `from: $steps.<id>.<output>`",
        "output 'bad': `from: $inputs.x` is not a step output reference",
        "output 'wrong': step 'a' has no output 'nope' in $steps.a.nope",
    ]


def test_a_bare_spec_compiles_and_its_problems_have_no_location() -> None:
    spec = WorkflowSpec.model_validate({"steps": [{"id": "a"}, {"id": "a"}]})
    with pytest.raises(SpecError) as caught:
        compile_plan(spec)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.message) == (
        "<spec>",
        0,
        "duplicate step id 'a'",
    )
    good = WorkflowSpec.model_validate({"steps": [{"id": "a"}]})
    assert compile_plan(good).order == ("a",)


def test_the_digest_identifies_the_definition() -> None:
    one = load_spec("steps: [{id: a, timeout: 60}]").spec
    same = load_spec("steps:\n  - timeout: 1m\n    id: a\n").spec
    other = load_spec("steps: [{id: b}]").spec
    assert spec_digest(one) == spec_digest(same)
    assert spec_digest(one) != spec_digest(other)
    assert len(spec_digest(one)) == 64


def test_load_and_compile_problems_are_reported_together() -> None:
    problems = problems_of(
        """\
        steps:
          - {id: a, timeout: soon}
          - {id: b, inputs: {x: $steps.c.y}}
        """
    )
    assert [p.message.split(":")[0] for p in problems] == ["steps[0].timeout", "step 'b'"]


def test_load_plan_takes_a_path_or_text(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "flow.yml"
    path.write_text("steps: [{id: a}]\n")
    assert load_plan(path).workflow_id == "flow"
    assert load_plan(str(path)).workflow_id == "flow"
    assert load_plan("steps: [{id: a}]").workflow_id == "workflow"
    with pytest.raises(SpecError, match="cannot read the file"):
        load_plan(str(tmp_path / "absent.yaml"))


def test_compiling_the_research_seed_takes_well_under_five_milliseconds() -> None:
    text = (EXAMPLES / "research-and-summarize.yaml").read_text()
    best = min(_timed(text) for _ in range(20))
    assert best < 0.005


def _timed(text: str) -> float:
    start = time.perf_counter()
    load_plan(text, "research-and-summarize.yaml")
    return time.perf_counter() - start


def test_a_ten_thousand_step_graph_compiles_in_linear_time() -> None:
    steps: list[dict[str, object]] = [{"id": "s0", "outputs": ["out"]}]
    for i in range(1, 10_000):
        inputs = {"a": f"$steps.s{i - 1}.out", "b": f"$steps.s{i // 2}.out"}
        steps.append({"id": f"s{i}", "inputs": inputs, "outputs": ["out"]})
    start = time.perf_counter()
    plan = compile_plan(WorkflowSpec.model_validate({"steps": steps}))
    assert time.perf_counter() - start < 5.0
    assert plan.order[0] == "s0"
    assert plan.steps["s0"].priority == 10_000.0


def test_ready_steps_rank_by_the_estimated_seconds_of_their_longest_path() -> None:
    plan = plan_of(
        """
        steps:
          - {id: quick, action: noop, estimate: 1}
          - {id: slow, action: noop, estimate: 3}
          - {id: after_quick, action: sleep, inputs: {seconds: 1}, depends_on: [quick]}
        """
    )
    assert [plan.steps[s].priority for s in ("quick", "slow")] == [2.0, 3.0]
    assert plan.ranked == ("slow", "quick", "after_quick")
    assert [plan.rank[s] for s in plan.ranked] == [0, 1, 2]


@pytest.mark.parametrize(
    ("first", "second", "ranked"),
    [
        (1.003, 1.01, ("a", "b")),  # one band (1 to 1.015): definition order
        (1.0, 1.02, ("b", "a")),  # two bands: the heavier path first
    ],
)
def test_estimates_in_one_band_of_one_and_a_half_percent_keep_definition_order(
    first: float, second: float, ranked: tuple[str, ...]
) -> None:
    plan = plan_of(
        f"""
        steps:
          - {{id: a, action: noop, estimate: {first}}}
          - {{id: b, action: noop, estimate: {second}}}
        """
    )
    assert plan.ranked == ranked


def test_paths_counted_in_steps_are_not_banded() -> None:
    chain = [{"id": "short0"}] + [
        {"id": f"short{i}", "depends_on": [f"short{i - 1}"]} for i in range(1, 100)
    ]
    chain += [{"id": "long0"}] + [
        {"id": f"long{i}", "depends_on": [f"long{i - 1}"]} for i in range(1, 101)
    ]
    plan = compile_plan(WorkflowSpec.model_validate({"steps": chain}))
    assert plan.steps["long0"].priority == 101.0 and plan.steps["short0"].priority == 100.0
    assert plan.rank["long0"] < plan.rank["short0"]  # 1% apart, yet the longer goes first


def test_estimates_that_add_up_past_the_largest_float_still_compile() -> None:
    plan = plan_of(
        """
        steps:
          - {id: a, action: noop, estimate: 1e308}
          - {id: b, action: noop, estimate: 1e308, depends_on: [a]}
          - {id: c, action: noop, estimate: 1}
        """
    )
    assert plan.steps["a"].priority == float("inf")
    assert plan.ranked == ("a", "b", "c")


def test_a_path_that_weighs_nothing_ranks_last() -> None:
    plan = plan_of(
        """
        steps:
          - {id: instant, action: sleep, inputs: {seconds: 0}}
          - {id: brief, action: sleep, inputs: {seconds: 0.000001}}
        """
    )
    assert plan.ranked == ("brief", "instant")
    assert priority_band(0) < priority_band(1e-300)


def test_an_agents_own_sleep_method_takes_any_inputs() -> None:
    text = "steps:\n  - {id: nap, agent: planner, action: sleep, inputs: {seconds: until green}}\n"
    assert load_plan(text, "t.yaml").steps["nap"].action.kind == "agent"


def test_a_sleep_with_an_estimate_still_has_its_seconds_checked() -> None:
    text = "steps:\n  - {id: nap, action: sleep, estimate: 1, inputs: {seconds: soon}}\n"
    with pytest.raises(SpecError) as caught:
        load_plan(text, "t.yaml")
    (problem,) = caught.value.problems
    assert problem.message.startswith("steps[0].inputs.seconds: 'soon' is not a duration")
