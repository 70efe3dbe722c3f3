"""The batch register: imported from CSV or XLSX, by the command or the catalogue page."""

from __future__ import annotations

import io
import random
import zipfile
from datetime import date, datetime

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from adr import batch_register, products
from adr.extensions import db
from adr.models import Batch, Product
from tests.conftest import COMPANY
from tests.test_review import ADMIN, csrf, signed_in, staff, trail

__all__ = ["staff"]  # a fixture

HEADER = "approval_number,generic_name,batch_number,manufactured_on,expires_on"
GOOD_AND_BAD = [
    ["国药准字H61020123", "阿莫西林胶囊", "lot 20260315a", "2026-03-15", "2028-03-14"],  # 2
    ["国药准字H61020123", "", "20260401A", "2026-04-01", "2028-03-31"],  # 3
    ["国药准字H99999999", "某某片", "1", "2026-01-01", "2027-01-01"],  # 4: not ours
    ["国药准字H61020123", "阿莫西林胶囊", "20260501A", "2026-05-32", "2028-05-01"],  # 5: bad date
    ["国药准字H61020123", "阿莫西林胶囊", "20260601A", "2026-06-01", "2026-05-01"],  # 6: before
    ["国药准字H61020123", "阿莫西林胶囊", "", "2026-06-01", "2028-06-01"],  # 7: no batch
    ["国药准字H61020123", "阿莫西林胶囊", "20260401a", "2026-04-01", "2028-03-31"],  # 8: twice
    ["国药准字H61020123", "复方丹参片", "20260701A", "2026-07-01", "2028-07-01"],  # 9: not its name
]


@pytest.fixture
def catalogue(app):
    with app.app_context():
        db.session.add(
            Product(
                generic_name="阿莫西林胶囊",
                approval_number="国药准字H61020123",
                manufacturer=COMPANY,
                listed_reactions=[],
            )
        )
        db.session.commit()
    return app


def csv_file(rows, header=HEADER, encoding="utf-8-sig") -> bytes:
    lines = [header] + [",".join(row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def xlsx_file(rows, header=HEADER) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header.split(","))
    for row in rows:
        sheet.append(row)
    content = io.BytesIO()
    workbook.save(content)
    return content.getvalue()


def registered(app) -> dict[str, tuple[date, date]]:
    with app.app_context():
        return {
            b.batch_number: (b.manufactured_on, b.expires_on)
            for b in db.session.scalars(sa.select(Batch))
        }


def run(app, tmp_path, content: bytes, name="register.csv"):
    path = tmp_path / name
    path.write_bytes(content)
    return app.test_cli_runner().invoke(args=["import-batches", str(path)])


def refused_lines(output: str) -> list[int]:
    return [int(line.split(":")[2]) for line in output.splitlines() if ": refused: " in line]


@pytest.mark.parametrize(
    "content",
    [
        csv_file(GOOD_AND_BAD),
        csv_file(GOOD_AND_BAD, encoding="utf-8"),  # no byte order mark
        csv_file(GOOD_AND_BAD, encoding="gbk"),  # Excel's "CSV" on a Chinese Windows
        xlsx_file(GOOD_AND_BAD),
    ],
    ids=["csv-bom", "csv", "csv-gbk", "xlsx"],
)
def test_good_rows_are_imported_and_bad_rows_refused_with_their_line(catalogue, tmp_path, content):
    name = "register.xlsx" if content.startswith(b"PK") else "register.csv"
    result = run(catalogue, tmp_path, content, name)
    assert result.exit_code == 1
    assert refused_lines(result.output) == [4, 5, 6, 7, 8, 9]
    assert "国药准字H99999999" in result.output  # named in its reason
    assert registered(catalogue) == {
        "20260315A": (date(2026, 3, 15), date(2028, 3, 14)),
        "20260401A": (date(2026, 4, 1), date(2028, 3, 31)),
    }
    assert "2 added, 0 updated, 0 unchanged, 6 refused" in result.output


def test_a_rerun_updates_the_dates_and_adds_nothing_twice(catalogue, tmp_path):
    good = GOOD_AND_BAD[:2]
    assert run(catalogue, tmp_path, csv_file(good)).exit_code == 0
    changed = [good[0], [*good[1][:3], "2026-04-02", "2028-04-01"]]
    result = run(catalogue, tmp_path, xlsx_file(changed), "again.xlsx")
    assert result.exit_code == 0, result.output
    assert "0 added, 1 updated, 1 unchanged, 0 refused" in result.output
    assert registered(catalogue)["20260401A"] == (date(2026, 4, 2), date(2028, 4, 1))
    entries = [(e.action, e.field, e.old_value, e.new_value) for e in trail(catalogue)]
    assert entries[-2][:2] == ("batch updated", "国药准字H61020123 20260401A")
    assert entries[-2][2:] == ("2026-04-01 - 2028-03-31", "2026-04-02 - 2028-04-01")
    assert entries[-1][:2] == ("batches imported", "again.xlsx")


def test_xlsx_date_cells_are_read(catalogue, tmp_path):
    rows = [
        ["国药准字H61020123", "阿莫西林胶囊", "20260315A", datetime(2026, 3, 15), date(2028, 3, 14)]
    ]
    assert run(catalogue, tmp_path, xlsx_file(rows), "dates.xlsx").exit_code == 0
    assert registered(catalogue) == {"20260315A": (date(2026, 3, 15), date(2028, 3, 14))}


def truncated_sheet() -> bytes:
    """Return a workbook whose sheet's XML stops halfway: it opens, its rows do not parse."""
    whole = zipfile.ZipFile(io.BytesIO(xlsx_file(GOOD_AND_BAD)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as broken:
        for item in whole.infolist():
            data = whole.read(item)
            broken.writestr(
                item, data[: len(data) // 2] if "worksheets/" in item.filename else data
            )
    return out.getvalue()


@pytest.mark.parametrize(
    "content",
    [
        csv_file(GOOD_AND_BAD[:1], header="批准文号,通用名称,批号,生产日期,有效期至"),
        f"{HEADER}\nH1,{'a' * 200_000},x,2020-01-01,2021-01-01\n".encode(),  # over csv's limit
        truncated_sheet(),
        xlsx_file(GOOD_AND_BAD[:1], header="approval_number,batch_number"),
        b"",
        b"PK\x03\x04 not a workbook",
        "批号".encode("utf-16"),
    ],
)
def test_a_file_that_cannot_be_read_imports_nothing(catalogue, tmp_path, content):
    result = run(catalogue, tmp_path, content)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert registered(catalogue) == {}


def test_a_file_of_more_batches_than_a_register_holds_is_refused(catalogue, tmp_path, monkeypatch):
    monkeypatch.setattr(batch_register, "MAX_ROWS", 2)
    result = run(catalogue, tmp_path, csv_file(GOOD_AND_BAD[:3]))
    assert result.exit_code == 1 and "split it" in result.output.replace("拆分", "split it")
    assert registered(catalogue) == {}


def test_an_admin_uploads_the_register_on_the_catalogue_page(staff, catalogue):
    admin = signed_in(staff, ADMIN)
    response = admin.post(
        "/staff/products/batches",
        data={
            "file": (io.BytesIO(xlsx_file(GOOD_AND_BAD)), "register.xlsx"),
            "csrf_token": csrf(admin),
        },
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'id="import-result"' in page
    assert len(registered(staff)) == 2
    refused = page.split('id="import-result"')[1].split("</div>")[0]
    assert refused.count("<li>") == 6 and "国药准字H99999999" in refused
    assert '#batches">2</a>' in page  # the product's batch count
    empty = admin.post(
        "/staff/products/batches",
        data={"file": (io.BytesIO(b""), ""), "csrf_token": csrf(admin)},
        content_type="multipart/form-data",
    )
    assert empty.status_code == 422 and 'id="error-summary"' in empty.get_data(as_text=True)


def test_a_product_number_beyond_any_id_is_not_found(staff):
    admin = signed_in(staff, ADMIN)
    assert admin.get("/staff/products/99999999999999999999").status_code == 404


# Files made to hold a worker: refused before the rows are read, or as soon as they run long.

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"


def handmade_xlsx(rows_xml: str = "", dimension: str | None = None, packed=zipfile.ZIP_DEFLATED):
    """Return the smallest workbook openpyxl opens: our header row, then `rows_xml`."""
    header = "".join(
        f'<c r="{column}1" t="inlineStr"><is><t>{name}</t></is></c>'
        for column, name in zip("ABCDE", HEADER.split(","), strict=True)
    )
    declared = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}">{declared}'
        f'<sheetData><row r="1">{header}</row>{rows_xml}</sheetData></worksheet>'
    )
    content = io.BytesIO()
    with zipfile.ZipFile(content, "w", packed) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1" '
            f'Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><sheets>'
            '<sheet name="批次" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1" '
            f'Type="{RELATIONSHIPS}/worksheet" Target="/xl/worksheets/sheet1.xml"/>'
            "</Relationships>",
        )
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return content.getvalue()


def a_row(number: int, cells: list[str]) -> str:
    row = "".join(
        f'<c r="{column}{number}" t="inlineStr"><is><t>{text}</t></is></c>'
        for column, text in zip("ABCDE", cells, strict=True)
    )
    return f'<row r="{number}">{row}</row>'


def refusal(app, tmp_path, content: bytes) -> str:
    """Import `content` with the command; return why it was refused, in English."""
    path = tmp_path / "register.xlsx"
    path.write_bytes(content)
    result = app.test_cli_runner().invoke(args=["import-batches", str(path), "--lang", "en"])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert registered(app) == {}
    return result.output


def test_a_handmade_workbook_of_ours_is_read(catalogue, tmp_path):
    """The reading of the zip and its parts takes what openpyxl takes, whoever wrote it."""
    content = handmade_xlsx(a_row(2, GOOD_AND_BAD[0]), dimension="A1:E2")
    assert run(catalogue, tmp_path, content, "register.xlsx").exit_code == 0
    assert registered(catalogue) == {"20260315A": (date(2026, 3, 15), date(2028, 3, 14))}


def test_a_workbook_declaring_the_whole_grid_is_refused_before_its_rows_are_read(
    catalogue, tmp_path
):
    bomb = handmade_xlsx(dimension="A1:XFD1048576")
    assert len(bomb) < 5000
    output = refusal(catalogue, tmp_path, bomb)
    assert "declared 16,384 columns wide" in output


def test_a_workbook_declaring_more_rows_than_a_register_holds_is_refused(catalogue, tmp_path):
    output = refusal(catalogue, tmp_path, handmade_xlsx(dimension="A1:E1048576"))
    assert "more than 100,000 rows: split it" in output


def test_blank_rows_count_toward_the_cap(catalogue, tmp_path):
    empty_rows = "".join(f'<row r="{number}"/>' for number in range(3, 100_003))
    content = handmade_xlsx(a_row(2, GOOD_AND_BAD[0]) + empty_rows)
    output = refusal(catalogue, tmp_path, content)  # no dimension declared: counted as read
    assert "more than 100,000 rows: split it" in output


def test_a_sheet_of_nothing_packed_tight_is_refused(catalogue, tmp_path):
    nothing = "<row/>" * 400_000  # 2.4 MB that deflate packs into a few kilobytes
    assert "too big to be a batch register" in refusal(catalogue, tmp_path, handmade_xlsx(nothing))


def test_a_zip_of_too_many_parts_is_refused(catalogue, tmp_path, monkeypatch):
    monkeypatch.setattr(batch_register, "MAX_ZIP_ENTRIES", 4)  # the handmade workbook has five
    assert "too big to be a batch register" in refusal(catalogue, tmp_path, handmade_xlsx())


def test_a_workbook_without_its_sheet_is_refused(catalogue, tmp_path):
    whole = zipfile.ZipFile(io.BytesIO(xlsx_file(GOOD_AND_BAD)))
    content = io.BytesIO()
    with zipfile.ZipFile(content, "w") as sheetless:
        for item in whole.infolist():
            if "worksheets/" not in item.filename:
                sheetless.writestr(item, whole.read(item))
    assert "cannot be read" in refusal(catalogue, tmp_path, content.getvalue())


def test_reading_stops_when_it_takes_too_long(catalogue, tmp_path, monkeypatch):
    monkeypatch.setattr(batch_register, "READ_SECONDS", -1.0)  # spent before the first row
    output = refusal(catalogue, tmp_path, xlsx_file(GOOD_AND_BAD[:2]))
    assert "Reading the file took longer than" in output


def test_the_upload_page_refuses_the_bomb_with_the_reason(staff, catalogue):
    admin = signed_in(staff, ADMIN)
    response = admin.post(
        "/staff/products/batches",
        data={
            "file": (io.BytesIO(handmade_xlsx(dimension="A1:XFD1048576")), "register.xlsx"),
            "csrf_token": csrf(admin),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "工作表声明的列数为 16,384" in response.get_data(as_text=True)
    assert registered(staff) == {}


def test_a_table_of_shared_strings_too_big_to_read_is_refused(catalogue, tmp_path, monkeypatch):
    """openpyxl reads the shared strings whole before any row: their size is checked first."""
    monkeypatch.setattr(batch_register, "MAX_SHARED_STRINGS_BYTES", 4096)
    content = io.BytesIO(handmade_xlsx())
    with zipfile.ZipFile(content, "a", zipfile.ZIP_DEFLATED) as archive:
        strings = "".join(f"<si><t>{number:x}</t></si>" for number in range(1000))
        archive.writestr("xl/sharedStrings.xml", f'<sst xmlns="{MAIN}">{strings}</sst>')
    assert "too big to be a batch register" in refusal(catalogue, tmp_path, content.getvalue())


def scanned(product_id: int, typed: str) -> list[str]:
    """The batches a typed number may have meant, measuring every batch (the index's oracle)."""
    scored = []
    for number in db.session.scalars(
        sa.select(Batch.batch_number).where(Batch.product_id == product_id)
    ):
        distance = products.edit_distance(typed, number)
        prefix = len(products.common_prefix(typed, number))
        if distance <= 2 or prefix >= 4:
            scored.append((distance, -prefix, number))
    return [number for *_, number in sorted(scored)[: products.NEAREST_SHOWN]]


def test_the_nearest_batches_found_by_index_are_those_measuring_every_batch_finds(catalogue):
    months = [f"2026{month:02d}" for month in range(1, 9)]
    numbers = [f"{month}{n:02d}{line}" for month in months for n in range(1, 36) for line in "AB"]
    rows = [["国药准字H61020123", "", number, "2026-01-01", "2028-01-01"] for number in numbers]
    rng = random.Random(26)
    typed = ["20260540B", "20261299A", "30260315A", "2026031A", "202603155A", "Q0260315A", "2027"]
    for number in rng.sample(numbers, 24):  # one or two typing slips
        for _slip in range(rng.choice((1, 2))):
            at = rng.randrange(len(number) - 1)
            number = rng.choice(
                (
                    number[:at] + number[at + 1 :],
                    number[:at] + rng.choice("0123456789AB") + number[at:],
                    number[:at] + rng.choice("0123456789AB") + number[at + 1 :],
                    number[:at] + number[at + 1] + number[at] + number[at + 2 :],
                )
            )
        typed.append(number)
    with catalogue.app_context():
        batch_register.import_register(csv_file(rows), "test", "register.csv")
        product_id = db.session.scalar(sa.select(Product.id))
        for number in typed:
            found = [batch.batch_number for batch in products.nearest_batches(product_id, number)]
            assert found == scanned(product_id, number), number
