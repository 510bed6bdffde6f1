"""Stories across outlets (issue 11): a real crawl of the replica fills ``stories``, a second
crawl adds members, reindex from the WARCs rebuilds the same stories; JSONL assign; diff."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from crawling import run_crawl
from test_index import cli

from newsarchive.index.schema import ensure_schema
from newsarchive.replica.stories import story_plan
from newsarchive.stories.archive import assign_pending
from newsarchive.stories.diff import word_diff
from newsarchive.stories.features import featurize
from newsarchive.stories.query import (
    get_story,
    list_stories,
    story_members,
    story_of_article,
)

replica_mod = pytest.importorskip("newsarchive.replica")
OUTLETS = [
    "mirror",
    "bolnews",
    "express",
    "apnews",
    "reuters",
    "independent",
    "guardian",
    "moscowtimes",
    "dailybeast",
]
PIPELINES = json.dumps(
    {
        "newsarchive.extract.pipeline.ExtractionPipeline": 300,
        "newsarchive.index.pipeline.IndexPipeline": 800,
    }
)


def members_by_url(db: Path) -> dict[str, tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT a.url, m.story_id, m.relation, m.similarity, o.url FROM story_members m "
            "JOIN articles a ON a.id = m.article_id "
            "JOIN articles o ON o.id = m.origin_article_id"
        ).fetchall()
    finally:
        con.close()
    return {r[0]: r[1:] for r in rows}


@pytest.fixture(scope="module")
def crawled(tmp_path_factory) -> dict:
    from newsarchive.registry import load_outlets

    tmp = tmp_path_factory.mktemp("stories")
    outlets = load_outlets()
    rep = replica_mod.Replica(
        seed=1,
        articles_per_outlet=10,
        outlets={k: outlets[k] for k in OUTLETS},
        stories=30,
    )
    rep.start()
    try:
        run_crawl(tmp, rep, OUTLETS, f"ITEM_PIPELINES={PIPELINES}")
        first = members_by_url(tmp / "archive.duckdb")
        truth = rep.story_truth()
        # the second crawl finds new copies of a story already in the archive
        origin = next(
            t for t in truth if t["relation"] == "origin" and t["url"] in first and t["story"]
        )
        added = [
            rep.publish_copy("dailybeast", origin["url"], "rewrite").url,
            rep.publish_copy("moscowtimes", origin["url"], "duplicate").url,
        ]
        run_crawl(tmp, rep, ["dailybeast", "moscowtimes"], f"ITEM_PIPELINES={PIPELINES}")
    finally:
        rep.stop()
    return {
        "dir": tmp,
        "truth": truth,
        "first": first,
        "origin": origin,
        "added": added,
        "second": members_by_url(tmp / "archive.duckdb"),
    }


def test_crawl_fills_stories_as_the_truth_says(crawled: dict) -> None:
    first, truth = crawled["first"], crawled["truth"]
    by_story: dict[str, list[dict]] = {}
    for t in truth:
        if t["story"]:
            by_story.setdefault(t["story"], []).append(t)
    multi = [m for m in by_story.values() if len(m) >= 2]
    assert len(multi) >= 5
    for members in multi:  # every true story is one predicted story, origin first
        sids = {first.get(m["url"], (None,))[0] for m in members}
        assert len(sids) == 1 and None not in sids, members
        origin = next(m for m in members if m["relation"] == "origin")
        for m in members:
            got = first[m["url"]]
            assert got[3] == origin["url"]
            assert got[1] == m["relation"], (m, got)
    # nothing else is merged: negatives and standalone articles are in no story
    story_urls = {m["url"] for ms in multi for m in ms}
    assert not (set(first) - story_urls)
    relations = {t["relation"] for t in truth}
    assert {"negative", "rewrite", "syndicated"} <= relations


def test_second_crawl_adds_members_to_the_existing_story(crawled: dict) -> None:
    first, second, origin = crawled["first"], crawled["second"], crawled["origin"]
    sid = first[origin["url"]][0]
    for url in crawled["added"]:
        assert second[url][0] == sid
        assert second[url][3] == origin["url"]
    assert second[crawled["added"][0]][1] == "rewrite"
    assert second[crawled["added"][1]][1] == "duplicate"
    con = duckdb.connect(str(crawled["dir"] / "archive.duckdb"), read_only=True)
    try:
        story = get_story(con, sid)
        members = story_members(con, sid)
        assert story.size == len(members) == sum(1 for v in second.values() if v[0] == sid)
        assert {"dailybeast", "moscowtimes"} <= set(story.outlets)
        assert members[0].relation == "origin" and members[0].url == origin["url"]
        assert story_of_article(con, members[-1].article_id) == sid
        listed = list_stories(con, min_outlets=2, outlets=("moscowtimes",))
        assert sid in [s.story_id for s in listed]
        assert all(len(s.outlets) >= 2 for s in listed)
        dup_urls = con.execute(
            "SELECT count(*) FROM (SELECT a.url FROM story_members m JOIN articles a "
            "ON a.id = m.article_id GROUP BY 1 HAVING count(*) > 1)"
        ).fetchone()[0]
    finally:
        con.close()
    assert dup_urls == 0


def test_reindex_rebuilds_the_same_stories(crawled: dict, tmp_path: Path) -> None:
    db = tmp_path / "re.duckdb"
    r = cli("reindex", str(crawled["dir"] / "warc"), "--db", str(db), "--workers", "2")
    assert r.returncode == 0, r.stderr
    assert members_by_url(db) == crawled["second"]


def test_story_verbs(crawled: dict) -> None:
    db = str(crawled["dir"] / "archive.duckdb")
    r = cli("stories", "--db", db, "--min-outlets", "2", "--json")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert rows and rows[0]["size"] >= rows[-1]["size"]
    r = cli("story", crawled["added"][0], "--db", db, "--diff")
    assert r.returncode == 0, r.stderr
    assert "rewrite" in r.stdout and "[-" in r.stdout and "{+" in r.stdout
    r = cli("story", "https://nowhere.example/x", "--db", db)
    assert r.returncode == 1 and "no story" in r.stderr and "Traceback" not in r.stderr


def _jsonl(arts) -> list[str]:
    return [
        json.dumps(
            {
                "id": a.id,
                "title": a.title,
                "text": a.text,
                "published": a.published.isoformat(),
                "outlet": a.outlet,
            }
        )
        for a in arts
    ]


def test_assign_jsonl_with_malformed_lines(tmp_path: Path) -> None:
    arts = story_plan(4, 25, datetime(2026, 3, 1, tzinfo=UTC), 5)
    lines = _jsonl(arts)
    lines.insert(3, "{broken")
    lines.insert(7, json.dumps({"id": "no-date", "text": "x"}))
    short = "A short note about the harbour board meeting on Friday."
    lines += [
        json.dumps({"id": f"short{i}", "text": short, "published": "2026-03-02"}) for i in (1, 2)
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(lines) + "\n")
    r = cli("stories", "assign", "--jsonl", str(path))
    assert r.returncode == 1  # some lines were skipped
    assert "in.jsonl:4:" in r.stderr and "in.jsonl:8:" in r.stderr
    assert "Traceback" not in r.stderr
    out = {o["id"]: o for o in map(json.loads, r.stdout.splitlines())}
    assert len(out) == len(arts) + 2
    assert out["short1"]["story_id"] is None and out["short2"]["story_id"] is None
    for a in arts:
        o = out[a.id]
        if a.relation in ("duplicate", "syndicated", "rewrite"):
            assert o["story_id"] == out[a.origin_id]["story_id"] is not None
            assert o["origin_id"] == a.origin_id and o["relation"] == a.relation
        elif a.relation in ("single", "negative"):
            assert o["story_id"] is None


def test_assignment_does_not_depend_on_batch_order(tmp_path: Path) -> None:
    arts = story_plan(9, 30, datetime(2026, 5, 1, tzinfo=UTC), 6)
    results = []
    for seed, batch in ((0, len(arts)), (1, 13)):
        con = duckdb.connect(str(tmp_path / f"o{seed}.duckdb"))
        ensure_schema(con)
        rows = list(arts)
        random.Random(seed).shuffle(rows)
        for i in range(0, len(rows), batch):
            con.executemany(
                "INSERT INTO articles (id, outlet, url, published, text, is_article) "
                "VALUES (?, ?, ?, ?, ?, true)",
                [
                    (a.id, a.outlet, f"https://{a.outlet}.example/{a.id}", a.published, a.text)
                    for a in rows[i : i + batch]
                ],
            )
            assign_pending(con)
        results.append(con.execute("SELECT * FROM story_members ORDER BY 2").fetchall())
        # another capture of a member's URL is a version, not a member
        a = arts[1]
        con.execute(
            "INSERT INTO articles (id, outlet, url, published, text, is_article) "
            "VALUES ('v2', ?, ?, ?, ?, true)",
            [a.outlet, f"https://{a.outlet}.example/{a.id}", a.published, a.text],
        )
        assign_pending(con)
        status = con.execute("SELECT status FROM story_seen WHERE article_id = 'v2'").fetchone()
        assert status == ("version",)
        assert story_of_article(con, "v2") == story_of_article(con, a.id)
        con.close()
    assert results[0] == results[1] and len(results[0]) > 20


def test_short_texts_are_not_sketched_and_diff_ops() -> None:
    assert featurize("one two three " * 10) is None
    assert featurize("word " * 60) is not None
    ops = word_diff("the council approved the plan today", "the council rejected the plan")
    assert ops == [
        ("=", "the council"),
        ("-", "approved"),
        ("+", "rejected"),
        ("=", "the plan"),
        ("-", "today"),
    ]
    assert word_diff("", "new words") == [("+", "new words")]


def test_texts_without_names_or_numbers_are_not_candidates_of_each_other() -> None:
    """Lower-case (or caseless) texts with no digits have no anchors: they must not all share
    the empty set's anchor bands (which made every pair a candidate: quadratic merges),
    while a verbatim copy among them is still found through its shingles."""
    from newsarchive.stories.detector import Detector, band_keys

    rng = random.Random(5)
    vocab = [
        f"{a}{b}"
        for a in ("ka", "to", "ri", "mu", "sen", "la")
        for b in ("por", "vi", "dan", "el", "ost", "ru", "ne")
    ]
    texts = [" ".join(rng.choice(vocab) for _ in range(120)) + "." for _ in range(300)]
    f = featurize(texts[0])
    assert f is not None and band_keys(f)[1].size == 0
    det = Detector()
    for i, text in enumerate(texts):
        det.add(f"a{i}", featurize(text), 1.7e9 + i, f"o{i % 7}")
    assert det.anchor_index.n_recent == 0 and det.anchor_index.keys.size == 0
    assert det.edges == 0
    pairs = det.add("copy", featurize(texts[42]), 1.7e9 + 1000, "o9")
    assert [(det.items[o].id, v.relation) for o, v in pairs] == [("a42", "duplicate")]


def test_real_texts_and_crude_rewrites_of_them(corpus_dir: Path) -> None:
    """Real article bodies (the shared corpus), each with a rewrite: 30% of the lower-case
    words replaced, neighbours swapped, a sentence dropped, an attribution added."""
    import re

    from newsarchive.stories.assign import assign_lines

    bodies = []
    for gold in sorted(corpus_dir.glob("*/*/gold.json")):
        for d in json.loads(gold.read_text()):
            text = "\n".join(d.get("paragraphs") or [])
            if len(text.split()) >= 120:
                bodies.append(text)
    if len(bodies) < 10:
        pytest.skip("too few corpus articles")
    rnd = random.Random(3)
    fillers = ("reportedly", "notably", "the", "big", "new", "said")
    lines = []
    for i, text in enumerate(bodies[:40]):
        sents = re.split(r"(?<=[.!?])\s+", text)
        spun = [
            " ".join(
                w
                if w[:1].isupper() or any(c.isdigit() for c in w) or rnd.random() > 0.3
                else rnd.choice(fillers)
                for w in s.split()
            )
            for s in sents
        ]
        for k in range(0, len(spun) - 1, 2):
            if rnd.random() < 0.35:
                spun[k], spun[k + 1] = spun[k + 1], spun[k]
        if len(spun) > 6:
            del spun[rnd.randrange(2, len(spun))]
        for suffix, body, day in (
            ("o", text, 1),
            ("r", "According to reports, " + " ".join(spun), 2),
        ):
            lines.append(
                json.dumps({"id": f"{i}{suffix}", "text": body, "published": f"2026-01-0{day}"})
            )
    out = {o["id"]: o for o in assign_lines(lines, lambda n, m: None)}
    n = len(lines) // 2
    found = sum(1 for i in range(n) if out[f"{i}r"]["story_id"] == out[f"{i}o"]["story_id"])
    assert found >= 0.9 * n
    stories: dict[str, set[str]] = {}
    for o in out.values():
        if o["story_id"]:
            stories.setdefault(o["story_id"], set()).add(o["id"][:-1])
    assert all(len(origins) == 1 for origins in stories.values())  # no unrelated merges


def test_cjk_texts_are_read_as_character_pairs() -> None:
    """Chinese and Japanese are written without spaces: a whole clause used to be one
    'word', so an edited copy shared no shingle with its source. Character pairs and the
    full-width sentence ends give them the same footing as spaced scripts."""
    from newsarchive.stories.detector import compare
    from newsarchive.stories.features import sentences, words

    assert words("北京大学生") == ["北京", "京大", "大学", "学生"]
    assert words("東京タワー is 333 m") == ["東京", "京タ", "タワ", "ワー", "is", "333", "m"]
    assert words("Hello world's end") == ["Hello", "world's", "end"]  # spaced scripts as before
    assert sentences("今天下雨了。明天会晴天！他说") == ["今天下雨了。", "明天会晴天！", "他说"]

    source = (
        "市政府周三宣布，新的港口大桥将在明年三月开工建设。"
        "这座大桥全长八百米，预计耗资十二亿元，建成后将连接东西两岸的工业区。"
        "负责该项目的工程师表示，施工期间渡轮服务将照常运行。"
        "当地居民对这一计划看法不一，一些人担心噪音问题，另一些人则期待交通改善。"
        "市议会将在下个月举行听证会，听取公众意见。"
    )
    other = (
        "气象部门周五发布预报，本周末北部山区将迎来今年第一场大雪。"
        "滑雪场经营者对此表示欢迎，并计划提前开放部分雪道。"
        "交通部门提醒司机注意路面结冰，山区公路可能临时封闭。"
        "专家指出，今年冬季气温整体偏低，降雪量可能高于往年平均水平。"
    )
    a = featurize(source)
    assert a is not None and len(a.sent_offsets) - 1 == 5
    copy = featurize(source.replace("市议会将在下个月举行听证会，听取公众意见。", ""))
    assert compare(a, copy).relation in ("duplicate", "syndicated")
    unrelated = featurize(other)
    assert unrelated is not None and compare(a, unrelated).relation is None


def test_real_cjk_articles_and_their_copies(corpus_dir: Path) -> None:
    """Real Chinese, Japanese and Korean bodies (the shared corpus): each is sketched, an
    edited copy (a paragraph dropped, a line added) joins its source, and no two different
    articles are joined."""
    from newsarchive.stories.assign import assign_lines

    bodies = []
    for country in ("cn", "jp", "kr"):
        for gold in sorted((corpus_dir.parent / "fundus-intl" / country).glob("*/gold.json")):
            for d in json.loads(gold.read_text()):
                paras = [p for p in d.get("paragraphs") or [] if p.strip()]
                if len(paras) >= 3:
                    bodies.append(paras)
    if len(bodies) < 5:
        pytest.skip("too few CJK articles in the corpus")
    lines = []
    for i, paras in enumerate(bodies):
        edited = ["（本社综合报道）", *paras[:-1]]
        for suffix, body, day in (("o", paras, 1), ("c", edited, 2)):
            text = "\n".join(body)
            lines.append(
                json.dumps({"id": f"{i}{suffix}", "text": text, "published": f"2026-01-0{day}"})
            )
    out = {o["id"]: o for o in assign_lines(lines, lambda n, m: None)}
    for i in range(len(bodies)):
        assert out[f"{i}o"]["story_id"] is not None, f"article {i} was not sketched"
        assert out[f"{i}c"]["story_id"] == out[f"{i}o"]["story_id"], f"copy {i} not joined"
    assert len({out[f"{i}o"]["story_id"] for i in range(len(bodies))}) == len(bodies)


def test_bulk_insert_keeps_every_value() -> None:
    """Story state is written as one text parameter per column: separators inside values,
    empty strings (NULL, as the CSV load stored them), datetimes and bytes survive."""
    from newsarchive.stories.archive import _bulk_insert

    con = duckdb.connect()
    con.execute("CREATE TABLE t (a VARCHAR, p TIMESTAMPTZ, b BLOB, x DOUBLE, o VARCHAR[])")
    cols = {"a": "VARCHAR", "p": "TIMESTAMPTZ", "b": "BLOB", "x": "DOUBLE", "o": "VARCHAR"}
    when = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
    rows = [
        ("plain", when, b"\x00\xff\x1f", 0.1 + 0.2, "bbc\x1ecnn"),
        ("", None, None, None, ""),
        ('ä, "q"\n', when, b"", 1e-300, "x"),
    ]
    _bulk_insert(con, "t", cols, rows, {"o": "string_split(o, chr(30))"})
    with_sep = [("a\x1fb", when, b"\x1f", 2.5, "y")]
    _bulk_insert(con, "t", cols, with_sep, {"o": "string_split(o, chr(30))"})
    got = con.execute("SELECT * FROM t ORDER BY rowid").fetchall()
    assert [r[0] for r in got] == ["plain", None, 'ä, "q"\n', "a\x1fb"]
    assert got[0][1] == when and got[1][1] is None
    assert got[0][2] == b"\x00\xff\x1f" and got[1][2] is None and got[3][2] == b"\x1f"
    assert got[0][3] == 0.1 + 0.2 and got[2][3] == 1e-300
    assert got[0][4] == ["bbc", "cnn"] and got[1][4] is None
    _bulk_insert(con, "t", cols, [])  # nothing to insert
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 4
