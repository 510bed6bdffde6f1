"""Signals newsarchive components send to one another through the crawler."""

# Sent by the WARC writer after each response/revisit record is on disk.
# Keyword argument ``capture``: a dict with the columns of the ``captures`` table.
capture_recorded = object()
