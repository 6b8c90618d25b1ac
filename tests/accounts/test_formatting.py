"""Sizes on a page are written with the page's number format, which must
write exactly what Django's ``number_format`` writes."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.utils import translation
from django.utils.formats import number_format

from accounts.formatting import human_bytes, human_quota, page_number_format

KB, MB, GB = 1024, 1024**2, 1024**3
SIZES = [0, 1, 1023, 1024, 1075, 1536, 102_347, 99 * MB + 1, 100 * MB, 1000 * MB, 1023 * MB + 1]
SIZES += [5 * GB + 7, 3 * 1024**5, 7 * 1024**6]


# German: a decimal comma, so a separator left out would show.
@pytest.mark.parametrize("language", ["ko", "en", "de"])
@pytest.mark.parametrize("grouped", [False, True])
def test_the_page_number_format_writes_what_number_format_writes(language, grouped):
    with translation.override(language), override_settings(USE_THOUSAND_SEPARATOR=grouped):
        number = page_number_format()
        for value in [0.0, 0.05, 1.0, 1.04, 1.05, 9.95, 99.94, 99.96, 100.0, 1023.0, 1023.5, 1e17]:
            for digits in (0, 1):
                written = round(value, digits)
                assert number(written, digits) == number_format(written, digits), (value, digits)
        for size in SIZES:
            assert human_bytes(size, number) == human_bytes(size), size
            assert human_quota(size, number) == human_quota(size), size
        assert human_quota(None, number) == human_quota(None)
        assert human_bytes(None, number) == ""


@override_settings(USE_THOUSAND_SEPARATOR=True)
def test_with_thousand_separators_a_size_keeps_its_separator():
    with translation.override("en"):
        assert human_bytes(1020 * KB, page_number_format()) == "1,020 KB"
