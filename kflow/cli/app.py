"""The `kflow` command: a front door onto the runtime service, with no logic of its own."""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from kflow.cli.errors import exit_with, fail
from kflow.errors import KflowError, SpecError, StoreError

if TYPE_CHECKING:
    from kflow.actions import KflowConfig
    from kflow.cli.progress import BarProgress, LineProgress
    from kflow.runtime import RunResult, Service
    from kflow.store.sqlite import SqliteStore

# Each command imports what it uses when it runs: `kflow --help` or `kflow runs` would
# otherwise load the workflow language, the engine and pydantic first (~0.5 s).

app = typer.Typer(
    name="kflow",
    help="Durable workflows: run YAML workflows in parallel, survive crashes, inspect every step.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"auto_envvar_prefix": "KFLOW", "help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
RunId = Annotated[str, typer.Argument(help="A run id (a unique prefix is enough).")]


@dataclass
class Cli:
    """Global options and the objects built from them."""

    db: Path | None
    config_path: Path | None
    verbose: bool
    # soft_wrap: a line of output stays one line in a pipe, whatever its length.
    console: Console = field(default_factory=lambda: Console(soft_wrap=True))
    err: Console = field(default_factory=lambda: Console(stderr=True, soft_wrap=True))
    _store: SqliteStore | None = None
    _config: KflowConfig | None = None
    _service: Service | None = None

    def config(self, workflow: Path | None = None) -> KflowConfig:
        """The config file in force: --config, else kflow.toml in cwd or beside the workflow."""
        from kflow.actions import find_config

        return find_config(workflow, self.config_path)

    def command_prefix(self, service: Service) -> str:
        """`kflow`, plus `--db PATH` unless the journal is the default ./kflow.db."""
        location = Path(service.store.location)
        if location.resolve() == (Path.cwd() / "kflow.db").resolve():
            return "kflow"
        return f"kflow --db {shlex.quote(str(location))}"

    def store(self, workflow: Path | None = None, *, create: bool = False) -> SqliteStore:
        """The journal on the chosen database (made only if `create`).

        Commands that only read it (`runs`, `history`) use it without the runtime, which
        would load the workflow language and pydantic first.
        """
        from kflow.store.sqlite import SqliteStore

        if self._store is None:
            config = self._config = self.config(workflow)
            db = self.db or Path(str(config.engine.get("db", "kflow.db")))
            if not create and not db.exists():
                fail(
                    f"there is no kflow journal at {db}: runs are stored where `kflow run` "
                    "stored them; point at that file with --db (or KFLOW_DB)"
                )
            durability = str(config.engine.get("durability", "normal"))
            self._store = SqliteStore(db, "full" if durability == "full" else "normal")
        return self._store

    def service(self, workflow: Path | None = None, *, create: bool = False) -> Service:
        """The runtime service on that journal."""
        from kflow.runtime import Service

        if self._service is None:
            store = self.store(workflow, create=create)
            assert self._config is not None  # the store's config, read as it was opened
            self._service = Service(store, self._config)
        return self._service


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[
        Path | None, typer.Option(help="SQLite journal file (default: kflow.db here).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="kflow.toml to use (default: found in cwd or beside FILE).")
    ] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Show tracebacks.")] = False,
) -> None:
    """Durable workflows: run YAML workflows in parallel, survive crashes, inspect every step."""
    ctx.obj = Cli(db, config, verbose)


@app.command()
def run(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The workflow YAML file.")],
    inputs: Annotated[
        list[str] | None, typer.Option("-i", "--input", help="An input as name=value; repeat.")
    ] = None,
    inputs_file: Annotated[
        Path | None, typer.Option(help="A YAML or JSON file holding the inputs.")
    ] = None,
    max_concurrency: Annotated[
        int | None, typer.Option(min=1, help="Steps of this run that may run at once.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run a workflow to the end, durably, showing live progress."""
    from kflow.runtime import loop
    from kflow.runtime.checks import check_workflow
    from kflow.spec.inputs import parse_cli_inputs

    cli: Cli = ctx.obj
    given = _read_inputs_file(inputs_file) if inputs_file else {}
    given.update(parse_cli_inputs(inputs or []))
    plan, problems = check_workflow(file, cli.config(file))
    if problems or plan is None:
        raise SpecError(problems)
    service = cli.service(file, create=True)
    run_id = loop.run(service.create(plan, given, max_concurrency=max_concurrency))
    cli.err.print(
        f"run [bold]{run_id}[/bold] created; follow it with "
        f"`{cli.command_prefix(service)} status {run_id}`"
    )
    _execute(cli, service, [run_id], as_json)


@app.command()
def resume(ctx: typer.Context, run_id: RunId, as_json: JsonOption = False) -> None:
    """Resume a paused run, or continue an interrupted one in this process."""
    from kflow.runtime import loop

    cli: Cli = ctx.obj
    service = cli.service()
    full_id = service.store.resolve_id(run_id)
    if not loop.run(service.resume_here(full_id)):
        cli.err.print(f"run {full_id} resumed by the worker executing it")
        return
    _execute(cli, service, [full_id], as_json)


@app.command()
def recover(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Continue every unfinished run whose worker is gone (after a crash or kill -9)."""
    from kflow.cli import render
    from kflow.runtime import loop

    cli: Cli = ctx.obj
    service = cli.service()
    with _progress(cli, as_json) as observer:
        results = loop.run(service.recover([observer]))
    if as_json:
        render.dump_json(cli.console, [_result_json(r) for r in results])
    elif not results:
        cli.console.print("nothing to recover: no unfinished run without a live worker")
    for result in results:
        if not as_json:
            cli.console.print(f"run {result.run_id}: {render.styled(result.status)}")
    if any(not r.ok for r in results):
        raise typer.Exit(1)


def _execute(cli: Cli, service: Service, run_ids: list[str], as_json: bool) -> None:
    from kflow.cli import render
    from kflow.runtime import loop

    try:
        with _progress(cli, as_json) as observer:
            result = loop.run(service.execute(run_ids, [observer]))[0]
    except StoreError as exc:
        raise StoreError(
            f"{exc}\nrun {run_ids[0]} stopped with its finished steps saved; once the database "
            f"is writable, continue it with `{cli.command_prefix(service)} resume {run_ids[0]}`"
        ) from exc.__cause__
    except KeyboardInterrupt:
        cli.err.print(
            f"\ninterrupted: run {run_ids[0]} stopped with finished steps saved; "
            f"continue it with `{cli.command_prefix(service)} resume {run_ids[0]}`"
        )
        raise typer.Exit(130) from None
    view = service.status(result.run_id)
    if as_json:
        render.dump_json(cli.console, view.to_json())
    else:
        render.status_report(cli.console, view, verbose=cli.verbose)
    if not result.ok:
        if not as_json and result.status == "failed":
            cli.err.print(
                f"see every attempt with `{cli.command_prefix(service)} history {result.run_id}`;"
                " fix the cause, then start a new run"
            )
        raise typer.Exit(1)


def _progress(cli: Cli, as_json: bool) -> BarProgress | LineProgress:
    from kflow.cli.progress import BarProgress, LineProgress, SilentProgress

    if as_json:
        return LineProgress(sys.stderr) if not cli.err.is_terminal else SilentProgress()
    if cli.console.is_terminal:
        return BarProgress(cli.console)
    return LineProgress(sys.stdout)


def _read_inputs_file(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot read the inputs file {path}: {exc.strerror}; check the path")
    except yaml.YAMLError as exc:
        fail(f"the inputs file {path} is not valid YAML or JSON: {exc}")
    if not isinstance(data, dict):
        fail(f"the inputs file {path} must hold a mapping of input names to values")
    return {str(k): v for k, v in data.items()}


def _result_json(result: RunResult) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "status": result.status,
        "outputs": result.outputs,
        "error": result.error,
        "failed_step": result.failed_step,
    }


@app.command()
def validate(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Workflow YAML files to check.")],
    as_json: JsonOption = False,
) -> None:
    """Check workflow files and list every problem with file:line:col; runs nothing."""
    from kflow.cli import render
    from kflow.runtime.checks import check_workflow

    cli: Cli = ctx.obj
    report: list[dict[str, Any]] = []
    for file in files:
        _, problems = check_workflow(file, cli.config(file))
        report.append({"file": str(file), "problems": [dataclasses.asdict(p) for p in problems]})
        if as_json:
            continue
        if not problems:
            cli.console.print(f"{escape(str(file))}: [green]ok[/green]", highlight=False)
        for problem in problems:
            cli.console.print(str(problem), markup=False, highlight=False, soft_wrap=True)
    if as_json:
        render.dump_json(cli.console, report)
    count = sum(len(r["problems"]) for r in report)
    if count:
        if not as_json:
            cli.err.print(f"{count} problem{'s' if count != 1 else ''} found; nothing was run")
        raise typer.Exit(2)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the workflow language (for editor autocompletion)."""
    from kflow.spec.schema import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


@app.command()
def graph(
    file: Annotated[Path, typer.Argument(help="The workflow YAML file.")],
) -> None:
    """Print the workflow's dependency graph as Mermaid text."""
    from kflow.plan import load_plan, mermaid

    sys.stdout.write(mermaid.to_mermaid(load_plan(file)) + "\n")


@app.command("runs")
def list_runs(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(
            help="Only runs with this status: running, paused, succeeded, failed, cancelled."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first."""
    from kflow.cli import render
    from kflow.runtime import queries

    cli: Cli = ctx.obj
    known = {"running", "paused", "succeeded", "failed", "cancelled"}
    if status is not None and status not in known:
        fail(f"unknown status '{status}'; use one of {', '.join(sorted(known))}")
    runs = queries.runs(cli.store(), status, limit)
    if as_json:
        render.dump_json(cli.console, [dataclasses.asdict(r) for r in runs])
    else:
        render.runs_table(cli.console, runs)


@app.command()
def status(ctx: typer.Context, run_id: RunId, as_json: JsonOption = False) -> None:
    """Show a run's state: each step's status, attempts, duration and error."""
    from kflow.cli import render

    cli: Cli = ctx.obj
    view = cli.service().status(run_id)
    if as_json:
        render.dump_json(cli.console, view.to_json())
    else:
        render.status_report(cli.console, view, verbose=cli.verbose)


@app.command()
def history(ctx: typer.Context, run_id: RunId, as_json: JsonOption = False) -> None:
    """Show a run's journal as a timeline."""
    from kflow.cli import render
    from kflow.runtime import queries

    cli: Cli = ctx.obj
    events = queries.history(cli.store(), run_id)
    if as_json:
        render.dump_json(cli.console, [render.event_json(i, e) for i, e in enumerate(events)])
    else:
        render.history_report(cli.console, events)


@app.command()
def cancel(
    ctx: typer.Context,
    run_id: RunId,
    reason: Annotated[str, typer.Option(help="Why; recorded in the journal.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Cancel a run: running steps are stopped and the reason is recorded."""
    _control(ctx.obj, run_id, "cancel", reason, as_json)


@app.command()
def pause(
    ctx: typer.Context,
    run_id: RunId,
    reason: Annotated[str, typer.Option(help="Why; recorded in the journal.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Pause a run: running steps finish, no new step starts until `kflow resume`."""
    _control(ctx.obj, run_id, "pause", reason, as_json)


def _control(cli: Cli, run_id: str, action: str, reason: str, as_json: bool) -> None:
    from kflow.cli import render
    from kflow.runtime import loop

    service = cli.service()
    full_id = service.store.resolve_id(run_id)
    call = service.cancel if action == "cancel" else service.pause
    answer = loop.run(call(full_id, reason))
    status = {"cancel": "cancelled", "pause": "paused"}[action]
    by_worker = answer == "requested"
    if as_json:
        render.dump_json(cli.console, {"run_id": full_id, "status": status, "by_worker": by_worker})
        return
    by = "by the worker executing it" if by_worker else "(no worker was executing it)"
    cli.console.print(f"run {full_id} {status} {by}")


def main() -> None:
    """Entry point of the `kflow` console script."""
    try:
        app()
    except KflowError as exc:
        exit_with(exc, verbose="-v" in sys.argv or "--verbose" in sys.argv)
