"""The library API the CLI verbs and the web app call: search, count, top words and outlets,
sample. Every function takes a connection to the archive (read-only is fine)."""

from __future__ import annotations

import re
from collections import Counter

import duckdb

from newsarchive.query.analysis import PY_CJK, PY_WORD, stopwords
from newsarchive.query.engine import (
    Bucket,
    Hit,
    QueryError,
    Scope,
    SearchResult,
    facts,
    hits_sql,
    matches_sql,
    scope_sql,
)
from newsarchive.query.parser import MatchAll, Phrase, Term, positive_terms

SNIPPET_MAX = 300
BY = ("day", "week", "month", "outlet", "lang", "country")


def search(
    con: duckdb.DuckDBPyConnection,
    q: str,
    scope: Scope = Scope(),  # noqa: B008 - frozen dataclass
    *,
    sort: str = "relevance",
    limit: int = 20,
    offset: int = 0,
    all_versions: bool = False,
    collapse: str | None = None,
) -> SearchResult:
    """Ranked hits (BM25, title boost) for ``q``; one per article (its latest version) unless
    ``all_versions``; ``collapse="story"`` keeps the best hit of each story."""
    if sort not in ("relevance", "date"):
        raise QueryError("--sort is relevance or date")
    if limit < 1 or offset < 0:
        raise QueryError("--limit must be at least 1 and --offset not negative")
    if collapse not in (None, "story"):
        raise QueryError("--collapse takes: story")
    sql, node, f = hits_sql(
        con, q, scope, all_versions, columns="m.docid, m.score, d.article_id, d.ts"
    )
    if collapse == "story":
        if not f.stories:
            raise QueryError(
                "--collapse story needs stories, which are not built in this archive yet "
                "(no story_members table)"
            )
        sql = (
            f"SELECT h.* FROM ({sql}) h "
            "LEFT JOIN story_members s ON s.article_id = h.article_id "
            "QUALIFY row_number() OVER (PARTITION BY coalesce(s.story_id, h.article_id) "
            "ORDER BY h.score DESC, h.ts DESC) = 1"
        )
    order = "score DESC, ts DESC" if sort == "relevance" else "ts DESC NULLS LAST, score DESC"
    if f.stories:
        story_join = "(SELECT min(s.story_id) FROM story_members s WHERE s.article_id = a.id)"
    else:
        story_join = "NULL"
    # One statement: the total rides along on every row of the page (a window over all hits).
    rows = con.execute(
        f"""
        WITH top AS (
            SELECT h.docid, h.score, h.article_id, h.ts, count(*) OVER () AS total
            FROM ({sql}) h ORDER BY {order}, h.docid LIMIT {int(limit)} OFFSET {int(offset)})
        SELECT a.id, a.capture_id, a.url, a.outlet, a.title, a.published, c.fetched_at,
               a.text, top.score, c.warc_filename, c.warc_offset, c.warc_length, {story_join},
               top.total
        FROM top JOIN articles a ON a.id = top.article_id
        LEFT JOIN captures c ON c.id = a.capture_id
        ORDER BY {order.replace("score", "top.score").replace("ts ", "top.ts ")}, top.docid
        """
    ).fetchall()
    if rows:
        total = rows[0][13]
    else:  # an empty page: either no hits or past the last one
        total = 0 if offset == 0 else con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]
    stems, prefixes, langs = _highlight_words(con, node, f.langs)
    words = (stems, prefixes)
    hits = []
    for r in rows:
        snip, marks = snippet(r[7] or r[4] or "", words, langs)
        hits.append(
            Hit(
                article_id=r[0], capture_id=r[1], url=r[2], outlet=r[3], title=r[4],
                published=r[5], fetched_at=r[6], snippet=snip, highlights=marks,
                story_id=r[12], warc_filename=r[9], warc_offset=r[10], warc_length=r[11],
                score=float(r[8] or 0.0),
            )
        )  # fmt: skip
    return SearchResult(total, hits)


def _highlight_words(
    con: duckdb.DuckDBPyConnection, node, langs: list[str] | None = None
) -> tuple[set[str], list[str], tuple[str, ...]]:
    """(stems of the query's positive words, prefixes, languages) for snippet marking."""
    from newsarchive.query.analysis import stem

    if langs is None:
        langs = facts(con).langs
    stems: set[str] = set()
    prefixes: list[str] = []
    for t in positive_terms(node):
        toks = PY_WORD.findall(t.text.lower())
        if isinstance(t, Term) and t.prefix:
            prefixes.append(t.text.lower())
            continue
        for tok in toks:
            stems.add(tok)
            for lang in langs:
                stems.add(stem(lang, tok))
        if isinstance(t, Phrase):
            stems.update(toks)
    return stems, prefixes, tuple(langs)


def _token_spans(text: str) -> list[tuple[int, int, str]]:
    if not PY_CJK.search(text):  # the common case: no per-token script test
        return [(m.start(), m.end(), m.group(0).lower()) for m in PY_WORD.finditer(text)]
    out = []
    for m in PY_WORD.finditer(text):
        w = m.group(0)
        if PY_CJK.search(w):
            for i, ch in enumerate(w):
                out.append((m.start() + i, m.start() + i + 1, ch))
        else:
            out.append((m.start(), m.end(), w.lower()))
    return out


def snippet(
    text: str, words: tuple[set[str], list[str]], langs: tuple[str, ...] = ("en",)
) -> tuple[str, list[tuple[int, int]]]:
    """At most SNIPPET_MAX characters around the densest run of query words, and the
    (start, end) offsets of the matched words inside the snippet."""
    from newsarchive.query.analysis import stem

    stems, prefixes = words
    text = " ".join(text.split())
    head = text[:50000]
    spans = _token_spans(head)
    cjk_q = {w for w in stems if PY_CJK.search(w)}
    firsts = {w[:3] for w in stems}  # stem only words that could match
    pre = tuple(prefixes)
    cjk = PY_CJK.search(head) is not None
    hits = []
    for s, e, w in spans:
        if cjk and PY_CJK.search(w):
            if any(w in q for q in cjk_q):
                hits.append((s, e))
        elif (
            w in stems
            or (pre and w.startswith(pre))
            or (w[:3] in firsts and any(stem(lang, w) in stems for lang in langs))
        ):
            hits.append((s, e))
    if not hits:
        cut = text[:SNIPPET_MAX]
        if len(text) > SNIPPET_MAX:
            cut = cut[: SNIPPET_MAX - 1].rsplit(" ", 1)[0] + "…"
        return cut, []
    # the window of SNIPPET_MAX chars holding the most hits
    best, best_n, j = 0, 0, 0
    for i, (s, _e) in enumerate(hits):
        while j < len(hits) and hits[j][1] <= s + SNIPPET_MAX - 40:
            j += 1
        if j - i > best_n:
            best, best_n = i, j - i
    start = max(0, hits[best][0] - 40)
    if start > 0:
        sp = text.rfind(" ", 0, start)
        start = sp + 1 if sp >= 0 and start - sp < 30 else start
    lead = "…" if start > 0 else ""
    room = SNIPPET_MAX - len(lead) - 1
    end = min(len(text), start + room)
    if end < len(text):
        sp = text.rfind(" ", start, end)
        if sp > start + room // 2:
            end = sp
    tail = "…" if end < len(text) else ""
    body = lead + text[start:end] + tail
    off = len(lead) - start
    marks = [(s + off, e + off) for s, e in hits if s >= start and e <= end]
    return body, marks


def count(
    con: duckdb.DuckDBPyConnection,
    q: str,
    scope: Scope = Scope(),  # noqa: B008
    by: str = "day",
    normalize: bool = False,
) -> list[Bucket]:
    """Matching articles per bucket; ``total`` is every article of the scope in that bucket
    (so the same outlets), ``share`` = n / total. Latest versions only."""
    if by not in BY:
        raise QueryError(f"--by is one of {', '.join(BY)}")
    key = _bucket_key(con, by)
    sql, node, _ = hits_sql(con, q, scope, columns=f"m.docid, {key} AS k")
    # every article matches '*': its counts are the totals, no second pass
    hit = "allb" if isinstance(node, MatchAll) else "m"
    agg = "total" if hit == "allb" else "count(*)"
    rows = con.execute(
        f"""
        WITH m AS ({sql}),
        allb AS (SELECT {key} AS k, count(*) AS total FROM qi_docs d
                 WHERE d.latest AND {scope_sql(scope)} GROUP BY 1),
        hit AS (SELECT k, {agg} AS n FROM {hit} GROUP BY ALL)
        SELECT allb.k, coalesce(hit.n, 0), allb.total FROM allb LEFT JOIN hit ON hit.k IS NOT DISTINCT FROM allb.k
        WHERE {"true" if normalize else "hit.n > 0"}
        ORDER BY {"allb.k" if by in ("day", "week", "month") else "2 DESC, 1"}
        """
    ).fetchall()
    return [
        Bucket(str(k) if k is not None else "(none)", n, t, (n / t) if t else 0.0)
        for k, n, t in rows
    ]


def _bucket_key(con: duckdb.DuckDBPyConnection, by: str) -> str:
    if by == "day":
        return "strftime(d.ts AT TIME ZONE 'UTC', '%Y-%m-%d')"
    if by == "week":
        return "strftime(date_trunc('week', d.ts AT TIME ZONE 'UTC'), '%G-W%V')"
    if by == "month":
        return "strftime(d.ts AT TIME ZONE 'UTC', '%Y-%m')"
    if by == "outlet":
        return "coalesce(d.outlet, '(none)')"
    if by == "lang":
        return "coalesce(nullif(d.lang, ''), '(none)')"
    from newsarchive.registry import load_outlets

    pairs = ", ".join(f"({_l(k)}, {_l(o.country)})" for k, o in load_outlets().items())
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE qi_country AS SELECT * FROM (VALUES {pairs}) t(outlet, country)"
    )
    return "coalesce((SELECT country FROM qi_country c WHERE c.outlet = d.outlet), '(unknown)')"


def _l(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def top_outlets(
    con: duckdb.DuckDBPyConnection,
    q: str,
    scope: Scope = Scope(),  # noqa: B008
    n: int = 20,
) -> list[Bucket]:
    """Outlets with the most matching articles (share: of that outlet's articles in scope)."""
    return count(con, q, scope, by="outlet")[:n]


def top_words(
    con: duckdb.DuckDBPyConnection,
    q: str,
    scope: Scope = Scope(),  # noqa: B008
    n: int = 50,
    docs: int = 2000,
) -> list[tuple[str, int]]:
    """Most frequent words (stopwords of each article's language removed, query words too)
    in the ``docs`` best-ranked matches: (word, count)."""
    sql, node = matches_sql(con, q, scope)
    rows = con.execute(
        f"SELECT a.title, a.text, d.lang FROM ({sql}) m JOIN qi_docs d ON d.docid = m.docid "
        f"JOIN articles a ON a.id = d.article_id ORDER BY m.score DESC, m.docid LIMIT {int(docs)}"
    ).fetchall()
    qwords = {w for t in positive_terms(node) for w in PY_WORD.findall(t.text.lower())}
    c: Counter[str] = Counter()
    for title, text, lang in rows:
        stop = stopwords(lang)
        for w in PY_WORD.findall(f"{title or ''} {text or ''}".lower()):
            if len(w) > 1 and w not in stop and w not in qwords and not w.isdigit():
                c[w] += 1
    return c.most_common(n)


def sample(
    con: duckdb.DuckDBPyConnection,
    q: str,
    scope: Scope = Scope(),  # noqa: B008
    n: int = 20,
    seed: int = 0,
) -> list[dict]:
    """``n`` matching articles drawn uniformly by a seeded hash: the same seed and archive
    give the same sample, and adding articles keeps earlier picks unless outranked."""
    sql, _ = matches_sql(con, q, scope)
    rows = con.execute(
        f"""SELECT a.id, a.outlet, a.published, a.url, a.title FROM ({sql}) m
        JOIN qi_docs d ON d.docid = m.docid JOIN articles a ON a.id = d.article_id
        ORDER BY hash(a.id || ?), a.id LIMIT ?""",
        [f"#{int(seed)}", int(n)],
    ).fetchall()
    return [
        dict(zip(("article_id", "outlet", "published", "url", "title"), r, strict=True))
        for r in rows
    ]


_ = re
