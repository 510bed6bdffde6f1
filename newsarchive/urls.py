"""URL canonicalisation: one article, one URL.

Lower-cases the scheme and host, forces https for registry hosts, drops the fragment,
default ports and tracking parameters (utm_*, fbclid, gclid, ...), sorts what query
remains, and maps bare hosts onto the outlet's primary ``www`` form when the registry says so.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PARAM = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|igshid|yclid|"
    r"_ga|_gl|ito|ico|cmpid|cmp|ns_mchannel|ns_source|ns_campaign|ns_linkname|ns_fee|"
    r"at_medium|at_campaign|at_custom\d*|smid|sr_share|share|ref|ref_src|taid|int_source|"
    r"int_medium|int_campaign|itm_\w+|__twitter_impression|fb_ref|fb_source|traffic_source|"
    r"outputType_ignored)$",
    re.IGNORECASE,
)


def canonicalize_url(url: str, primary_hosts: dict[str, str] | None = None) -> str:
    """Return the canonical form of ``url``.

    ``primary_hosts`` maps alternative host names (``nypost.com`` ↔ ``www.nypost.com``)
    onto the one the outlet uses; see :func:`primary_host_map`.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a malformed host or port (seen in damaged WARCs): leave it alone
        return url.strip()
    scheme = parts.scheme.lower() or "https"
    host = (parts.hostname or "").lower().rstrip(".")
    if primary_hosts:
        mapped = primary_hosts.get(host)
        if mapped:
            host = mapped
            scheme = "https"
    netloc = host
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        netloc = f"{host}:{port}"
    path = parts.path or "/"
    path = re.sub(r"/{2,}", "/", path)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not TRACKING_PARAM.match(k)
    ]
    query.sort()
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def primary_host_map(domains_by_outlet: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Map every known host (and its www/bare twin) of each outlet onto that outlet's hosts.

    The first domain of an outlet is its home; a twin (``www.x`` for ``x`` or the reverse)
    that the outlet lists maps to whichever of the two is listed first.
    """
    mapping: dict[str, str] = {}
    for domains in domains_by_outlet.values():
        for d in domains:
            twin = d[4:] if d.startswith("www.") else f"www.{d}"
            primary = d
            if twin in domains and domains.index(twin) < domains.index(d):
                primary = twin
            mapping.setdefault(d, primary)
            mapping.setdefault(twin, primary)
    return mapping
