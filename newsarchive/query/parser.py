"""The query language shared by the CLI, SQL helpers and the web app.

Grammar (operators are upper case; lower-case ``and``/``or``/``not`` are plain words)::

    query   := or
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*            adjacent terms are ANDed
    unary   := ("NOT" | "-") unary | primary
    primary := "(" or ")" | FIELD ":" value | value
    value   := "(" or ")" | '"' phrase '"' | "[" lo "TO" hi "]" | word | word*

A word that the analyser splits into several tokens (``e-mail``, a run of CJK characters)
becomes a phrase, as in Lucene. Errors carry the 0-based character position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TEXT_FIELDS = ("title", "text")
META_FIELDS = ("author", "outlet", "collection", "lang", "section", "url", "story")
RANGE_FIELDS = ("published", "fetched")
FIELDS = TEXT_FIELDS + META_FIELDS + RANGE_FIELDS
FIELD_ALIASES = {"language": "lang", "body": "text", "date": "published"}

_WORDCHAR = re.compile(r"[^\W_]")


class QuerySyntaxError(ValueError):
    """A query that does not parse; ``position`` is the 0-based offset of the problem."""

    def __init__(self, msg: str, position: int) -> None:
        super().__init__(f"{msg} (at position {position})")
        self.msg = msg
        self.position = position


class Node:
    pos: int


@dataclass(frozen=True)
class Term(Node):
    text: str
    field: str | None = None  # None: title or text
    prefix: bool = False
    pos: int = 0


@dataclass(frozen=True)
class Phrase(Node):
    text: str
    field: str | None = None
    pos: int = 0


@dataclass(frozen=True)
class Range(Node):
    field: str
    lo: str | None
    hi: str | None
    pos: int = 0


@dataclass(frozen=True)
class And(Node):
    children: tuple[Node, ...] = field(default_factory=tuple)
    pos: int = 0


@dataclass(frozen=True)
class Or(Node):
    children: tuple[Node, ...] = field(default_factory=tuple)
    pos: int = 0


@dataclass(frozen=True)
class Not(Node):
    child: Node
    pos: int = 0


@dataclass(frozen=True)
class MatchAll(Node):
    """The empty query ``*``: every article in scope (used by count and sample)."""

    pos: int = 0


# token kinds: LP RP WORD PHRASE FIELD RANGE OR AND NOT MINUS EOF
@dataclass
class _Tok:
    kind: str
    value: str
    pos: int
    extra: tuple = ()


_SPECIAL = set('()"')


def _lex(q: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(q)
    while i < n:
        c = q[i]
        if c.isspace():
            i += 1
            continue
        if c == "(":
            toks.append(_Tok("LP", c, i))
            i += 1
            continue
        if c == ")":
            toks.append(_Tok("RP", c, i))
            i += 1
            continue
        if c == '"':
            end = q.find('"', i + 1)
            if end < 0:
                raise QuerySyntaxError("unclosed quote", i)
            toks.append(_Tok("PHRASE", q[i + 1 : end], i))
            i = end + 1
            continue
        if c == "[":
            end = q.find("]", i + 1)
            if end < 0:
                raise QuerySyntaxError("unclosed range, expected ']'", i)
            parts = q[i + 1 : end].split()
            if len(parts) != 3 or parts[1] != "TO":
                raise QuerySyntaxError("a range is written [FROM TO UNTIL]", i)
            lo, hi = (None if p == "*" else p for p in (parts[0], parts[2]))
            toks.append(_Tok("RANGE", q[i : end + 1], i, (lo, hi)))
            i = end + 1
            continue
        if c == "-" and i + 1 < n and not q[i + 1].isspace():
            toks.append(_Tok("MINUS", c, i))
            i += 1
            continue
        j = i
        while j < n and not q[j].isspace() and q[j] not in _SPECIAL:
            if q[j] == ":" and j > i and q[i:j].lower() in FIELDS + tuple(FIELD_ALIASES):
                break
            j += 1
        word = q[i:j]
        if j < n and q[j] == ":" and word.lower() in FIELDS + tuple(FIELD_ALIASES):
            name = word.lower()
            toks.append(_Tok("FIELD", FIELD_ALIASES.get(name, name), i, (j + 1,)))
            i = j + 1
            continue
        if not word:  # a lone '-' or ':' and the like
            raise QuerySyntaxError(f"unexpected {q[i]!r}", i)
        if word in ("OR", "AND", "NOT"):
            toks.append(_Tok(word, word, i))
        elif word == "||":
            toks.append(_Tok("OR", word, i))
        elif word == "&&":
            toks.append(_Tok("AND", word, i))
        else:
            if ":" in word and not (toks and toks[-1].kind == "FIELD"):
                k = word.index(":")
                if k > 0 and _WORDCHAR.match(word[0]) and word[:k].isalpha():
                    raise QuerySyntaxError(
                        f"unknown field {word[:k]!r}; fields are {', '.join(FIELDS)} "
                        "(quote the word to search for it literally)",
                        i,
                    )
            toks.append(_Tok("WORD", word, i))
        i = j
    toks.append(_Tok("EOF", "", n))
    return toks


class _Parser:
    def __init__(self, q: str) -> None:
        self.q = q
        self.toks = _lex(q)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def parse(self) -> Node:
        if self.peek().kind == "EOF":
            raise QuerySyntaxError("empty query: give at least one word", 0)
        if self.peek().kind == "WORD" and self.peek().value == "*" and self.toks[1].kind == "EOF":
            return MatchAll(0)
        node = self.or_()
        t = self.peek()
        if t.kind == "RP":
            raise QuerySyntaxError("unmatched ')'", t.pos)
        if t.kind != "EOF":
            raise QuerySyntaxError(f"unexpected {t.value!r}", t.pos)
        return node

    def or_(self, fld: str | None = None) -> Node:
        start = self.peek().pos
        kids = [self.and_(fld)]
        while self.peek().kind == "OR":
            op = self.take()
            if self.peek().kind in ("EOF", "RP", "OR", "AND"):
                raise QuerySyntaxError("OR needs a term on its right", op.pos)
            kids.append(self.and_(fld))
        return kids[0] if len(kids) == 1 else Or(tuple(kids), start)

    def and_(self, fld: str | None) -> Node:
        start = self.peek().pos
        kids = [self.unary(fld)]
        while True:
            t = self.peek()
            if t.kind == "AND":
                self.take()
                if self.peek().kind in ("EOF", "RP", "OR", "AND"):
                    raise QuerySyntaxError("AND needs a term on its right", t.pos)
                kids.append(self.unary(fld))
            elif t.kind in ("EOF", "RP", "OR"):
                break
            else:
                kids.append(self.unary(fld))
        return kids[0] if len(kids) == 1 else And(tuple(kids), start)

    def unary(self, fld: str | None) -> Node:
        t = self.peek()
        if t.kind in ("NOT", "MINUS"):
            self.take()
            if self.peek().kind in ("EOF", "RP", "OR", "AND"):
                raise QuerySyntaxError(f"{t.value} needs a term after it", t.pos)
            return Not(self.unary(fld), t.pos)
        return self.primary(fld)

    def primary(self, fld: str | None) -> Node:
        t = self.take()
        if t.kind == "LP":
            if self.peek().kind == "RP":
                raise QuerySyntaxError("empty parentheses", t.pos)
            node = self.or_(fld)
            if self.peek().kind != "RP":
                raise QuerySyntaxError("unclosed '(', expected ')'", t.pos)
            self.take()
            return node
        if t.kind == "FIELD":
            if fld is not None:
                raise QuerySyntaxError(f"field {t.value}: inside another field", t.pos)
            nxt = self.peek()
            if nxt.kind == "EOF" or nxt.pos != t.extra[0]:
                raise QuerySyntaxError(f"{t.value}: needs a value right after the colon", t.pos)
            if nxt.kind == "RANGE":
                self.take()
                if t.value not in RANGE_FIELDS:
                    raise QuerySyntaxError(
                        f"ranges work on {', '.join(RANGE_FIELDS)}, not {t.value}:", nxt.pos
                    )
                return Range(t.value, nxt.extra[0], nxt.extra[1], t.pos)
            if t.value in RANGE_FIELDS:
                if nxt.kind != "WORD":
                    raise QuerySyntaxError(f"{t.value}: takes a date or [FROM TO UNTIL]", nxt.pos)
                self.take()
                return Range(t.value, nxt.value, nxt.value, t.pos)
            if nxt.kind == "LP":
                return self.primary(t.value)
            if nxt.kind not in ("WORD", "PHRASE"):
                raise QuerySyntaxError(f"{t.value}: needs a word or a quoted phrase", nxt.pos)
            return self.value(self.take(), t.value)
        if t.kind in ("WORD", "PHRASE"):
            return self.value(t, fld)
        if t.kind == "RANGE":
            raise QuerySyntaxError("a range needs a field, e.g. published:[a TO b]", t.pos)
        if t.kind == "RP":
            raise QuerySyntaxError("unmatched ')'", t.pos)
        if t.kind == "EOF":
            raise QuerySyntaxError("unexpected end of query", t.pos)
        raise QuerySyntaxError(f"unexpected {t.value!r}", t.pos)

    def value(self, t: _Tok, fld: str | None) -> Node:
        if t.kind == "PHRASE":
            if not _WORDCHAR.search(t.value):
                raise QuerySyntaxError("empty phrase", t.pos)
            return Phrase(t.value, fld, t.pos)
        text = t.value.lstrip("+")
        prefix = text.endswith("*")
        core = text.rstrip("*")
        if fld in META_FIELDS:
            if not core:
                raise QuerySyntaxError(f"{fld}: needs a value", t.pos)
            return Term(core, fld, prefix, t.pos)
        if not _WORDCHAR.search(core):
            raise QuerySyntaxError(f"no searchable word in {t.value!r}", t.pos)
        if "*" in core:
            raise QuerySyntaxError("'*' only works at the end of a word", t.pos + text.index("*"))
        return Term(core, fld, prefix, t.pos)


def parse(q: str) -> Node:
    """Parse a query string into a tree of nodes; raises :class:`QuerySyntaxError`."""
    if q is None:
        raise QuerySyntaxError("empty query: give at least one word", 0)
    return _Parser(q).parse()


def positive_terms(node: Node) -> list[Node]:
    """Term and Phrase nodes outside any NOT (what a snippet should highlight)."""
    out: list[Node] = []

    def walk(n: Node, neg: bool) -> None:
        if isinstance(n, Term | Phrase):
            if not neg and n.field in (None, "title", "text"):
                out.append(n)
        elif isinstance(n, And | Or):
            for c in n.children:
                walk(c, neg)
        elif isinstance(n, Not):
            walk(n.child, not neg)

    walk(node, False)
    return out
