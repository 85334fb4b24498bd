"""Collections policy: aging basis and buckets, case triggers, promise tolerance, currencies."""
from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_POLICY_FILE = Path(__file__).resolve().parents[2] / "casefile" / "policy" / "default.toml"


class PolicyError(ValueError):
    """The policy file is unreadable or breaks a rule."""


@dataclass(frozen=True, slots=True)
class Policy:
    aging_basis: str = "due_date"
    bucket_bounds: tuple[int, int, int, int] = (30, 60, 90, 120)
    aging_min_days_past_due: int = 30
    aging_min_overdue_minor: int = 10000
    risk_score_threshold: int = 70
    promise_tolerance_days: int = 3
    default_currency: str = "USD"
    company_currencies: dict[str, str] = field(default_factory=dict)
    # SHA-256 (first 16 hex digits) of the canonical JSON of every setting; computed once
    version: str = field(init=False, compare=False, repr=False, default="")

    def __post_init__(self) -> None:
        settings = {k: v for k, v in asdict(self).items() if k != "version"}
        canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"))
        object.__setattr__(self, "version", hashlib.sha256(canonical.encode()).hexdigest()[:16])

    def currency_of(self, company: str) -> str:
        return self.company_currencies.get(company, self.default_currency)


def policy_from_mapping(doc: dict[str, Any]) -> Policy:
    aging = doc.get("aging", {})
    triggers = doc.get("case_triggers", {})
    promises = doc.get("promises", {})
    currencies = doc.get("currencies", {})
    try:
        bounds = tuple(int(b) for b in aging.get("bucket_bounds", (30, 60, 90, 120)))
        policy = Policy(
            aging_basis=str(aging.get("basis", "due_date")),
            bucket_bounds=bounds,  # type: ignore[arg-type]
            aging_min_days_past_due=int(triggers.get("aging_min_days_past_due", 30)),
            aging_min_overdue_minor=int(triggers.get("aging_min_overdue_minor", 10000)),
            risk_score_threshold=int(triggers.get("risk_score_threshold", 70)),
            promise_tolerance_days=int(promises.get("tolerance_days", 3)),
            default_currency=str(currencies.get("default", "USD")),
            company_currencies={str(k): str(v) for k, v in currencies.get("companies", {}).items()},
        )
    except (TypeError, ValueError) as exc:
        raise PolicyError(f"bad policy value: {exc}") from exc
    if policy.aging_basis not in ("due_date", "invoice_date"):
        raise PolicyError(f"aging.basis must be due_date or invoice_date, not {policy.aging_basis!r}")
    if len(bounds) != 4 or list(bounds) != sorted(set(bounds)) or bounds[0] < 1:
        raise PolicyError("aging.bucket_bounds must be 4 increasing positive day counts")
    return policy


def load_policy(path: str | Path | None = None) -> Policy:
    """The policy in `path`, or the default policy file."""
    target = Path(path) if path else DEFAULT_POLICY_FILE
    try:
        doc = tomllib.loads(target.read_text())
    except FileNotFoundError as exc:
        raise PolicyError(f"policy file not found: {target}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"policy file {target} is not valid TOML: {exc}") from exc
    return policy_from_mapping(doc)
