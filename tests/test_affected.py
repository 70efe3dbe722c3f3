"""`make check`'s choice of tests: what a change can affect, through imports and templates."""

from __future__ import annotations

from tests.affected import EVERYTHING, affected_tests


def test_a_rule_selects_its_own_tests_and_those_of_the_modules_that_use_it():
    selected = affected_tests(["adr/regulatory.py"])
    assert {"tests/test_regulatory.py", "tests/test_cases.py", "tests/test_export.py"} <= set(
        selected
    )
    assert "tests/test_deployment.py" not in selected  # gunicorn's test imports no rule


def test_a_module_selects_the_tests_that_reach_it_through_another():
    # The E2B builder is used by the review blueprint, which test_electronic_reporting drives;
    # test_migration_follow_up_links imports only the migration tests' helpers.
    selected = affected_tests(["adr/regulator/e2b.py"])
    assert {"tests/test_e2b.py", "tests/test_electronic_reporting.py"} <= set(selected)
    assert "tests/test_meddra.py" not in selected


def test_a_test_file_selects_itself_and_the_test_files_that_import_it():
    selected = affected_tests(["tests/test_migration_cases.py"])
    assert "tests/test_migration_cases.py" in selected
    assert "tests/test_migration_products.py" in selected  # it imports the 0008 fixture
    assert "tests/test_review.py" not in selected


def test_a_template_selects_its_blueprint_s_tests():
    selected = affected_tests(["templates/auth/login.html"])
    assert "tests/test_auth.py" in selected and "tests/test_regulatory.py" not in selected
    shared = affected_tests(["templates/base.html"])
    assert {"tests/test_auth.py", "tests/test_intake.py", "tests/test_review.py"} <= set(shared)


def test_other_files_map_to_the_tests_that_read_them():
    assert "tests/browser" in affected_tests(["adr/static/form.js"])
    migrations = affected_tests(["adr/migrations/versions/0015_meddra_reactions_e2b.py"])
    assert {"tests/test_migration_reactions.py", "tests/test_app.py"} <= set(migrations)
    assert affected_tests(["requirements.txt"]) == ["tests/test_lock.py"]
    assert affected_tests(["README.md", "docs/benchmarks.md"]) == []


def test_the_factory_the_fixtures_and_the_settings_select_everything():
    for changed in ("adr/__init__.py", "tests/conftest.py", "tests/postgres.py", "pyproject.toml"):
        assert affected_tests([changed]) == [EVERYTHING], changed
