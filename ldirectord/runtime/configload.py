"""Reading a config file while the daemon runs: off the event loop, every failure logged.

A reload that fails for any reason (a broken file, an unreadable one, a checker it names
that cannot load, a bug of ours in the parser) logs why and changes nothing (Part A §4,
§14).
"""

from __future__ import annotations

import asyncio
import os
import traceback
from collections.abc import Awaitable, Callable

from ldirectord.config import load
from ldirectord.config.model import Config
from ldirectord.errors import ConfigError
from ldirectord.logsetup import log
from ldirectord.runtime.realprobes import refused_services


async def load_file(path: str) -> Config:
    """Parse the file in a worker thread: parsing reads files and resolves host names.

    The same thread looks up the checkers the file needs, so a service that a reload brings
    in imports its client library there and not on the event loop.
    """

    def load_and_import() -> Config:
        config = load(path)
        refused_services(config)
        return config

    return await asyncio.to_thread(load_and_import)


async def load_for_reload(loader: Callable[[str], Awaitable[Config]], path: str
                          ) -> Config | None:
    """The new config, or None when it cannot be used (every reason logged)."""
    try:
        new = await loader(path)
        refused = refused_services(new)  # the default loader imported the checkers
    except ConfigError as exc:
        for message in exc.errors:
            if message.line:
                log.info("Error [%d] reading file %s at line %d: %s", os.getpid(),
                         message.path, message.line, message.message)
            else:
                log.info("Error [%d]: %s", os.getpid(), message)
        return None
    except OSError as exc:
        log.info("Error [%d]: can not open file %s: %s", os.getpid(), path, exc.strerror)
        return None
    except Exception as exc:  # a bug of ours in the parser: a failed reload (Part A §14)
        log_failed_load(path, exc)
        return None
    if refused:
        for text in refused:
            log.info("Error [%d]: %s", os.getpid(), text)
        return None
    return new


def describe(exc: BaseException) -> str:
    """`Type: message` of a bug of ours, on one line; a task group's first error inside."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def log_failed_load(path: str, exc: Exception) -> None:
    """A bug of ours while loading or working out a config: logged as a failed reload.

    The file and line are named when the exception carries them (`filename`/`lineno`, as
    SyntaxError does); the traceback goes to the debug log.
    """
    inner: BaseException = exc
    while isinstance(inner, BaseExceptionGroup) and inner.exceptions:
        inner = inner.exceptions[0]
    where, line = getattr(inner, "filename", None), getattr(inner, "lineno", None)
    what = f"internal error ({describe(inner)}); the running configuration is kept"
    if isinstance(where, str) and isinstance(line, int) and line > 0:
        log.info("Error [%d] reading file %s at line %d: %s", os.getpid(), where, line, what)
    else:
        log.info("Error [%d]: can not load file %s: %s", os.getpid(), path, what)
    log.debug("%s", "".join(traceback.format_exception(exc)).rstrip())

