"""Signals newsarchive components send to one another through the crawler."""

# Sent by the WARC writer after each response/revisit record is on disk.
# Keyword argument ``capture``: a dict with the columns of the ``captures`` table.
capture_recorded = object()

# Sent by newsarchive.fetcherrors for every fetch fault it records. Keyword argument
# ``error``: a dict with url, outlet, kind, detail and time (a ``fetch_errors`` row).
fetch_error = object()
