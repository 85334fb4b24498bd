"""`casefile acls --print`: the `kafka-acls.sh` lines that give each casefile role least
privilege on the configured topics (README, "Security")."""
from __future__ import annotations

import argparse

from casefile.kafka.security import AclPlan, casefile_acls, kafka_acls_command_lines
from casefile.settings import Settings

def acl_plan(args: argparse.Namespace, settings: Settings) -> AclPlan:
    return AclPlan(ledger_topic=settings.ledger_topic, log_topic=settings.log_topic, dlq_topic=settings.dlq_topic,
                   processor_group=getattr(args, "group", None) or "casefile-processor",
                   transactional_id_prefix=getattr(args, "transactional_id", None),
                   principal_prefix=getattr(args, "principal_prefix", "") or "")


def run(args: argparse.Namespace, settings: Settings) -> int:
    plan = acl_plan(args, settings)
    print(f"# casefile ACLs for {settings.ledger_topic} -> {settings.log_topic} (+ {settings.dlq_topic}, "
          f"{plan.snapshot_topic}); run as a super user. Create the ledger topic first (the processor may "
          "create the other three).")
    for line in kafka_acls_command_lines(casefile_acls(plan), settings.bootstrap_servers, args.command_config):
        print(line)
    return 0
