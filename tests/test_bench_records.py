"""The benchmarks' results as data (bench/records.py): a section's table is
rendered from its records, stored as JSON beside RESULTS.md, and rendered
again from the stored records alone."""

import json
import os
import sys

from conftest import REPO

sys.path.insert(0, os.path.join(REPO, "bench"))
import benchlib  # noqa: E402
import records  # noqa: E402

COLUMNS = [["method", "method", "text"],
           ["training_seconds", "training (min)", "minutes"],
           ["clean", "clean", "percent"],
           ["autoattack", "AutoAttack (points; failed checks)", "autoattack"]]


def test_a_section_is_stored_as_records_and_rendered_from_them(
        tmp_path, monkeypatch):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\nText by hand.\n")
    monkeypatch.setattr(benchlib, "RESULTS", str(results))
    monkeypatch.setattr(records, "RECORDS", str(tmp_path / "results"))
    monkeypatch.setattr(records, "update_section",
                        lambda name, markdown: benchlib.update_section(
                            name, markdown, str(results)))
    report = {"clean": {"accuracy": 0.9, "total": 1000},
              "worst_case": {"accuracy": 0.718},
              "checks": {"points": 500, "black_box": {"passed": True},
                         "logit_scale": {"passed": False}}}
    rows = [{"method": "Madry", "training_seconds": 846.0,
             "training_seconds_note": " (over the budget by 21%)",
             "clean": 0.8441,
             "autoattack": records.autoattack_summary(report)},
            {"method": "standard", "training_seconds": 906.0}]
    data = records.section("toy", "A toy section", "bench/toy.py --write",
                           COLUMNS, rows, before="Before.", after="After.")
    records.store(data, write=True, extra="![plot](figures/toy.png)")

    text = results.read_text()
    assert "Text by hand." in text
    assert ("| Madry | 14.1 (over the budget by 21%) | 84.41 | "
            "71.8 (1000; logit_scale) |") in text
    assert "| standard | 15.1 | - | - |" in text
    assert "Command: `bench/toy.py --write`" in text
    stored = json.loads((tmp_path / "results" / "toy.json").read_text())
    assert stored["records"][0]["clean"] == 0.8441
    assert stored["machine"] and stored["measured"] and stored["software"]

    # The stored records alone give the same section.
    results.write_text("# Results\n")
    assert records.render_all() == ["toy"]
    assert results.read_text().count("| Madry | 14.1") == 1
    assert "![plot](figures/toy.png)" in results.read_text()
