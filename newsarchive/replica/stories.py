"""Synthetic stories that cross outlets, with ground truth (issue 11).

A *story plan* is a list of :class:`StoryArticle`: wire stories carried by several outlets,
each with its own intro and tail; verbatim republications; spun rewrites of mirror, express
and dailystar stories by bolnews and other aggregators (synonyms swapped, sentences reordered,
merged and split, quotes reworded, an attribution line, a new headline); plain one-outlet
stories; and hard negatives: different events in the same place, with the same people and
topic, on the same day. All sentences are written here from templates; the vocabulary is
small on purpose, so plain word overlap would merge unrelated stories.

The plan is a pure function of ``(seed, n_stories, start)``: the replica serves it to the
crawler (small, in the demo and tests) and ``bench/stories.py`` uses it directly (thousands).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from newsarchive.replica.text import FIRST, LAST, OBJECTS, PLACES, SUBJECTS

SOURCES = ("mirror", "express", "dailystar")
AGGREGATORS = ("bolnews", "dailybeast", "firstpost", "ninenews", "metro")
WIRE_CARRIERS = (
    "apnews",
    "reuters",
    "independent",
    "standard",
    "inews",
    "nationalpost",
    "cbc",
    "euronews",
    "latimes",
    "foxnews",
)
REPUBLISHERS = ("moscowtimes", "businessinsider", "cnbc", "techcrunch", "politicoeu", "thesun")
SINGLE = ("guardian", "telegraph", "bbc", "washingtonpost", "dailymail", "nypost")
SOURCE_NAMES = {"mirror": "the Mirror", "express": "the Express", "dailystar": "the Daily Star"}

# Facts of an event. Slots: {a} {b} {c} people, {place}, {org}, {topic}, {n} a count,
# {money}, {pct}, {day}, {hours}, {year}.
FACTS = (
    "{org} officials in {place} warned on {weekday} that the {topic} would cost {money} more "
    "than first planned.",
    "The overrun was blamed on a shortage of engineers and a {pct} per cent rise in the price "
    "of steel.",
    "{a}, who chairs the local finance committee, said the figures had been kept from "
    "councillors for {n} days.",
    "Residents of {place} had been promised that work on the {topic} would finish by "
    "{month} {day}.",
    "An internal report seen by inspectors found {n} separate faults in the original design.",
    "The report also said contractors had been paid {money} before any work was checked.",
    "{b} said the people of {place} deserved a full account of where the money had gone.",
    "Engineers were ordered to stop work at the site for {hours} hours while the damage was "
    "assessed.",
    "Opposition members called for an emergency meeting, and {c} said the vote would take "
    "place within a fortnight.",
    "The {org} said in a statement that safety had never been at risk.",
    "About {n} households near the site were told to expect disruption until {month}.",
    "Similar problems delayed a project in the neighbouring district in {year}, when costs "
    "rose by {pct} per cent.",
    "Police said {n} protesters gathered outside the offices of the {org} on {weekday} "
    "evening, and the crowd left peacefully after {hours} hours.",
    "The minister responsible declined to comment, but aides said a review would start in {month}.",
    "{a} later admitted that early warnings about the budget had been ignored.",
    "Documents show that the contract was signed in {year} without a public tender.",
    "Local traders said they had lost {money} in business since the road closures began.",
    "The {org} has now hired {n} extra staff to speed up repairs, officials said.",
    "Independent experts estimate the final bill could reach {money}.",
    "A spokeswoman for {b} confirmed that a complaint had been lodged with the regulator.",
    "The regulator will publish its findings within {hours} days, according to a letter sent "
    "to campaigners.",
    "Shares in the main contractor fell {pct} per cent after the news, and trading was briefly "
    "halted.",
    "Campaigners in {place} plan a march on {month} {day} to demand a public inquiry.",
    "{c} said the {topic} had become a symbol of everything that was wrong with the {org}.",
)
QUOTE_A = (
    "We were told again and again that everything was under control",
    "Nobody in this town has been given a straight answer",
    "This is public money and every penny has to be accounted for",
    "The warnings were there for anyone who cared to read them",
    "Families who live next to the site are frightened",
    "I have never seen a project handled this badly",
    "We will not sign anything until the full costs are published",
    "The workers on the ground did their best with what they had",
)
QUOTE_B = (
    "and now we find out the truth from a leaked report",
    "and that has to change before another shovel goes in the ground",
    "but the people at the top kept quiet",
    "and they deserve to know who made these decisions",
    "yet the board carried on as if nothing had happened",
    "so we are asking for an independent investigation",
    "and I expect the minister to explain himself",
    "because trust, once lost, is very hard to win back",
)
SAY = ("said", "told reporters", "said on {weekday}", "added")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "March", "April", "June", "July", "September", "October", "November")
HEADLINES = (
    "{topic} in {place} to cost {money} more than planned",
    "{place} {topic} hit by {money} overrun",
    "Anger in {place} as {topic} costs soar",
    "{a} demands answers over {place} {topic}",
)
SPUN_HEADLINES = (
    "Huge bill revealed for troubled {place} {topic}",
    "{place} project scandal: what went wrong with the {topic}",
    "Fury grows over spiralling cost of {topic}",
    "Officials face questions as {place} {topic} budget balloons",
)
# Spinning: word -> replacements (applied to whole words, case kept on the first letter).
SYNONYMS = {
    "warned": ("cautioned", "alerted"),
    "officials": ("authorities", "representatives"),
    "cost": ("set back", "require"),
    "planned": ("expected", "intended"),
    "blamed": ("attributed",),
    "shortage": ("lack", "scarcity"),
    "rise": ("jump", "increase"),
    "price": ("cost",),
    "figures": ("numbers", "statistics"),
    "kept": ("hidden", "withheld"),
    "promised": ("assured", "told"),
    "finish": ("end", "be completed"),
    "separate": ("distinct", "individual"),
    "faults": ("flaws", "defects"),
    "original": ("initial", "first"),
    "paid": ("given",),
    "deserved": ("merited", "were owed"),
    "full": ("complete", "thorough"),
    "ordered": ("told", "instructed"),
    "stop": ("halt", "pause"),
    "damage": ("harm",),
    "assessed": ("examined", "evaluated"),
    "called": ("pushed", "pressed"),
    "emergency": ("urgent",),
    "statement": ("release",),
    "never": ("not once",),
    "households": ("homes", "families"),
    "expect": ("anticipate", "brace for"),
    "disruption": ("upheaval", "delays"),
    "delayed": ("held up", "stalled"),
    "neighbouring": ("nearby", "adjacent"),
    "gathered": ("assembled", "rallied"),
    "peacefully": ("calmly", "without incident"),
    "declined": ("refused",),
    "review": ("probe", "inquiry"),
    "admitted": ("conceded", "acknowledged"),
    "ignored": ("disregarded", "overlooked"),
    "signed": ("agreed",),
    "lost": ("forfeited", "missed out on"),
    "hired": ("recruited", "taken on"),
    "extra": ("additional", "more"),
    "speed": ("hurry", "accelerate"),
    "estimate": ("reckon", "believe"),
    "final": ("eventual", "ultimate"),
    "confirmed": ("verified",),
    "publish": ("release", "issue"),
    "findings": ("conclusions", "results"),
    "fell": ("dropped", "slid"),
    "briefly": ("temporarily",),
    "demand": ("call for",),
    "symbol": ("emblem", "sign"),
    "told": ("informed",),
    "frightened": ("scared", "afraid"),
    "answer": ("reply",),
    "workers": ("staff", "labourers"),
    "truth": ("facts",),
    "investigation": ("inquiry",),
    "decisions": ("choices", "calls"),
    "quiet": ("silent",),
}
ATTRIBUTIONS = (
    "According to {src}, {s}",
    "{s_strip}, {src} reported.",
    "As first reported by {src}, {s}",
)
INTROS = (
    "Here is what we know so far about the row over the {topic} in {place}.",
    "The dispute over money in {place} took another turn this week.",
    "Our correspondent looks at the growing anger over a local building project.",
)
DESKS = (
    "{who} has been following the dispute from our regional office.",
    "{who} reports from {place}, where the mood has changed quickly.",
    "Our community editor {who} spoke to people living near the works.",
    "Readers have been writing to {who} about the disruption for weeks.",
)
TAILS = (
    "Have you been affected by the works? Contact our newsroom.",
    "Our coverage of local councils is supported by readers like you.",
    "Additional reporting by our regional desk.",
    "This article was amended to add further detail.",
    "Sign up to our morning briefing for more stories like this one.",
)


@dataclass
class StoryArticle:
    """One planned article and its ground truth."""

    id: str
    outlet: str
    title: str
    text: str
    published: datetime
    story: str | None  # ground-truth story key; None for a standalone article
    relation: str  # origin | duplicate | syndicated | rewrite | single | negative
    origin_id: str | None
    negative_of: str | None = None  # hard negatives: the story they imitate


@dataclass
class _Event:
    slots: dict[str, str]
    facts: list[int]
    quotes: list[tuple[int, int, int]]  # (quote_a, quote_b, speaker)


def _person(rnd: random.Random) -> str:
    return f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"


def _event(rnd: random.Random, base: dict[str, str] | None = None) -> _Event:
    slots = {
        "a": _person(rnd),
        "b": _person(rnd),
        "c": _person(rnd),
        "place": rnd.choice(PLACES),
        "org": rnd.choice(SUBJECTS).lower(),
        "topic": rnd.choice(OBJECTS),
    }
    if base:  # a hard negative: same place, people and topic
        slots.update({k: base[k] for k in ("a", "b", "place", "org", "topic")})
    slots.update(
        n=str(rnd.randint(13, 4999)),
        money=f"£{rnd.randint(2, 950)}m",
        pct=str(rnd.randint(3, 97)),
        day=str(rnd.randint(1, 28)),
        hours=str(rnd.randint(5, 96)),
        year=str(rnd.randint(1995, 2021)),
        weekday=rnd.choice(WEEKDAYS),
        month=rnd.choice(MONTHS),
    )
    facts = rnd.sample(range(len(FACTS)), rnd.randint(9, 13))
    quotes = [
        (rnd.randrange(len(QUOTE_A)), rnd.randrange(len(QUOTE_B)), rnd.randrange(3))
        for _ in range(rnd.randint(2, 3))
    ]
    return _Event(slots, facts, quotes)


def _fill(template: str, slots: dict[str, str]) -> str:
    s = template.format(**slots)
    return s[0].upper() + s[1:]


def _sentences(ev: _Event, rnd: random.Random) -> list[str]:
    out = [_fill(FACTS[i], ev.slots) for i in ev.facts]
    speakers = (ev.slots["a"], ev.slots["b"], ev.slots["c"])
    for k, (qa, qb, who) in enumerate(ev.quotes):
        say = SAY[(qa + qb) % len(SAY)].format(**ev.slots)
        quote = f"“{QUOTE_A[qa]}, {QUOTE_B[qb]},” {speakers[who]} {say}."
        out.insert(min(len(out), 2 + 3 * k), quote)
    return out


def _paragraphs(sents: list[str], rnd: random.Random) -> str:
    paras, cur = [], []
    for s in sents:
        cur.append(s)
        if len(cur) >= rnd.randint(1, 3):
            paras.append(" ".join(cur))
            cur = []
    if cur:
        paras.append(" ".join(cur))
    return "\n".join(paras)


def _swap(word: str, rnd: random.Random, rate: float) -> str:
    alts = SYNONYMS.get(word.lower())
    if not alts or rnd.random() > rate:
        return word
    new = rnd.choice(alts)
    return new[0].upper() + new[1:] if word[0].isupper() else new


def spin(sents: list[str], rnd: random.Random, source: str) -> list[str]:
    """A spun rewrite: synonyms, reworded quotes, reordered/merged/split sentences, an
    attribution line, and a dropped sentence now and then."""
    out = []
    for s in sents:
        rate = 0.8
        if s.startswith("“"):  # quotes: reword part and cut the second half sometimes
            rate = 0.5
            if rnd.random() < 0.4:
                s = re.sub(r",\s+(and|but|yet|so|because)\s[^”]*”", ",”", s)
        out.append(re.sub(r"[A-Za-z]+", lambda m, r=rate: _swap(m.group(0), rnd, r), s))
    if len(out) > 8 and rnd.random() < 0.5:
        del out[rnd.randrange(3, len(out))]
    for i in range(0, len(out) - 1, 2):  # reorder neighbours
        if rnd.random() < 0.35:
            out[i], out[i + 1] = out[i + 1], out[i]
    merged: list[str] = []
    i = 0
    while i < len(out):  # merge some pairs, split at ", and" elsewhere
        s = out[i]
        if i + 1 < len(out) and rnd.random() < 0.2 and not out[i + 1].startswith("“"):
            nxt = out[i + 1]
            s = s.rstrip(".") + ", while " + nxt[0].lower() + nxt[1:]
            i += 1
        elif ", and " in s and rnd.random() < 0.6:
            head, tail = s.split(", and ", 1)
            merged.append(head + ".")
            s = tail[0].upper() + tail[1:]
        merged.append(s)
        i += 1
    src = SOURCE_NAMES.get(source, "reports")
    k = min(len(merged) - 1, 1 + rnd.randrange(2))
    form = rnd.choice(ATTRIBUTIONS)
    s = merged[k]
    merged[k] = form.format(src=src, s=s[0].lower() + s[1:], s_strip=s.rstrip("."))
    return merged


def _title(pool: tuple[str, ...], ev: _Event, rnd: random.Random) -> str:
    return _fill(rnd.choice(pool), ev.slots)


def story_plan(
    seed: int, n_stories: int, start: datetime, span_days: float = 30.0
) -> list[StoryArticle]:
    """Articles of ``n_stories`` planned stories (about 4.5 articles each, negatives included),
    published between ``start`` and ``start + span_days``."""
    arts: list[StoryArticle] = []
    kinds = ("wire", "verbatim", "spin", "spin", "single")
    for k in range(n_stories):
        kind = kinds[k % len(kinds)]
        r = random.Random(f"stories:{seed}:{k}")
        ev = _event(r)
        t0 = start + timedelta(minutes=r.randint(0, int(span_days * 1440)))
        key = f"st{seed}-{k:05d}"
        sents = _sentences(ev, r)
        body = _paragraphs(sents, r)
        aid = f"{key}-0"
        if kind == "wire":
            carriers = r.sample(WIRE_CARRIERS, r.randint(3, 5))
            times = sorted(t0 + timedelta(minutes=r.randint(0, 720)) for _ in carriers)
            wire_title = _title(HEADLINES, ev, r)
            for i, (outlet, t) in enumerate(zip(carriers, times, strict=True)):
                cut = sents[: len(sents) - r.randint(0, 2)]
                intro = " ".join(
                    [
                        _fill(r.choice(INTROS), ev.slots),
                        r.choice(DESKS).format(who=_person(r), place=ev.slots["place"]),
                    ]
                )
                tail = " ".join(r.sample(TAILS, 2))
                text = "\n".join([intro, _paragraphs(cut, r), tail])
                rel = "origin" if i == 0 else "syndicated"
                arts.append(
                    StoryArticle(
                        f"{key}-{i}",
                        outlet,
                        wire_title if r.random() < 0.5 else _title(HEADLINES, ev, r),
                        text,
                        t + timedelta(seconds=i),
                        key,
                        rel,
                        aid,
                    )
                )
        else:
            origin_outlet = r.choice(SOURCES if kind == "spin" else SINGLE)
            arts.append(
                StoryArticle(
                    aid,
                    origin_outlet,
                    _title(HEADLINES, ev, r),
                    body,
                    t0,
                    key if kind != "single" else None,
                    "origin" if kind != "single" else "single",
                    aid if kind != "single" else None,
                )
            )
            if kind == "verbatim":
                for i, outlet in enumerate(r.sample(REPUBLISHERS, r.randint(1, 3)), 1):
                    arts.append(
                        StoryArticle(
                            f"{key}-{i}",
                            outlet,
                            arts[-i].title if r.random() < 0.5 else _title(HEADLINES, ev, r),
                            body,
                            t0 + timedelta(minutes=r.randint(30, 2880)),
                            key,
                            "duplicate",
                            aid,
                        )
                    )
            elif kind == "spin":
                outlets = ["bolnews"] + r.sample(AGGREGATORS[1:], r.randint(1, 3))
                for i, outlet in enumerate(outlets, 1):
                    spun = spin(sents, r, origin_outlet)
                    arts.append(
                        StoryArticle(
                            f"{key}-{i}",
                            outlet,
                            _title(SPUN_HEADLINES, ev, r),
                            _paragraphs(spun, r),
                            t0 + timedelta(minutes=r.randint(20, 4320)),
                            key,
                            "rewrite",
                            aid,
                        )
                    )
        if kind != "single" and r.random() < 0.7:
            # Hard negative: another event, same place, people, topic and day.
            neg = _event(r, ev.slots)
            arts.append(
                StoryArticle(
                    f"{key}-n",
                    r.choice(SINGLE + SOURCES),
                    _title(HEADLINES, neg, r),
                    _paragraphs(_sentences(neg, r), r),
                    t0 + timedelta(minutes=r.randint(-600, 600)),
                    None,
                    "negative",
                    None,
                    negative_of=key,
                )
            )
    return arts


def place_stories(sites: dict, seed: int, n_stories: int) -> dict[tuple[str, int], StoryArticle]:
    """Put a story plan onto the replica's article slots: each planned article takes a slot of
    its outlet, copies a slot published after their origin's (within 3 days), hard negatives
    one within a day of it. Members whose outlet is absent or has no fitting slot are left
    out. Returns (outlet, number) -> the article to serve there, ``published`` set to the
    slot's time and ``origin_id`` set to the origin's (outlet, number) key."""
    if n_stories <= 0:
        return {}
    plan = story_plan(seed, n_stories, datetime(2000, 1, 1))
    groups: dict[str, list[StoryArticle]] = {}
    for a in plan:
        key = a.story or a.negative_of or a.id
        groups.setdefault(key, []).append(a)
    used: set[tuple[str, int]] = set()
    placed: dict[tuple[str, int], StoryArticle] = {}

    def free(outlet: str, lo: datetime, hi: datetime) -> int | None:
        site = sites[outlet]
        for num in range(site.count):
            if (outlet, num) not in used and lo < site.published(num) <= hi:
                return num
        return None

    for key in sorted(groups):
        members = groups[key]
        origin = next((m for m in members if m.relation in ("origin", "single")), None)
        if origin is None or origin.outlet not in sites:
            continue
        osite = sites[origin.outlet]
        onum = next(
            (
                n
                for n in range(osite.count - osite._half, osite.count)
                if (origin.outlet, n) not in used
            ),
            None,
        )
        if onum is None:
            continue
        t0 = osite.published(onum)
        used.add((origin.outlet, onum))
        origin_key = f"{origin.outlet}:{onum}"
        placed[(origin.outlet, onum)] = _at(origin, t0, origin_key if origin.story else None)
        for m in members:
            if m is origin or m.outlet not in sites:
                continue
            if m.relation == "negative":
                lo, hi = t0 - timedelta(days=1), t0 + timedelta(days=1)
            else:
                lo, hi = t0, t0 + timedelta(days=3)
            num = free(m.outlet, lo, hi)
            if num is None:
                continue
            used.add((m.outlet, num))
            placed[(m.outlet, num)] = _at(
                m, sites[m.outlet].published(num), origin_key if m.story else None
            )
    return placed


def _at(a: StoryArticle, when: datetime, origin_key: str | None) -> StoryArticle:
    return StoryArticle(
        a.id, a.outlet, a.title, a.text, when, a.story, a.relation, origin_key, a.negative_of
    )


def copy_of(a: StoryArticle, relation: str, seed: int, outlet: str) -> StoryArticle:
    """A new duplicate or rewrite of a served story article (for a later crawl)."""
    if relation == "duplicate":
        text = a.text
    else:
        rnd = random.Random(f"copy:{seed}:{a.id}:{outlet}")
        sents = [s for p in a.text.split("\n") for s in re.split(r"(?<=[.”])\s+(?=[“A-Z])", p)]
        text = _paragraphs(spin(sents, rnd, a.outlet), rnd)
    return StoryArticle(
        f"{a.id}-{outlet}",
        outlet,
        a.title + " (update)",
        text,
        a.published,
        a.story,
        relation,
        a.origin_id,
    )
