"""Functions run as Ray tasks: on a Ray instance started in this process (default) or on a running
cluster (`address`, as `ray start --head` printed it). Ray retries a task whose worker process or node
dies (`retries`); a task that raises is not retried (the same inputs raise again) and is reported.
Nothing waits without a limit: the connection is checked with a timeout first, and `run` stops when
no task has finished for `timeout_s`.
"""
from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from sqzfpga.errors import UserError, short_reason

CONNECT_TIMEOUT_S = 10.0
GET_TIMEOUT_S = 120.0  # fetching a finished task's result


@contextlib.contextmanager
def session(address: str | None = None, cpus: int | None = None) -> Iterator[None]:
    """Ray for the duration of the block: joined at `address` (host:port of a cluster's head), or
    started here with `cpus` CPUs (default: all), its temp files and logs in a folder under /tmp (not in
    the repository) removed at the end."""
    import logging

    import ray

    kw = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    if address:
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=CONNECT_TIMEOUT_S).close()
        except (OSError, ValueError) as e:
            raise UserError(f"--address {address}: no Ray cluster answers there ({getattr(e, 'strerror', None) or e});"
                            " start one with `ray start --head --port PORT` and pass HOST:PORT") from None
        try:
            ray.init(address=address, **kw)
        except (ConnectionError, RuntimeError) as e:  # e.g. a cluster started with token authentication
            raise UserError(f"--address {address}: Ray could not join the cluster ({short_reason(e)}); check "
                            f"`ray status --address {address}` and that RAY_AUTH_MODE matches the cluster's") from None
    temp = None
    if not address:
        temp = tempfile.mkdtemp(prefix="sqzfpga-ray-", dir="/tmp")  # short: Ray's unix sockets live under it
        ray.init(address="local", num_cpus=cpus, _temp_dir=temp, **kw)  # a new instance, never one found running
    try:
        yield
    finally:
        ray.shutdown()
        if temp:
            shutil.rmtree(temp, ignore_errors=True)


def run(fn: Callable, calls: dict[str, tuple], *, cpus: float = 1.0, retries: int = 3, timeout_s: float = 7200.0,
        on_result: Callable[[str, Any], None], on_error: Callable[[str, BaseException], None]) -> None:
    """fn(*args) for every key -> args of `calls`, as Ray tasks of `cpus` CPUs each; `on_result(key, value)`
    or `on_error(key, exception)` in this process as each one ends, in the order they end."""
    import ray

    remote = ray.remote(num_cpus=cpus, max_retries=retries, retry_exceptions=False)(fn)
    pending = {remote.remote(*args): key for key, args in calls.items()}
    try:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=timeout_s)
            if not done:
                raise UserError(f"no task finished in {timeout_s:g} s ({len(pending)} still running: "
                                f"{', '.join(sorted(pending.values())[:4])}); raise [engine] trial_timeout_s or check "
                                "the cluster (`ray status`)")
            key = pending.pop(done[0])
            try:
                value = ray.get(done[0], timeout=GET_TIMEOUT_S)
            except ray.exceptions.RayTaskError as e:  # the function raised: its own exception
                on_error(key, e.cause if e.cause is not None else e)
            except ray.exceptions.RayError as e:  # the worker or node died `retries` + 1 times, or similar
                on_error(key, e)
            else:
                on_result(key, value)
    finally:
        for ref in pending:  # stopped early (an error, Ctrl-C): leave nothing running on the cluster
            ray.cancel(ref, force=True)


def reason(e: BaseException) -> str:
    """A task's failure in one line: a UserError's own message, else the exception's type and first line."""
    text = str(e) if isinstance(e, UserError) else f"{type(e).__name__}: {short_reason(e)}"
    return text.splitlines()[0][:400] if text else type(e).__name__
