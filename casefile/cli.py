"""The `casefile` command: parses flags, builds the settings once, hands over to a command module."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Sequence

from casefile.errors import CasefileError
from casefile.settings import (DEFAULT_BOOTSTRAP, DEFAULT_DLQ_TOPIC, DEFAULT_LEDGER_TOPIC, DEFAULT_LOG_TOPIC,
                               Settings, env_or, parse_overrides)


class NotImplementedYet(CasefileError):
    exit_code = 2


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Flags every command takes (contract §6); on subcommands they only override when given."""
    d = (lambda v: argparse.SUPPRESS) if suppress else (lambda v: v)
    g = parser.add_argument_group("connection")
    g.add_argument("--bootstrap-servers", default=d(None), help="Kafka bootstrap (env CASEFILE_BOOTSTRAP_SERVERS, "
                   f"default {DEFAULT_BOOTSTRAP})")
    g.add_argument("--ledger-topic", default=d(None), help=f"env CASEFILE_LEDGER_TOPIC, default {DEFAULT_LEDGER_TOPIC}")
    g.add_argument("--log-topic", default=d(None), help=f"env CASEFILE_LOG_TOPIC, default {DEFAULT_LOG_TOPIC}")
    g.add_argument("--dlq-topic", default=d(None), help=f"env CASEFILE_DLQ_TOPIC, default {DEFAULT_DLQ_TOPIC}")
    g.add_argument("--policy", default=d(None), help="policy TOML file (env CASEFILE_POLICY)")
    g.add_argument("-X", dest="kafka_config", action="append", default=d(None), metavar="KEY=VALUE",
                   help="librdkafka property, repeatable (e.g. -X security.protocol=SASL_SSL)")
    g.add_argument("--log-level", default=d("info"), choices=["debug", "info", "warning", "error"])


def build_settings(args: argparse.Namespace) -> Settings:
    return Settings(
        bootstrap_servers=args.bootstrap_servers or env_or("CASEFILE_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP),
        ledger_topic=args.ledger_topic or env_or("CASEFILE_LEDGER_TOPIC", DEFAULT_LEDGER_TOPIC),
        log_topic=args.log_topic or env_or("CASEFILE_LOG_TOPIC", DEFAULT_LOG_TOPIC),
        dlq_topic=args.dlq_topic or env_or("CASEFILE_DLQ_TOPIC", DEFAULT_DLQ_TOPIC),
        policy_path=args.policy or os.environ.get("CASEFILE_POLICY") or None,
        kafka_overrides=parse_overrides(args.kafka_config),
    )


def _handler(module: str, func: str = "run") -> Callable[[argparse.Namespace, Settings], int]:
    def call(args: argparse.Namespace, settings: Settings) -> int:
        import importlib

        return importlib.import_module(f"casefile.commands.{module}").__getattribute__(func)(args, settings)
    return call


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="casefile", description="Collections case files from an AR ledger on Kafka.")
    _common(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_: str, handler: Callable) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        _common(p, suppress=True)
        p.set_defaults(handler=handler)
        return p

    k = command("kafka", "a local single-node Kafka broker", _handler("kafka_cmd"))
    k.add_argument("action", choices=["start", "stop", "status"])
    k.add_argument("--secure", action="store_true", help="SASL/SCRAM-SHA-512 and ACLs (README, Security)")
    k.add_argument("--tls", action="store_true", help="with --secure: also SASL_SSL on port+2, test CA")

    p = command("acls", "the ACLs of a casefile deployment, as kafka-acls.sh lines", _handler("acls_cmd"))
    p.add_argument("--print", dest="print_", action="store_true", required=True, help="print the command lines")
    p.add_argument("--principal-prefix", default="", help="prefix of the user names (User:<prefix>ledger-producer ...)")
    p.add_argument("--group", default="casefile-processor", help="the processor's consumer group")
    p.add_argument("--transactional-id", default=None, help="the processor's transactional.id prefix (default: --group)")
    p.add_argument("--command-config", default="admin.properties", help="kafka-acls.sh --command-config file")

    p = command("process", "the ledger processor: exactly-once into the case-file log", _handler("process_cmd"))
    _processor_flags(p)

    p = command("project", "the projector: case-file log into DuckDB read models", _handler("project_cmd"))
    _projector_flags(p)

    p = command("run", "processor and projector together, for one machine", _handler("run_cmd"))
    _processor_flags(p)
    _projector_flags(p, once=False)

    p = command("publish", "validate JSON-lines ledger events and publish them as Avro", _handler("publish_cmd"))
    p.add_argument("file", help="JSON lines, one ledger event per line")
    p.add_argument("--partitions", type=int, default=6, help="partitions when the ledger topic is created (default 6)")
    p.add_argument("--skip-invalid", action="store_true", help="publish the valid lines and report the others")

    p = command("close-day", "publish BusinessDayClosed to every ledger partition", _handler("publish_cmd", "close_day"))
    p.add_argument("--company", required=True)
    p.add_argument("--date", required=True, help="business date YYYY-MM-DD")
    p.add_argument("--partitions", type=int, default=6, help="partitions when the ledger topic is created (default 6)")

    p = command("import-ibm-ar", "turn the IBM accounts-receivable sample into ledger events", _handler("import_cmd"))
    p.add_argument("csv")
    p.add_argument("--company", default="IBM", help="company code for the sample (default IBM)")
    p.add_argument("--out", help="write JSON lines to this file instead of publishing")
    p.add_argument("--partitions", type=int, default=6, help="partitions when the ledger topic is created (default 6)")

    rp = command("replay", "rebuild, verify and export the case-file log", _handler("replay_cmd"))
    rsub = rp.add_subparsers(dest="replay_action", required=True, metavar="ACTION")
    r = rsub.add_parser("rebuild", help="a fresh read-model database from the log")
    _common(r, suppress=True)
    r.add_argument("--db", required=True)
    r.add_argument("--as-of", help="only records recorded at or before this RFC 3339 time")
    r.add_argument("--promote", metavar="LIVE_DB", help="atomically replace LIVE_DB with the rebuilt file")
    r.add_argument("--from-archive", metavar="DIR")
    r = rsub.add_parser("verify", help="hash chains intact; rebuilt read models equal the live ones")
    _common(r, suppress=True)
    r.add_argument("--db", default="casefile.duckdb")
    r = rsub.add_parser("export", help="the log as Avro container files plus a manifest")
    _common(r, suppress=True)
    r.add_argument("--out", required=True)

    p = command("history", "an auditor's timeline of a case or a customer", _handler("history_cmd"))
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--case")
    who.add_argument("--customer", help="company/customer_account, or customer_account with --company")
    p.add_argument("--company")
    p.add_argument("--as-of")
    p.add_argument("--db", default="casefile.duckdb")
    p.add_argument("--format", choices=["table", "json"], default="table")

    p = command("report", "analysts' summaries from the read models", _handler("report_cmd"))
    p.add_argument("kind", choices=["aging", "cases", "recovery", "html"])
    p.add_argument("--db", default="casefile.duckdb")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--company")
    p.add_argument("--as-of", help="business date YYYY-MM-DD (aging from aging_history)")
    p.add_argument("--out", help="output folder for html")

    p = command("query", "read-only SQL against the read models", _handler("report_cmd", "query"))
    p.add_argument("sql")
    p.add_argument("--db", default="casefile.duckdb")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--export-parquet", metavar="DIR", help="write every read-model table as Parquet into DIR")

    p = command("schema", "Avro schema tools", _handler("schema_cmd"))
    p.add_argument("action", choices=["check", "show"])
    p.add_argument("file", nargs="?", help="candidate schema for `check`")
    p.add_argument("--subject", choices=["ledger", "log"], default="ledger")
    return parser


def _processor_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--once", action="store_true", help="stop when caught up with the end offsets seen at start")
    p.add_argument("--group", default="casefile-processor", help="consumer group id")
    p.add_argument("--transactional-id", default=None, help="transactional.id prefix (default: the group id)")
    p.add_argument("--batch-size", type=int, default=5000, help="ledger events per transaction (max)")
    p.add_argument("--batch-ms", type=int, default=200, help="longest wait to fill a batch, ms")
    p.add_argument("--partitions", type=int, default=6, help="partitions for the topics when they are created")
    p.add_argument("--snapshot-every", type=int, default=50000, help="log records between state snapshots")
    _metrics_flag(p, "serve /metrics, /healthz and /readyz on this port (env CASEFILE_METRICS_PORT; default off); "
                     "with `run` the processor child serves PORT and the projector child PORT+1")


def _metrics_flag(p: argparse.ArgumentParser, help_: str) -> None:
    env = os.environ.get("CASEFILE_METRICS_PORT", "").strip()
    default = int(env) if env.isdigit() and int(env) > 0 else None
    p.add_argument("--metrics-port", type=int, default=default, metavar="PORT", help=help_)


def _projector_flags(p: argparse.ArgumentParser, once: bool = True) -> None:
    if once:  # `project` alone; `run` takes --once and --metrics-port from _processor_flags
        p.add_argument("--once", action="store_true", help="stop when caught up with the end offsets seen at start")
        _metrics_flag(p, "serve /metrics, /healthz and /readyz on this port (env CASEFILE_METRICS_PORT; "
                         "default off)")
    p.add_argument("--db", default="casefile.duckdb", help="DuckDB file (default casefile.duckdb)")
    p.add_argument("--snapshot", default=None, help="read-only copy for analysts (default DB.snapshot.duckdb)")
    p.add_argument("--projection-batch-size", type=int, default=245_760,
                   help="log records per DuckDB transaction (max; whole DuckDB row groups of 122,880 are fastest)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from casefile.logs import configure_logging

    configure_logging(args.log_level)
    try:
        settings = build_settings(args)
        return int(args.handler(args, settings) or 0)
    except CasefileError as exc:
        print(f"casefile: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("casefile: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `casefile history ... | head`: the reader has all it wants
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # a bug or an unforeseen failure: one line, the traceback only on request
        if args.log_level == "debug":
            raise
        print(f"casefile: internal error: {exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
              "(--log-level debug shows the traceback)", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
