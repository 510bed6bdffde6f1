"""Query evaluation: a parsed query becomes one SQL statement over the ``qi_*`` tables.

Every node compiles to a subquery yielding ``(docid, score)`` with distinct docids:
a word reads only its terms' postings (termids inlined, so zone maps skip the rest);
AND is a UNION ALL grouped with ``HAVING count(*) = k``; OR the same without HAVING;
NOT an anti-join; field filters read ``qi_docs``. A phrase is the AND of its words, whose
postings' positions must hold the words one after another, then checked against the article
text with a regex (exact: stemming makes positions looser than the text).
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import duckdb

from newsarchive.query.analysis import (
    PY_CJK,
    install_macros,
    phrase_regex,
    stem,
    surface_tokens,
)
from newsarchive.query.index import TITLE_BOOST
from newsarchive.query.parser import (
    And,
    MatchAll,
    Node,
    Not,
    Or,
    Phrase,
    QuerySyntaxError,
    Range,
    Term,
    parse,
)
from newsarchive.query.sqlmacros import bm25_expr

MAX_PREFIX_TERMS = 200
STATS = "SELECT count(*)::DOUBLE AS n, coalesce(avg(dl), 1)::DOUBLE AS avgdl FROM qi_docs"
# The postings of every word of a query, with the document length, read once per query:
# each word's subquery then filters this small set instead of scanning qi_post and qi_docs.
POSTINGS_CTE = "qi_qp"


class QueryError(ValueError):
    """A query that parses but cannot run (unknown collection, no index, ...)."""


@dataclass(frozen=True)
class Scope:
    outlets: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


def lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def collection_outlets(names: tuple[str, ...] | list[str]) -> list[str]:
    from newsarchive.registry import load_outlets

    outlets = load_outlets()
    known = sorted({c for o in outlets.values() for c in o.collections})
    keys: list[str] = []
    for name in names:
        if name not in known:
            raise QueryError(f"unknown collection {name!r}; known: {', '.join(known)}")
        keys += [k for k, o in outlets.items() if name in o.collections]
    return sorted(set(keys))


def _ts(value: str, pos: int, end: bool) -> datetime:
    """A range bound; a bare date as upper bound includes that whole day."""
    v = value.strip()
    try:
        if re.fullmatch(r"\d{4}", v):
            d = datetime(int(v), 1, 1, tzinfo=UTC)
            return d.replace(year=d.year + 1) if end else d
        if re.fullmatch(r"\d{4}-\d{2}", v):
            y, m = map(int, v.split("-"))
            d = datetime(y, m, 1, tzinfo=UTC)
            return (d.replace(year=y + m // 12, month=m % 12 + 1)) if end else d
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            d = datetime.combine(date.fromisoformat(v), datetime.min.time(), UTC)
            return d + timedelta(days=1) if end else d
        d = datetime.fromisoformat(v.replace("Z", "+00:00"))
        return d if d.tzinfo else d.replace(tzinfo=UTC)
    except ValueError:
        raise QuerySyntaxError(
            f"{value!r} is not a date (YYYY, YYYY-MM, YYYY-MM-DD or ISO)", pos
        ) from None


@dataclass
class Facts:
    """What every query needs to know about the archive, kept per connection while the
    catalog signature (oid and row count of the index tables) stays the same: the index
    tables are append-only between rebuilds, and a rebuild gives them new oids."""

    signature: tuple
    stories: bool
    langs: list[str] = field(default_factory=list)
    n: float = 0.0
    avgdl: float = 1.0
    termids: dict[str, list[int]] = field(default_factory=dict)
    macros: bool = False
    # docids >= pos_from have word positions; None: an index without positions (old format)
    pos_from: int | None = None


_FACTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_SIGNATURE = (
    "SELECT table_name, table_oid, estimated_size FROM duckdb_tables() "
    "WHERE table_name IN ('qi_docs', 'qi_lex', 'qi_terms', 'qi_post_main', 'qi_post_tail', "
    "'story_members') AND NOT temporary "
    "UNION ALL SELECT view_name, view_oid, 0 FROM duckdb_views() "
    "WHERE view_name IN ('story_members', 'qi_post') AND NOT temporary ORDER BY ALL"
)


def facts(con: duckdb.DuckDBPyConnection) -> Facts:
    """The archive's facts for this connection: one cheap catalog read per query, the rest
    (languages, collection statistics, term ids) re-read only after the index changed."""
    sig = tuple(con.execute(_SIGNATURE).fetchall())
    old = _FACTS.get(con)
    if old is not None and old.signature == sig:
        return old
    names = {r[0] for r in sig}
    if "qi_docs" not in names:
        raise QueryError("no query index in this archive yet; run: newsarchive search --rebuild")
    f = Facts(sig, "story_members" in names, macros=old.macros if old else False)
    if not f.macros:
        try:  # the tokenizer macros are stored by a writer, or temporary per connection
            con.execute("SELECT qi_words('')").fetchall()
        except duckdb.Error:
            install_macros(con)
        f.macros = True
    f.langs = [r[0] for r in con.execute("SELECT DISTINCT lang FROM qi_lex").fetchall()]
    f.n, f.avgdl = con.execute(STATS).fetchone()
    row = con.execute("SELECT value FROM qi_meta WHERE key = 'pos_from'").fetchone()
    f.pos_from = int(row[0]) if row else None
    _FACTS[con] = f
    return f


def _double(x: float) -> str:
    return f"'{float(x)!r}'::DOUBLE"  # the exact double, not a DECIMAL literal


class Compiler:
    def __init__(
        self, con: duckdb.DuckDBPyConnection, f: Facts | None = None, docs: str = "true"
    ) -> None:
        self.con = con
        self.facts = f if f is not None else facts(con)
        # A condition on qi_docs ``d`` the final result applies anyway (scope, latest): a
        # phrase checks its regex only on candidates that satisfy it.
        self.docs = docs
        self.phrases: list[str] = []
        self.used: set[int] = set()

    def langs(self) -> list[str]:
        return self.facts.langs

    def prefetch(self, node: Node) -> None:
        """Look up the term ids of every plain word of ``node`` in one statement."""
        toks: set[str] = set()

        def walk(n: Node) -> None:
            if isinstance(n, Term) and n.field in (None, "title", "text") and not n.prefix:
                toks.update(surface_tokens(n.text))
            elif isinstance(n, Phrase) and n.field in (None, "title", "text"):
                toks.update(surface_tokens(n.text))
            for c in getattr(n, "children", ()) or ():
                walk(c)
            if isinstance(n, Not):
                walk(n.child)

        walk(node)
        cache = self.facts.termids
        want = {t: {t} | {stem(lang, t) for lang in self.langs()} for t in toks if t not in cache}
        if not want:
            return
        terms = sorted(set().union(*want.values()))
        ids = dict(
            self.con.execute(
                "SELECT term, termid FROM qi_terms WHERE term IN (SELECT unnest(?::VARCHAR[]))",
                [terms],
            ).fetchall()
        )
        if len(cache) > 100_000:
            cache.clear()
        for t, ts in want.items():
            cache[t] = sorted(ids[x] for x in ts if x in ids)

    def termids(self, token: str, prefix: bool = False) -> list[int]:
        if not prefix and token in self.facts.termids:
            return self.facts.termids[token]
        if prefix:
            rows = self.con.execute(
                "SELECT DISTINCT x.termid FROM qi_lex l JOIN qi_terms x ON x.term = l.term "
                "WHERE l.tok LIKE ? ESCAPE '\\' LIMIT ?",
                [
                    token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
                    MAX_PREFIX_TERMS,
                ],
            ).fetchall()
            return sorted(r[0] for r in rows)
        terms = {token} | {stem(lang, token) for lang in self.langs()}
        rows = self.con.execute(
            "SELECT termid FROM qi_terms WHERE term IN (SELECT unnest(?::VARCHAR[]))",
            [sorted(terms)],
        ).fetchall()
        return sorted(r[0] for r in rows)

    def words(self, ids: list[int], fld: str | None) -> str:
        if not ids:
            return "SELECT NULL::INTEGER AS docid, NULL::DOUBLE AS score WHERE false"
        tf, ttf = {"title": ("0", "p.ttf"), "text": ("p.tf", "0")}.get(fld, ("p.tf", "p.ttf"))
        cond = {"title": " AND p.ttf > 0", "text": " AND p.tf > 0"}.get(fld, "")
        inl = ", ".join(map(str, ids))
        self.used.update(ids)
        f = self.facts
        score = bm25_expr(tf, ttf, "p.df", _double(f.n), "p.dl", _double(f.avgdl), TITLE_BOOST)
        return (
            f"SELECT p.docid, sum({score}) AS score FROM {POSTINGS_CTE} p "
            f"WHERE p.termid IN ({inl}){cond} GROUP BY p.docid"
        )

    def with_postings(self, body: str) -> str:
        """``body`` preceded by the CTE of the query's postings (df per term, dl per doc)."""
        if not self.used:
            return body
        inl = ", ".join(map(str, sorted(self.used)))
        return (
            f"WITH {POSTINGS_CTE} AS MATERIALIZED (SELECT p.termid, p.docid, p.tf, p.ttf, d.dl, "
            "count(*) OVER (PARTITION BY p.termid) AS df "
            f"FROM qi_post p JOIN qi_docs d ON d.docid = p.docid WHERE p.termid IN ({inl})) "
            f"{body}"
        )

    def compile(self, node: Node) -> str:
        if isinstance(node, MatchAll):
            return "SELECT docid, 0.0 AS score FROM qi_docs"
        if isinstance(node, Term):
            if node.field in (None, "title", "text"):
                toks = surface_tokens(node.text)
                if not toks:
                    raise QuerySyntaxError(f"no searchable word in {node.text!r}", node.pos)
                if len(toks) > 1 and not node.prefix:
                    return self.compile(Phrase(node.text, node.field, node.pos))
                return self.words(
                    self.termids(toks[-1] if node.prefix else toks[0], node.prefix), node.field
                )
            return f"SELECT docid, 0.0 AS score FROM qi_docs WHERE {self.meta(node)}"
        if isinstance(node, Phrase):
            if node.field in ("author", "outlet", "collection", "lang", "section", "url", "story"):
                return f"SELECT docid, 0.0 AS score FROM qi_docs WHERE {self.meta(node)}"
            toks = surface_tokens(node.text)
            if not toks:
                raise QuerySyntaxError("empty phrase", node.pos)
            parts = [self.words(self.termids(t), node.field) for t in dict.fromkeys(toks)]
            base = self._and(parts)
            if len(toks) == 1:
                return base
            pat = lit(phrase_regex(node.text))
            col = {"title": "lower(a.title)", "text": "lower(a.text)"}.get(
                node.field, "lower(coalesce(a.title, '') || ' \n ' || coalesce(a.text, ''))"
            )
            self.phrases.append(node.text)
            check = f"regexp_matches({col}, {pat})"
            loose = lit(phrase_regex(node.text, edges=False))
            if loose != pat:  # most candidates fail the literal-led pattern, cheaply; CASE
                check = f"CASE WHEN regexp_matches({col}, {loose}) THEN {check} ELSE false END"
            # a title phrase has few candidates (title postings): its regex is cheap enough
            n = len(self.phrases)
            steps = [] if node.field == "title" else self.adjacent(node.text, toks, f"qi_m{n}")
            if not steps:
                return (
                    f"SELECT m.docid, m.score FROM ({base}) m JOIN qi_docs d ON d.docid = m.docid "
                    f"JOIN articles a ON a.id = d.article_id WHERE {self.docs} AND {check}"
                )
            near = f"m.docid IN (SELECT docid FROM qi_s{n}_{len(toks) - 1})"
            if self.facts.pos_from:
                near = f"(m.docid < {self.facts.pos_from} OR {near})"
            # The docs with all the words (in scope), then those with the words in a row;
            # ``ok`` ones match without reading their text (see exact); the others need the
            # regex, which a CASE on ``ok`` keeps above the join (a filter on ``a`` alone
            # would run on every article the scan reads).
            return (
                f"WITH qi_m{n} AS MATERIALIZED (SELECT m.docid, m.score, d.article_id, d.cjk "
                f"FROM ({base}) m JOIN qi_docs d ON d.docid = m.docid WHERE {self.docs}), "
                + ", ".join(steps)
                + f", qi_c{n} AS MATERIALIZED (SELECT m.docid, m.score, m.article_id, "
                f"{self.exact(toks, node.field)} AS ok FROM qi_m{n} m WHERE {near}) "
                f"SELECT docid, score FROM qi_c{n} WHERE ok UNION ALL "
                f"SELECT c.docid, c.score FROM qi_c{n} c JOIN articles a ON a.id = c.article_id "
                f"WHERE NOT c.ok AND CASE WHEN c.ok THEN false ELSE {check} END"
            )
        if isinstance(node, Range):
            col = "d.fetched_at" if node.field == "fetched" else "d.ts"
            cond = ["true"]
            if node.lo:
                cond.append(
                    f"{col} >= {lit(_ts(node.lo, node.pos, False).isoformat())}::TIMESTAMPTZ"
                )
            if node.hi:
                cond.append(f"{col} < {lit(_ts(node.hi, node.pos, True).isoformat())}::TIMESTAMPTZ")
            return f"SELECT d.docid, 0.0 AS score FROM qi_docs d WHERE {' AND '.join(cond)}"
        if isinstance(node, Or):
            return (
                "SELECT docid, sum(score) AS score FROM ("
                + " UNION ALL ".join(f"({self.compile(c)})" for c in node.children)
                + ") GROUP BY docid"
            )
        if isinstance(node, And):
            pos = [c for c in node.children if not isinstance(c, Not)]
            neg = [c.child for c in node.children if isinstance(c, Not)]
            base = (
                self._and([self.compile(c) for c in pos])
                if pos
                else ("SELECT docid, 0.0 AS score FROM qi_docs")
            )
            for n in neg:
                base = f"SELECT * FROM ({base}) WHERE docid NOT IN (SELECT docid FROM ({self.compile(n)}))"
            return base
        if isinstance(node, Not):
            return (
                "SELECT docid, 0.0 AS score FROM qi_docs "
                f"WHERE docid NOT IN (SELECT docid FROM ({self.compile(node.child)}))"
            )
        raise QueryError(f"cannot evaluate {node!r}")

    def adjacent(self, text: str, toks: list[str], cand: str) -> list[str]:
        """CTEs ``qi_s<n>_<i>`` (n = len(self.phrases)), the last one holding the docs of
        ``cand`` with the phrase's words at consecutive positions: a condition the phrase's
        regex implies. Empty when positions cannot decide.

        A regex match is the phrase's words as whole tokens separated by non-word characters
        in ``title \\n text``, i.e. consecutive in the stored token stream, and each word's
        termids cover every term its token maps to; so no doc the regex accepts is dropped.
        CJK is left to the regex: its bigrams do not line up with a substring match."""
        f = self.facts
        if f.pos_from is None or PY_CJK.search(text):
            return []
        ids = [self.termids(t) for t in toks]
        if not all(ids):
            return []
        k, n = len(ids), len(self.phrases)
        # Word i at position p starts the phrase at p - i, keyed p + (k - 1 - i) (unsigned).
        # A chain of semi-joins in phrase order, each step materialized: the join order
        # optimizer, misjudging unnested lists, would join two common words first.
        steps = []
        for i, w in enumerate(ids):
            src = (
                f"SELECT docid, unnest(pos) + {k - 1 - i} AS s FROM qi_post "
                f"WHERE termid IN ({', '.join(map(str, w))}) "
                f"AND docid IN (SELECT docid FROM {cand})"
            )
            if i:
                src = f"SELECT * FROM ({src}) x SEMI JOIN qi_s{n}_{i - 1} USING (docid, s)"
            steps.append(f"qi_s{n}_{i} AS MATERIALIZED ({src})")
        return steps

    def exact(self, toks: list[str], fld: str | None) -> str:
        """SQL true for a candidate (words at consecutive positions) that surely matches the
        regex, so its text need not be read: an unfielded phrase (the stream is title then
        text, as the regex's string), a doc without CJK (whose tokens end only at non-word
        characters, the regex's edges) indexed with positions, and every term of every word
        has that word as its only surface form (no stemming merged another form into it).
        The last is checked in the statement itself, on the same snapshot as the postings."""
        if fld is not None:
            return "false"
        cond = " OR ".join(
            f"(termid IN ({', '.join(map(str, self.termids(t)))}) AND tok <> {lit(t)})"
            for t in dict.fromkeys(toks)
        )
        return (
            f"(m.docid >= {self.facts.pos_from} AND m.cjk IS NOT DISTINCT FROM false "
            f"AND NOT EXISTS (SELECT 1 FROM qi_lex WHERE {cond}))"
        )

    @staticmethod
    def _and(parts: list[str]) -> str:
        if len(parts) == 1:
            return parts[0]
        return (
            "SELECT docid, sum(score) AS score FROM ("
            + " UNION ALL ".join(f"({p})" for p in parts)
            + f") GROUP BY docid HAVING count(*) = {len(parts)}"
        )

    def meta(self, node: Term | Phrase) -> str:
        v = node.text
        low = v.lower()
        pre = isinstance(node, Term) and node.prefix
        if node.field == "outlet":
            return f"outlet LIKE {lit(low + '%')}" if pre else f"outlet = {lit(low)}"
        if node.field == "collection":
            keys = collection_outlets([low])
            return f"outlet IN ({', '.join(map(lit, keys))})" if keys else "false"
        if node.field == "lang":
            return f"lang = {lit(low.split('-')[0])}"
        if node.field == "section":
            return f"section LIKE {lit(low + '%')}" if pre else f"section = {lit(low)}"
        if node.field == "author":
            return f"contains(authors, {lit(low)})"
        if node.field == "url":
            return f"starts_with(url, {lit(v)})" if "://" in v else f"contains(url, {lit(v)})"
        if node.field == "story":
            if not self.facts.stories:
                raise QueryError(
                    "story: needs stories, which are not built in this archive yet "
                    "(no story_members table)"
                )
            return f"article_id IN (SELECT article_id FROM story_members WHERE story_id = {lit(v)})"
        raise QueryError(f"unknown field {node.field}")


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute(
        "SELECT (SELECT count(*) FROM duckdb_tables() WHERE table_name = ?) "
        "+ (SELECT count(*) FROM duckdb_views() WHERE view_name = ?)",
        [name, name],
    ).fetchone()
    return bool(row[0])


def scope_sql(scope: Scope, alias: str = "d") -> str:
    cond = []
    outlets = set(scope.outlets)
    if scope.collections:
        coll = set(collection_outlets(scope.collections))
        outlets = (outlets & coll) if outlets else coll
        if not outlets:
            return "false"
    if outlets or scope.outlets:
        cond.append(f"{alias}.outlet IN ({', '.join(map(lit, sorted(outlets))) or 'NULL'})")
    if scope.languages:
        cond.append(
            f"{alias}.lang IN ({', '.join(lit(x.lower().split('-')[0]) for x in scope.languages)})"
        )
    if scope.since:
        cond.append(f"{alias}.ts >= {lit(scope.since.isoformat())}::TIMESTAMPTZ")
    if scope.until:
        cond.append(f"{alias}.ts < {lit(scope.until.isoformat())}::TIMESTAMPTZ")
    return " AND ".join(cond) or "true"


def prepare(con: duckdb.DuckDBPyConnection) -> Facts:
    """Check the index exists (and the tokenizer macros); the archive's facts."""
    return facts(con)


def hits_sql(
    con: duckdb.DuckDBPyConnection,
    q: str | Node,
    scope: Scope,
    all_versions: bool = False,
    columns: str = "m.docid, m.score",
) -> tuple[str, Node, Facts]:
    """SQL yielding ``columns`` (of ``m`` the match and ``d`` its qi_docs row) of the docs
    matching ``q`` within ``scope``, the tree, and the archive's facts."""
    f = facts(con)
    node = parse(q) if isinstance(q, str) else q
    where = scope_sql(scope) + ("" if all_versions else " AND d.latest")
    comp = Compiler(con, f, where)
    comp.prefetch(node)
    if isinstance(node, MatchAll):  # every doc in scope: no self-join of qi_docs
        cols = columns.replace("m.docid", "d.docid")
        sql = f"SELECT {cols} FROM qi_docs d, (SELECT 0.0 AS score) m WHERE {where}"
        return sql, node, f
    body = comp.compile(node)
    sql = f"SELECT {columns} FROM ({body}) m JOIN qi_docs d ON d.docid = m.docid WHERE {where}"
    return comp.with_postings(sql), node, f


def matches_sql(
    con: duckdb.DuckDBPyConnection, q: str | Node, scope: Scope, all_versions: bool = False
) -> tuple[str, Node]:
    """SQL yielding (docid, score) of the docs matching ``q`` within ``scope``, and the tree."""
    sql, node, _ = hits_sql(con, q, scope, all_versions)
    return sql, node


@dataclass
class Bucket:
    key: str
    n: int
    total: int
    share: float


@dataclass
class Hit:
    article_id: str
    capture_id: str
    url: str | None
    outlet: str | None
    title: str | None
    published: datetime | None
    fetched_at: datetime | None
    snippet: str
    highlights: list[tuple[int, int]] = field(default_factory=list)
    story_id: str | None = None
    warc_filename: str | None = None
    warc_offset: int | None = None
    warc_length: int | None = None
    score: float = 0.0

    def to_dict(self) -> dict:
        from dataclasses import asdict

        d = asdict(self)
        for k in ("published", "fetched_at"):
            d[k] = d[k].isoformat() if d[k] else None
        d["highlights"] = [list(h) for h in self.highlights]
        return d


@dataclass
class SearchResult:
    total: int
    hits: list[Hit]
