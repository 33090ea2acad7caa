"""Renders every section stored as records under docs/results/ into
docs/RESULTS.md again (after a change to how tables are rendered, or to
check that the tables are what the records say).

    .venv/bin/python bench/results.py
"""

from records import render_all

if __name__ == "__main__":
    for name in render_all():
        print(f"rendered {name}")
