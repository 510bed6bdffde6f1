"""Access rules in pywb's ``.aclj`` format, applied the way pywb applies them.

A line is ``SURT-prefix - {"access": "allow|block|exclude|allow_ignore_embargo", ...}``. The
rule with the longest key that prefixes a capture's SURT key decides (pywb sorts rules in
reverse and takes the first prefix match); rules carrying a ``user`` apply only to that
user and are ignored here. ``exclude`` hides a capture as if absent, ``block`` answers 451
in pywb; neither is ever exported.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from newsarchive.warc.cdxj import surt

ACCESS_VALUES = {"allow", "block", "exclude", "allow_ignore_embargo"}


class AccessRuleError(ValueError):
    """An ``.aclj`` file has a line that is not a rule; the message names it."""


@dataclass(frozen=True)
class Rule:
    key: str
    access: str


class AccessRules:
    def __init__(self, rules: list[Rule] | None = None, default: str = "allow"):
        # Longest key first: the first prefix match is the most specific rule.
        self.rules = sorted(rules or [], key=lambda r: r.key, reverse=True)
        self.default = default

    def __len__(self) -> int:
        return len(self.rules)

    def access(self, url: str) -> str:
        key = surt(url)
        for rule in self.rules:
            if key.startswith(rule.key):
                return rule.access
        return self.default

    def allowed(self, url: str) -> bool:
        """May this capture be replayed or exported?"""
        return self.access(url) not in ("block", "exclude")


def parse_rules(text: str, source: str = "<rules>") -> list[Rule]:
    rules = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            key, _ts, data = line.split(" ", 2)
            d = json.loads(data)
        except ValueError:
            raise AccessRuleError(f"{source}:{n}: not an .aclj rule: {line[:80]!r}") from None
        access = d.get("access")
        if access not in ACCESS_VALUES:
            raise AccessRuleError(f"{source}:{n}: unknown access {access!r}")
        if d.get("user"):
            continue
        rules.append(Rule(key, access))
    return rules


def load_access_rules(path: str | os.PathLike | None) -> AccessRules:
    """Rules from an ``.aclj`` file; no path (or a missing default file) means allow all."""
    if not path:
        return AccessRules()
    p = Path(path)
    return AccessRules(parse_rules(p.read_text(encoding="utf-8"), str(p)))


def rule_line(url: str, access: str) -> str:
    """An ``.aclj`` line for ``url``: it covers every URL whose key starts with its key."""
    if access not in ACCESS_VALUES:
        raise ValueError(f"unknown access {access!r}")
    return f"{surt(url)} - " + json.dumps({"access": access, "url": url})
