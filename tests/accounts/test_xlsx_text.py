import io

import openpyxl

from accounts.xlsx import clean_text, write_xlsx


def test_characters_xml_cannot_hold_are_dropped_not_fatal():
    nasty = "a\x00b\x07c\ufffed\uffffe\ud800f\u202eg\r\nh"
    assert clean_text(nasty) == "abcdef\u202eg\r\nh"
    target = io.BytesIO()
    write_xlsx(target, title="T\uffff", header=["h\x00"], rows=[[nasty]])
    sheet = openpyxl.load_workbook(io.BytesIO(target.getvalue())).active
    assert [row for row in sheet.iter_rows(values_only=True)] == [("h",), (clean_text(nasty),)]
