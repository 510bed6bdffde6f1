"""Per-outlet health in the run stats: drops to zero and error spikes become warnings."""

from newsarchive.report import health


def outlet(found=10, articles=10, pages=20, codes=None, failures=0):
    return {
        "found": found,
        "articles": articles,
        "pages": pages,
        "status_counts": codes or {"200": pages},
        "extraction_failures": failures,
    }


def run(**outlets):
    return {"outlets": outlets}


def test_healthy_run_has_no_warnings():
    history = [run(nypost=outlet(found=12)), run(nypost=outlet(found=8))]
    report, warnings = health(run(nypost=outlet(found=9, articles=2)), history)
    assert warnings == []
    assert report["nypost"]["recent_median"] == 10


def test_drop_to_zero_against_recent_median_warns():
    history = [run(mirror=outlet(found=n)) for n in (14, 9, 11)]
    _, warnings = health(run(mirror=outlet(found=0, articles=0, pages=3)), history)
    assert warnings == ["mirror: no articles found this run (recent median 11)"]


def test_no_history_never_warns_about_zero():
    assert health(run(cbc=outlet(found=0, articles=0)), [])[1] == []


def test_blocked_and_extraction_spikes_warn():
    codes = {"200": 10, "403": 4, "429": 6}
    stats = run(thesun=outlet(pages=20, codes=codes), metro=outlet(articles=10, failures=3))
    report, warnings = health(stats, [])
    assert "thesun: 10 of 20 pages answered 403/429 or a bot challenge" in warnings
    assert "metro: extraction failed on 3 of 10 pages" in warnings
    assert report["thesun"]["blocked_rate"] == 0.5
