"""structlog, configured once at the entry point: JSON lines off a terminal, readable on one."""
from __future__ import annotations

import logging
import sys

import structlog


_configured: tuple[str, bool] = ("info", False)


def configure_logging(level: str = "info", json: bool | None = None) -> None:
    global _configured
    if json is None:
        json = not sys.stderr.isatty()
    _configured = (level, json)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def logging_configuration() -> tuple[str, bool]:
    """(level, json) of the last `configure_logging`: a child process configures itself alike."""
    return _configured


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)
