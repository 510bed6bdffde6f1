"""Synthetic news text: titles, paragraphs, captions, names, all from the seed number.

Everything here is written for the replica (own vocabulary and sentence templates), so the
replica never republishes anyone's text. Titles are unique within an outlet by
construction: the article number is mapped bijectively onto a tuple of word choices.
"""

from __future__ import annotations

import random
import re

FIRST = (
    "Amara",
    "Bram",
    "Celia",
    "Dario",
    "Elin",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kaia",
    "Luca",
    "Mira",
    "Nils",
    "Odile",
    "Pavel",
    "Quinn",
    "Rosa",
    "Soren",
    "Talia",
    "Umar",
    "Vera",
    "Wren",
    "Ximena",
    "Yusuf",
    "Zora",
)
LAST = (
    "Ashdown",
    "Brightwell",
    "Calloway",
    "Dunmore",
    "Eskridge",
    "Fairlie",
    "Garrow",
    "Hollins",
    "Ivers",
    "Jessop",
    "Kilbride",
    "Lorimer",
    "Marchetti",
    "Nakamura",
    "Okonkwo",
    "Pemberton",
    "Quarles",
    "Rasmussen",
    "Sandoval",
    "Thistlewood",
    "Underhill",
    "Varga",
    "Whitlock",
    "Yardley",
    "Zeller",
)
AGENCIES = (
    "Staff photographer",
    "Pool photo",
    "Wire photo",
    "Handout",
    "Agency pool",
    "Press office",
    "Courtesy photo",
)
SUBJECTS = (
    "City council",
    "Harbour authority",
    "Transport ministry",
    "Regional water board",
    "Teachers' union",
    "Coastal guard",
    "Energy regulator",
    "Rail operator",
    "Hospital trust",
    "Farmers' cooperative",
    "Election commission",
    "Housing agency",
    "Space agency",
    "Fisheries office",
    "Tax office",
    "Weather service",
    "Border police",
    "Museum board",
    "Airport operator",
    "Steel workers",
    "Bus drivers",
    "Nurses' union",
    "Tenants' group",
    "Football league",
    "Chamber of commerce",
    "Student council",
    "Forest service",
    "Port workers",
    "Central bank",
    "Fire brigade",
    "Library trust",
    "Postal service",
)
VERBS = (
    "approves",
    "rejects",
    "delays",
    "unveils",
    "questions",
    "backs",
    "halts",
    "expands",
    "reviews",
    "funds",
    "defends",
    "scraps",
    "doubles",
    "tests",
    "pauses",
    "revives",
    "audits",
    "opens",
    "trims",
    "extends",
)
OBJECTS = (
    "new bridge plan",
    "night bus routes",
    "flood barrier",
    "pay offer",
    "solar farm",
    "school meal scheme",
    "river clean-up",
    "data centre",
    "tram extension",
    "rent cap",
    "harbour dredging",
    "wind turbines",
    "hospital wing",
    "cycle lanes",
    "ferry contract",
    "water meters",
    "rooftop gardens",
    "airport curfew",
    "heat pump grants",
    "border checks",
    "market hall",
    "satellite launch",
    "reading programme",
    "ticket prices",
    "storm shelters",
    "library hours",
    "canal restoration",
    "fishing quotas",
    "stadium lease",
    "emergency fund",
    "bridge tolls",
    "museum extension",
    "forest reserve",
    "train timetable",
    "waste plant",
    "tax rebate",
)
PLACES = (
    "Northbridge",
    "Eastmere",
    "Westholt",
    "Southwick",
    "Ravenford",
    "Glenmoor",
    "Ashby Vale",
    "Corrin Bay",
    "Dellsport",
    "Elmstead",
    "Farrowdale",
    "Greyhaven",
    "Hollow Ridge",
    "Kestrel Point",
    "Lindgate",
    "Marrowby",
    "Newcastle Row",
    "Oakhurst",
    "Pinecliff",
    "Queensmoor",
    "Redwater",
    "Stonebridge",
    "Thornbury",
    "Upper Linton",
    "Valeport",
    "Willowmere",
    "Yarrow Cross",
)
TEMPLATES = (
    "{s} {v} {o} in {p}",
    "{p}: {s} {v} {o}",
    "{s} {v} {o} after {p} row",
    "Why {s} {v} {o} in {p}",
)
NOUNS = (
    "residents",
    "officials",
    "engineers",
    "commuters",
    "shop owners",
    "parents",
    "analysts",
    "volunteers",
    "councillors",
    "inspectors",
    "campaigners",
    "economists",
)
ADJ = (
    "early",
    "detailed",
    "revised",
    "costly",
    "temporary",
    "ambitious",
    "modest",
    "long-awaited",
    "contested",
    "cautious",
    "unexpected",
    "final",
)
THINGS = (
    "budget",
    "timetable",
    "survey",
    "proposal",
    "report",
    "consultation",
    "contract",
    "forecast",
    "inspection",
    "agreement",
    "pilot scheme",
    "review",
)
TIMES = (
    "on Monday",
    "on Tuesday",
    "on Wednesday",
    "late on Thursday",
    "on Friday morning",
    "over the weekend",
    "earlier this week",
    "last month",
    "this spring",
)
SENTENCES = (
    "{Who} said the {adj} {thing} would be published {when}.",
    "According to the {thing}, {num} {nouns} in {place} had raised concerns.",
    "The {adj} {thing} is expected to cost about {money}, officials said.",
    "{Who} told reporters {when} that the plan was “not finished yet”.",
    "Several {nouns} gathered outside the town hall in {place} {when}.",
    "Critics argued that the {thing} left {nouns} with too little time to respond.",
    "A spokesperson for the {org} declined to comment on the {adj} {thing}.",
    "The {org} said it had received {num} written responses.",
    "{Who}, who has worked in {place} for {small} years, called the move {adj}.",
    "Work on the first phase could begin {when}, subject to a vote.",
    "Figures released {when} showed a rise of {small} per cent since last year.",
    "“We have listened carefully,” said {Who}, adding that {nouns} would be consulted.",
    "The {org} has set aside {money} for the {adj} {thing}.",
    "Local {nouns} said the changes would affect journeys across {place}.",
    "It is the {ordinal} time this year that the {thing} has been delayed.",
)
SUBHEADS = (
    "What happens next",
    "How the plan works",
    "Reaction in {place}",
    "The cost question",
    "A long road",
    "Who is affected",
    "Behind the numbers",
)
CAPTIONS = (
    "{Who} speaks to {nouns} in {place}",
    "The site of the {adj} {thing} in {place}",
    "{Nouns} queue outside the offices of the {org}",
    "A view across {place} {when}",
    "Members of the {org} meet in {place}",
)
ORDINALS = ("second", "third", "fourth", "fifth")


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _radix_title(seed: int, n: int) -> str:
    sizes = (len(TEMPLATES), len(SUBJECTS), len(VERBS), len(OBJECTS), len(PLACES))
    total = 1
    for size in sizes:
        total *= size
    # An affine map modulo the tuple space is a bijection when the multiplier is coprime.
    mult = 7919  # prime, not a factor of any size product here
    value = (n * mult + seed * 104729 + 17) % total
    digits = []
    for size in sizes:
        digits.append(value % size)
        value //= size
    t, s, v, o, p = digits
    title = TEMPLATES[t].format(s=SUBJECTS[s], v=VERBS[v], o=OBJECTS[o], p=PLACES[p])
    return title[0].upper() + title[1:]


class TextGen:
    """Deterministic text for one outlet (``currency`` is "£" or "$")."""

    def __init__(self, seed: int, outlet: str, currency: str = "$"):
        self.seed = seed
        self.outlet = outlet
        self.currency = currency
        self._offset = sum(ord(c) for c in outlet)

    def rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.seed, self.outlet, *parts)))

    def title(self, n: int) -> str:
        return _radix_title(self.seed + self._offset, n)

    def person(self, rnd: random.Random) -> str:
        return f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"

    def _fill(self, template: str, rnd: random.Random) -> str:
        nouns = rnd.choice(NOUNS)
        return template.format(
            Who=self.person(rnd),
            nouns=nouns,
            Nouns=nouns.capitalize(),
            adj=rnd.choice(ADJ),
            thing=rnd.choice(THINGS),
            when=rnd.choice(TIMES),
            place=rnd.choice(PLACES),
            org=rnd.choice(SUBJECTS).lower(),
            num=rnd.randint(12, 900),
            small=rnd.randint(2, 40),
            ordinal=rnd.choice(ORDINALS),
            money=f"{self.currency}{rnd.randint(2, 90)}m",
        )

    def paragraph(self, rnd: random.Random, used: set[str] | None = None) -> str:
        """2-4 sentences; none repeats one already in ``used`` (the article so far)."""
        used = set() if used is None else used
        out = []
        for template in rnd.sample(SENTENCES, rnd.randint(2, 4)):
            for _ in range(20):
                sentence = self._fill(template, rnd)
                if sentence not in used:
                    break
            used.add(sentence)
            out.append(sentence)
        return " ".join(out)

    def subhead(self, rnd: random.Random) -> str:
        return self._fill(rnd.choice(SUBHEADS), rnd)

    def caption(self, rnd: random.Random) -> str:
        return self._fill(rnd.choice(CAPTIONS), rnd)

    def credit(self, rnd: random.Random) -> str:
        if rnd.random() < 0.5:
            return f"{self.person(rnd)}/{rnd.choice(AGENCIES)}"
        return rnd.choice(AGENCIES)

    def short(self, rnd: random.Random) -> str:
        return self._fill(rnd.choice(SENTENCES), rnd)
