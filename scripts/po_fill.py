"""Fill Korean translations into locale/ko/LC_MESSAGES/django.po.

Usage: python scripts/po_fill.py FILE.json   (a {"English": "한국어"} map)
       python scripts/po_fill.py --missing   (list untranslated or fuzzy entries)
Then `make messages` (or compilemessages) to rebuild the .mo.
"""

import json
import sys
from pathlib import Path

import polib

PO = Path(__file__).resolve().parent.parent / "locale/ko/LC_MESSAGES/django.po"


def main() -> int:
    catalogue = polib.pofile(str(PO))
    if sys.argv[1:] == ["--missing"]:
        missing = [e for e in catalogue if not e.obsolete and (not e.translated() or e.fuzzy)]
        for entry in missing:
            print(json.dumps(entry.msgid, ensure_ascii=False))
        return 1 if missing else 0
    mapping = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    for entry in catalogue:
        if entry.msgid in mapping:
            if entry.msgid_plural:
                entry.msgstr_plural = {0: mapping[entry.msgid]}
            else:
                entry.msgstr = mapping[entry.msgid]
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
    catalogue.save()
    catalogue.save_as_mofile(str(PO.with_suffix(".mo")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
