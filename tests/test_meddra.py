"""MedDRA: a release imported from its MedAscii files, in two languages, and searched."""

from __future__ import annotations

import sqlalchemy as sa

from adr import meddra
from adr.extensions import db
from adr.models import AuditEntry, MeddraRelease, MeddraTerm
from tests import meddra_fixture
from tests.meddra_fixture import NOT_CURRENT, PRURITUS, RASH, write_release


def imported(runner, folder, *options):
    return runner.invoke(args=["import-meddra", str(folder), *options])


def test_a_release_is_imported_in_english_then_its_chinese_names_are_added(app, runner, tmp_path):
    result = imported(runner, write_release(tmp_path / "en", "en"))
    assert result.exit_code == 0, result.output
    assert "MedDRA 27.1 (en) imported" in result.output
    assert f"{len(meddra_fixture.LLTS)} LLTs" in result.output
    result = imported(runner, write_release(tmp_path / "zh", "zh"))
    assert result.exit_code == 0, result.output
    assert "names added" in result.output
    with app.app_context():
        releases = db.session.execute(
            sa.select(MeddraRelease.version, MeddraRelease.language).order_by(MeddraRelease.id)
        ).all()
        assert releases == [("27.1", "en"), ("27.1", "zh")]
        rash = db.session.get(MeddraTerm, ("27.1", "llt", RASH))
        assert (rash.name_en, rash.name_zh, rash.pt_code, rash.current) == (
            "Rash",
            "皮疹",
            RASH,
            True,
        )
        pt = db.session.get(MeddraTerm, ("27.1", "pt", PRURITUS))
        assert pt.soc_code == 80000001 and pt.hlt_code == 82000001 and pt.hlgt_code == 81000001
        assert db.session.get(MeddraTerm, ("27.1", "llt", NOT_CURRENT)).current is False
        assert meddra.current_version() == "27.1"
        assert meddra.languages("27.1") == ["en", "zh"]
        audited = db.session.execute(
            sa.select(AuditEntry.actor, AuditEntry.action, AuditEntry.new_value)
        ).all()
        assert audited == [
            ("adr import-meddra", "meddra imported", "27.1 en"),
            ("adr import-meddra", "meddra imported", "27.1 zh"),
        ]
    again = imported(runner, tmp_path / "zh")  # the same folder twice changes nothing
    assert again.exit_code == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MeddraTerm)) == sum(
            map(len, (meddra_fixture.SOCS, meddra_fixture.SOCS, meddra_fixture.SOCS))
        ) + len(meddra_fixture.PTS) + len(meddra_fixture.LLTS)


def test_a_newer_version_becomes_the_one_coded_to(app, runner, tmp_path):
    imported(runner, write_release(tmp_path / "a", "en", "9.1"))
    imported(runner, write_release(tmp_path / "b", "en", "27.1"))
    imported(runner, write_release(tmp_path / "c", "en", "10.0"))
    with app.app_context():
        assert meddra.versions() == ["27.1", "10.0", "9.1"]  # numerically, not as text


def test_a_folder_that_is_not_a_release_imports_nothing(app, runner, tmp_path):
    folder = write_release(tmp_path / "en", "en")
    (folder / "mdhier.asc").unlink()
    result = imported(runner, folder)
    assert result.exit_code == 1 and "missing mdhier.asc" in result.output
    folder = write_release(tmp_path / "bad", "en")
    with open(folder / "llt.asc", "a", encoding="utf-8") as llt:
        llt.write("99999999$Orphan$12345678$$$$$$$Y$$\n")  # names a PT the release lacks
    result = imported(runner, folder)
    assert result.exit_code == 1 and "not in pt.asc" in result.output
    folder = write_release(tmp_path / "short", "en")
    with open(folder / "llt.asc", "a", encoding="utf-8") as llt:
        llt.write("99999999$Short\n")
    result = imported(runner, folder)
    assert result.exit_code == 1 and "a short line" in result.output
    folder = write_release(tmp_path / "noversion", "en")
    (folder / "meddra_release.asc").unlink()
    result = imported(runner, folder)
    assert result.exit_code == 1 and "--version" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(MeddraTerm)) == 0
    result = imported(runner, folder, "--version", "27.1", "--language", "en")
    assert result.exit_code == 0, result.output


def test_another_release_under_an_imported_version_is_refused(app, runner, tmp_path):
    imported(runner, write_release(tmp_path / "en", "en"))
    folder = write_release(tmp_path / "zh", "zh")
    with open(folder / "llt.asc", "a", encoding="utf-8") as llt:
        llt.write(f"84999999$新词$ {RASH}$$$$$$$Y$$\n".replace(" ", ""))
    result = imported(runner, folder)
    assert result.exit_code == 1 and "another release" in result.output
    with app.app_context():
        assert db.session.get(MeddraTerm, ("27.1", "llt", RASH)).name_zh is None


def test_a_chinese_release_in_gb18030_is_read(app, runner, tmp_path):
    folder = write_release(tmp_path / "zh", "zh")
    for path in folder.iterdir():
        path.write_bytes(path.read_text(encoding="utf-8").encode("gb18030"))
    assert imported(runner, folder).exit_code == 0
    with app.app_context():
        assert db.session.get(MeddraTerm, ("27.1", "llt", RASH)).name_zh == "皮疹"


def codes(hits):
    return [hit.llt_code for hit in hits]


def test_search_by_chinese_or_english_exact_first_then_prefix_then_substring(app, runner, tmp_path):
    imported(runner, write_release(tmp_path / "en", "en"))
    imported(runner, write_release(tmp_path / "zh", "zh"))
    with app.app_context():
        assert codes(meddra.search("皮疹", "zh"))[:3] == [RASH, 84000001, 84000002]
        assert codes(meddra.search("RASH", "en"))[0] == RASH  # case does not matter
        assert codes(meddra.search("rash", "en"))[1] == 84000002  # "Rash generalised": a prefix
        hit = meddra.search("痒", "zh")[0]  # a substring: Chinese needs no word splitting
        assert (hit.llt_name, hit.pt_name, hit.soc_name) == ("瘙痒", "瘙痒", "皮肤及皮下组织类疾病")
        assert hit.current and hit.version == "27.1"
        english = meddra.search("itch", "en")
        assert codes(english) == [84000003]  # Itch NOS is not current: never offered
        assert english[0].pt_name == "Pruritus"
        # A reported term holding several LLTs suggests each.
        assert set(codes(meddra.search("全身红色皮疹伴瘙痒", "zh"))) >= {RASH, PRURITUS}
        assert meddra.search("%", "zh") == meddra.search("_", "zh") == []  # not wildcards
        assert meddra.search("   ", "zh") == []
        assert codes(meddra.search("皮疹", "zh", limit=1)) == [RASH]
        described = meddra.describe(NOT_CURRENT, "27.1", "zh")
        assert described and not described.current and described.pt_code == PRURITUS
        assert meddra.describe(12345678, "27.1", "zh") is None


def test_nothing_imported_nothing_found(app):
    with app.app_context():
        assert meddra.current_version() is None
        assert meddra.search("皮疹", "zh") == []
