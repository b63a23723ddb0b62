"""The floor that the event loop's own timers set: the same list schedule, bare `asyncio.sleep`.

kflow runs `sleep` steps on its event loop (`kflow.runtime.loop`: precise timers), so each
one still overshoots by the time the loop needs to notice the timer and resume the task.
Running the DAG with nothing but `asyncio.sleep` and kflow's priorities on the same kind
of loop, in this process, shows how much of a makespan's excess over the bound is the
loop's, not kflow's.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Sequence

from bench.dags import Dag
from bench.schedule import Key, graph
from kflow.runtime import loop


def asyncio_makespan(dag: Dag, slots: int, keys: Sequence[Key]) -> float:
    """Seconds to run `dag` on `slots` slots with bare asyncio: no journal, no engine."""
    return loop.run(_run(dag, slots, keys))


async def _run(dag: Dag, slots: int, keys: Sequence[Key]) -> float:
    event_loop = asyncio.get_running_loop()
    waiting, dependents = graph(dag)
    ready = [(keys[i], i) for i, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    all_done = event_loop.create_future()
    running: set[asyncio.Task[None]] = set()
    left, free = len(dag.tasks), slots

    def fill() -> None:
        nonlocal free
        while ready and free:
            _, i = heapq.heappop(ready)
            free -= 1
            task = event_loop.create_task(sleep_then_release(i))
            running.add(task)
            task.add_done_callback(running.discard)

    async def sleep_then_release(i: int) -> None:
        nonlocal free, left
        await asyncio.sleep(dag.tasks[i].seconds)
        free, left = free + 1, left - 1
        for k in dependents[i]:
            waiting[k] -= 1
            if waiting[k] == 0:
                heapq.heappush(ready, (keys[k], k))
        if left == 0:
            all_done.set_result(None)
        fill()

    start = time.perf_counter()
    fill()
    await all_done
    return time.perf_counter() - start
