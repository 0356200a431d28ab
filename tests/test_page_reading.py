"""The helpers that read a page as its user does (tests/conftest.py): what they count as shown, and what not."""

from tests.conftest import field_error, field_note, page_of, table_rows

PAGE = """<!doctype html><html><head><title>Not read</title><script>var hidden = "code";</script></head><body>
<p>Tom &amp; Jerry&#x27;s <strong>Tue 10 Mar</strong>: <em>FUDR</em><br>next line</p>
<p hidden>Only shown by the script</p>
<table><thead><tr><th>Name</th><th>Record</th></tr></thead>
<tbody><tr><td><a href="#">Alice</a></td><td>A-100</td></tr><tr><td>Bob</td><td>A-101</td></tr></tbody></table>
<input id="id_date" aria-describedby="id_date_helptext id_date_error">
<div id="id_date_error" class="invalid-feedback">
  <span><strong>&ldquo;31/12&rdquo; could be read two ways.</strong></span></div>
<div id="id_date_helptext" class="form-text">Year-month-day.</div>
<input id="id_note">
<div id="id_note_error" class="invalid-feedback">Not linked to its field.</div>
<fieldset aria-describedby="id_kind_error"><input type="radio" id="id_kind_0"><input type="radio" id="id_kind_1">
<div id="id_kind_error" class="invalid-feedback">Choose one.</div></fieldset>
</body></html>"""


def test_text_is_what_a_reader_gets():
    page = page_of(PAGE)
    assert page.find("p").text() == "Tom & Jerry's Tue 10 Mar: FUDR next line"
    assert "Only shown by the script" not in page.text() and "Not read" not in page.text()
    assert "code" not in page.text()


def test_table_rows_are_the_body_rows_cell_by_cell():
    assert table_rows(page_of(PAGE).find("table")) == [["Alice", "A-100"], ["Bob", "A-101"]]


def test_a_field_error_counts_only_when_the_field_names_it():
    assert field_error(PAGE, "id_date") == "“31/12” could be read two ways."
    assert field_note(PAGE, "id_date") == "Year-month-day."
    assert field_error(PAGE, "id_note") == ""  # shown, but not next to the field for a screen reader
    assert field_error(PAGE, "id_kind") == "Choose one."  # radio buttons: their fieldset names it
