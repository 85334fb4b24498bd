#!/usr/bin/env bash
# The main job end to end: local broker up, the IBM sample in, processor and projector caught up,
# reports printed. Safe to run again: the broker and its topics are reused, duplicates are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export CASEFILE_BOOTSTRAP_SERVERS="${CASEFILE_BOOTSTRAP_SERVERS:-127.0.0.1:9092}"
DB="${CASEFILE_DB:-out/casefile.duckdb}"
# the IBM sample is punctual: this policy lowers the aging trigger so cases open (see README)
export CASEFILE_POLICY="${CASEFILE_POLICY:-samples/ibm-policy.toml}"
mkdir -p "$(dirname "$DB")"

echo "== broker"
casefile kafka start
echo "== import the IBM accounts-receivable sample"
casefile import-ibm-ar samples/ibm-accounts-receivable-sample.csv
echo "== processor and projector, until caught up"
casefile process --once
casefile project --once --db "$DB"
echo "== aging"
casefile report aging --db "$DB" --as-of 2013-06-30  # mid-sample: the sample ends fully paid
casefile report cases --db "$DB"
echo "== recovery"
casefile report recovery --db "$DB"
echo "== HTML report"
casefile report html --db "$DB" --out out/report
