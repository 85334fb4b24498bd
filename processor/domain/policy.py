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


# section -> {key in the file: Policy field}; the contract's flat names (e.g. promise_tolerance_days)
# are accepted at the top level too
_SECTIONS: dict[str, dict[str, str]] = {
    "aging": {"basis": "aging_basis", "bucket_bounds": "bucket_bounds"},
    "case_triggers": {"aging_min_days_past_due": "aging_min_days_past_due",
                      "aging_min_overdue_minor": "aging_min_overdue_minor",
                      "risk_score_threshold": "risk_score_threshold"},
    "promises": {"tolerance_days": "promise_tolerance_days"},
    "currencies": {"default": "default_currency", "companies": "company_currencies"},
}
_FLAT = {"aging_basis", "bucket_bounds", "aging_min_days_past_due", "aging_min_overdue_minor",
         "risk_score_threshold", "promise_tolerance_days", "default_currency", "company_currencies"}


def _settings(doc: dict[str, Any]) -> dict[str, Any]:
    """Every setting of the file by Policy field name; an unknown key is an error, not a silent no-op."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key in _SECTIONS and isinstance(value, dict):
            names = _SECTIONS[key]
            for sub, sub_value in value.items():
                if sub in names:
                    out[names[sub]] = sub_value
                elif sub in _FLAT:
                    out[sub] = sub_value
                else:
                    raise PolicyError(f"unknown policy setting [{key}] {sub}")
        elif key in _FLAT:
            out[key] = value
        else:
            raise PolicyError(f"unknown policy setting {key}")
    return out


def policy_from_mapping(doc: dict[str, Any]) -> Policy:
    given = _settings(doc)
    try:
        bounds = tuple(int(b) for b in given.get("bucket_bounds", (30, 60, 90, 120)))
        policy = Policy(
            aging_basis=str(given.get("aging_basis", "due_date")),
            bucket_bounds=bounds,  # type: ignore[arg-type]
            aging_min_days_past_due=int(given.get("aging_min_days_past_due", 30)),
            aging_min_overdue_minor=int(given.get("aging_min_overdue_minor", 10000)),
            risk_score_threshold=int(given.get("risk_score_threshold", 70)),
            promise_tolerance_days=int(given.get("promise_tolerance_days", 3)),
            default_currency=str(given.get("default_currency", "USD")),
            company_currencies={str(k): str(v) for k, v in dict(given.get("company_currencies", {})).items()},
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
