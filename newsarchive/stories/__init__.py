"""Stories across outlets: duplicates, wire copies and rewrites of one article (issue 11).

- :mod:`newsarchive.stories.features` sketches an article's text;
- :mod:`newsarchive.stories.detector` finds candidate pairs (MinHash LSH), judges them and
  groups articles into stories;
- :mod:`newsarchive.stories.archive` keeps the ``stories`` and ``story_members`` tables of the
  archive up to date as articles are merged, and rebuilds them;
- :mod:`newsarchive.stories.query` reads them (the API the CLI and the web app use);
- :mod:`newsarchive.stories.assign` clusters an outside JSONL collection;
- :mod:`newsarchive.stories.diff` compares a member with its origin word by word.
"""
