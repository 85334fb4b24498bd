"""`casefile kafka start|stop|status [--secure [--tls]]`: the local broker; `--secure` runs the secured one
(SCRAM users, StandardAuthorizer, casefile's ACLs for the configured topics) and names its client files."""
from __future__ import annotations

import argparse
import sys

from casefile.commands.acls_cmd import acl_plan
from casefile.errors import CasefileError
from casefile.kafka.local_broker import LocalBroker
from casefile.kafka.security import casefile_acls, create_acls
from casefile.kafka.topics import admin, ensure_topic
from casefile.settings import Settings

LEDGER_PARTITIONS = 6  # as `casefile publish --partitions` defaults


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.secure:
        return _secured(args, settings)
    if args.tls:
        raise CasefileError("--tls needs --secure")
    broker = LocalBroker.for_bootstrap(settings.bootstrap_servers)
    if args.action == "start":
        print(broker.start(progress=_say))
        return 0
    return _stop_or_status(broker, args.action, "running", "")


def _say(msg: str) -> None:
    print(msg, file=sys.stderr)  # progress to stderr, the address alone on stdout


def _stop_or_status(broker: LocalBroker, action: str, running: str, how: str) -> int:
    if action == "stop":
        broker.stop(progress=_say)
        return 0
    if broker.answers(timeout=5.0):
        print(f"{running}: {broker.bootstrap}")
        return 0
    print(f"not running: nothing answers on {broker.bootstrap}{how}")
    return 1


def _secured(args: argparse.Namespace, settings: Settings) -> int:
    broker = LocalBroker.secured(settings.bootstrap_servers, tls=args.tls)
    say = _say
    if args.action == "start":
        address = broker.start(progress=say)
        # the admin owns the ledger topic (producers may only write it); the processor creates the rest
        ensure_topic(admin(broker.client_config()), settings.ledger_topic, LEDGER_PARTITIONS)
        created = create_acls(broker.client_config(), casefile_acls(acl_plan(args, settings)))
        say(f"{settings.ledger_topic} ready; {created} ACLs for {settings.ledger_topic}, {settings.log_topic}, "
            f"{settings.dlq_topic}")
        for user, path in broker.write_client_files().items():
            say(f"  {user}: CASEFILE_KAFKA_CONFIG_FILE={path}")
        if broker.security is not None and broker.security.tls:
            say(f"SASL_SSL on {broker.ssl_bootstrap} (files *-ssl.properties; CA {broker.certificates().ca_cert})")
        print(address)
        return 0
    return _stop_or_status(broker, args.action, "running (secured)", " with the saved admin credentials")
