"""Realistic synthetic reports for demonstrations and benchmarks, inserted in bulk."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from adr import batch_tally, cases, duplicates, reactions, regulatory, search, vocab
from adr.cases import holder
from adr.extensions import db
from adr.models import (
    CASE_COPIES,
    Batch,
    Case,
    Product,
    Report,
    copy_case_values,
    recount_open_cases,
    write_transaction,
)
from adr.regulator.workbook import parse_month

TOKEN_PREFIX = "demo-"
CHUNK = 2000

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰飞红建国建华志强海燕小"
    "红春梅文博子涵浩然欣怡梓轩雨桐"
)
ETHNIC = ["汉族"] * 18 + ["回族", "蒙古族", "满族", "藏族", "壮族"]
# Generic name (with dosage form), brand, approval number, routine dose, unit, route, frequency.
PRODUCTS = [
    ("阿莫西林胶囊", "天宁", "国药准字H61020123", 0.5, "g", "oral", "每日3次"),
    ("头孢克肟片", "天宁", "国药准字H20063015", 100, "mg", "oral", "每日2次"),
    ("布洛芬缓释胶囊", "天宁", "国药准字H61022718", 0.3, "g", "oral", "每日2次"),
    ("复方丹参片", "天宁", "国药准字Z61020432", 3, "tablet", "oral", "每日3次"),
    ("板蓝根颗粒", "天宁", "国药准字Z61021234", 1, "bag", "oral", "每日3次"),
    ("清开灵注射液", None, "国药准字Z61020988", 20, "ml", "iv", "每日1次"),
    ("双黄连口服液", "天宁", "国药准字Z61020321", 20, "ml", "oral", "每日3次"),
    ("盐酸左氧氟沙星片", None, "国药准字H61023456", 0.5, "g", "oral", "每日1次"),
    ("甲硝唑片", None, "国药准字H61020777", 0.4, "g", "oral", "每日3次"),
    ("阿奇霉素片", "天宁", "国药准字H61024567", 0.5, "g", "oral", "每日1次"),
]
# Each product's English name, offered on the English form, and other names it is known by.
ENGLISH_NAMES = {
    "国药准字H61020123": "Amoxicillin Capsules",
    "国药准字H20063015": "Cefixime Tablets",
    "国药准字H61022718": "Ibuprofen Sustained-release Capsules",
    "国药准字Z61020432": "Compound Danshen Tablets",
    "国药准字Z61021234": "Isatis Root Granules",
    "国药准字Z61020988": "Qingkailing Injection",
    "国药准字Z61020321": "Shuanghuanglian Oral Liquid",
    "国药准字H61023456": "Levofloxacin Hydrochloride Tablets",
    "国药准字H61020777": "Metronidazole Tablets",
    "国药准字H61024567": "Azithromycin Tablets",
}
ALIASES = {
    "国药准字H61020123": ["Amoxycillin Capsules", "amoxixilin jiaonang"],
    "国药准字Z61021234": ["板兰根颗粒", "Banlangen Granules", "banlangen keli"],
    "国药准字Z61020321": ["双黄连口服溶液", "Shuang Huang Lian Oral Liquid"],
}
# The reactions each product's label lists (its 不良反应 section), for the catalogue.
LISTED_REACTIONS = {
    "国药准字H61020123": ["皮疹", "瘙痒", "腹泻", "恶心"],
    "国药准字H20063015": ["腹泻", "皮疹", "头痛"],
    "国药准字H61022718": ["恶心", "胃痛", "头晕"],
    "国药准字Z61020432": ["胃部不适"],
    "国药准字Z61021234": [],  # 尚不明确: every reaction is new
    "国药准字Z61020988": ["过敏性休克", "皮疹", "发热"],
    "国药准字Z61020321": ["皮疹", "腹泻"],
    "国药准字H61023456": ["恶心", "头晕", "失眠", "光敏反应"],
    "国药准字H61020777": ["恶心", "口腔金属味"],
    "国药准字H61024567": ["腹泻", "恶心", "腹痛"],
}
# Each product's dosage form (剂型) and strengths (规格), as its approval and labels give them.
DOSAGE_FORMS = {
    "国药准字H61020123": ("胶囊剂", ["0.25g", "0.5g"]),
    "国药准字H20063015": ("片剂", ["50mg", "100mg"]),
    "国药准字H61022718": ("胶囊剂", ["0.3g"]),
    "国药准字Z61020432": ("片剂", ["薄膜衣小片 每片重0.32g"]),
    "国药准字Z61021234": ("颗粒剂", ["每袋装10g", "每袋装5g（相当于饮片7g）"]),
    "国药准字Z61020988": ("注射剂", ["每支装2ml", "每支装10ml"]),
    "国药准字Z61020321": ("合剂", ["每支装10ml", "每支装20ml"]),
    "国药准字H61023456": ("片剂", ["0.25g", "0.5g"]),
    "国药准字H61020777": ("片剂", ["0.2g"]),
    "国药准字H61024567": ("片剂", ["0.25g", "0.5g"]),
}
# Batches numbered 37 to 40 of each month are left out of the register: typed by reporters,
# found nowhere, as a counterfeit or a typing mistake would be.
UNREGISTERED_FROM = 37
OTHER_DRUGS = [
    "盐酸氨溴索片",
    "氯雷他定片",
    "奥美拉唑肠溶胶囊",
    "硝苯地平缓释片",
    "二甲双胍片",
    "阿司匹林肠溶片",
    "华法林钠片",
]
WEIGHTS = {"day": (2.5, 5.0), "month": (4.0, 12.0), "year": (10.0, 95.0)}
OTHER_DOSES = [
    (10, "mg"),
    (1, "tablet"),
    (2, "capsule"),
    (5, "drop"),
    (1, "pill"),
    (100, "iu"),
    (50, "ug"),
    (1, "other"),
]
MANUFACTURER = "陕西医药控股集团天宁制药有限责任公司"
DISEASES = [
    "急性支气管炎",
    "上呼吸道感染",
    "肺炎",
    "尿路感染",
    "高血压",
    "冠心病",
    "2型糖尿病",
    "胃炎",
    "牙周炎",
    "感冒",
]
REACTIONS = [
    "皮疹",
    "瘙痒",
    "恶心",
    "呕吐",
    "头晕",
    "头痛",
    "腹泻",
    "心悸",
    "胸闷",
    "呼吸困难",
    "肝功能异常",
    "过敏性休克",
    "寒战",
    "发热",
    "荨麻疹",
]
HOSTILE = [
    '=HYPERLINK("http://example.com","点我")',
    "+86 139 1234 5678",
    "-20260101",
    "@SUM(1,2)",
    "\t缩进",
    "#N/A",
    "=1+1",
]


INVALID_REASONS = [  # (code, words)
    ("other", "报告人无法联系，信息无法核实"),
    ("not_our_product", "非本公司产品"),
    ("other", "测试提交"),
    ("not_adverse_event", None),
]


@dataclass
class DemoResult:
    reports: int = 0
    drugs: int = 0


def real_report_count() -> int:
    """Return how many reports did not come from this generator."""
    query = sa.select(sa.func.count()).where(~Report.submission_token.startswith(TOKEN_PREFIX))
    return db.session.scalar(query) or 0


def make_demo_data(count: int, month: str, seed: int | None = None) -> DemoResult:
    """Insert `count` realistic reports received during `month` (China time)."""
    rng = random.Random(seed)
    start, end = parse_month(month)
    end = min(end, datetime.now(UTC))
    span = max((end - start).total_seconds(), 1)
    times = sorted(start + timedelta(seconds=rng.random() * span) for _ in range(count))
    references = set(db.session.scalars(sa.select(Report.reference)))
    product_ids = demo_catalogue(start.date(), end.date())
    result = DemoResult()
    ids: list[int] = []
    for first in range(0, count, CHUNK):
        made = [_report(rng, at, references) for at in times[first : first + CHUNK]]
        with write_transaction() as session:
            case_ids = _insert_cases(session, [case for case, _, _ in made])
            report_rows = [
                row
                | {"case_id": case_id}
                | {copy: case.get(name) for name, copy in CASE_COPIES.items()}
                for case_id, (case, row, _) in zip(case_ids, made, strict=True)
            ]
            session.execute(sa.insert(db.metadata.tables["report"]), report_rows)
            inserted = sa.select(Report.reference, Report.id).where(
                Report.reference.in_([row["reference"] for row in report_rows])
            )
            id_of = {reference: report_id for reference, report_id in session.execute(inserted)}
            chunk_ids = [id_of[row["reference"]] for row in report_rows]
            drug_rows = [
                drug
                | {"report_id": report_id, "product_id": product_ids.get(drug["approval_number"])}
                for report_id, (_, _, drugs) in zip(chunk_ids, made, strict=True)
                for drug in drugs
            ]
            session.execute(sa.insert(db.metadata.tables["drug"]), drug_rows)
            batch_tally.recount_cases(session.connection(), case_ids)
            _insert_duplicate_keys(session, chunk_ids, report_rows)
            gram_rows = [
                gram
                for report_id, (_, row, drugs) in zip(chunk_ids, made, strict=True)
                for gram in search.index_rows(report_id, row["received_at"], demo_texts(row, drugs))
            ]
            search.insert_rows(session.connection(), gram_rows)
        ids.extend(chunk_ids)
        result.reports += len(made)
        result.drugs += len(drug_rows)
    _link_follow_ups(rng, ids)
    with write_transaction() as session:  # the cases were written without the ORM
        recount_open_cases(session.connection())
    done: set[int] = set()
    for first in range(0, len(ids), CHUNK):  # once follow-ups joined their cases
        with write_transaction() as session:
            chunk = sa.select(Report.case_id).where(Report.id.in_(ids[first : first + CHUNK]))
            joined = set(session.scalars(chunk)) - done
            reactions.insert_reported(session.connection(), sorted(joined))
            holder.insert_reported_diseases(session.connection(), sorted(joined))
            done |= joined
    return result


def _insert_duplicate_keys(session: Any, ids: list[int], rows: list[dict[str, Any]]) -> None:
    """Give the reports the blocking keys the duplicate matcher finds earlier reports by."""
    keys = [
        key
        for report_id, row in zip(ids, rows, strict=True)
        for key in duplicates.key_rows(report_id, row)
    ]
    if keys:
        session.execute(sa.insert(db.metadata.tables["duplicate_key"]), keys)


def demo_catalogue(first: date, last: date) -> dict[str | None, int]:
    """Return the product id of each demo approval number, entering the products if none is.

    An empty catalogue gets the demo's products and a register of their batches for the
    months reports may name (drugs started up to a year before the reports), but those
    numbered from `UNREGISTERED_FROM`.
    """
    with write_transaction() as session:
        if not session.scalar(sa.select(sa.func.count()).select_from(Product)):
            session.add_all(
                Product(
                    generic_name=generic,
                    english_name=ENGLISH_NAMES.get(approval),
                    brand_name=brand,
                    aliases=ALIASES.get(approval, []),
                    approval_number=approval,
                    manufacturer=MANUFACTURER,
                    dosage_form=DOSAGE_FORMS[approval][0],
                    strengths=DOSAGE_FORMS[approval][1],
                    listed_reactions=LISTED_REACTIONS.get(approval, []),
                )
                for generic, brand, approval, *_ in PRODUCTS
            )
            session.flush()
            _register_batches(session, first - timedelta(days=400), last)
        rows = session.execute(sa.select(Product.approval_number, Product.id))
        return {approval: product_id for approval, product_id in rows}


def _register_batches(session: Any, first: date, last: date) -> None:
    months = sorted({date(d.year, d.month, 1) for d in _days(first, last)})
    session.execute(
        sa.insert(Batch),
        [
            {
                "product_id": product_id,
                "batch_number": f"{month:%Y%m}{number:02d}{line}",
                "manufactured_on": month,
                "expires_on": month.replace(year=month.year + 2) - timedelta(days=1),
            }
            for product_id in session.scalars(sa.select(Product.id))
            for month in months
            for number in range(1, UNREGISTERED_FROM)
            for line in "AB"
        ],
    )


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def demo_texts(row: dict[str, Any], drugs: list[dict[str, Any]]) -> list[str | None]:
    """Return the texts a search looks into, as search.report_texts does for a stored report."""
    names = [drug[name] for drug in drugs for name in ("generic_name", "brand_name")]
    return [row["patient_name"], row["reporter_name"], row["event_name"], *names]


def _insert_cases(session: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the cases with ids given here, and return them in the order of `rows`.

    Numbering them here is many times faster than RETURNING ids in parameter order, which
    SQLite answers row by row. Demo data is written by one process at a time.
    """
    start = (session.scalar(sa.select(sa.func.max(Case.id))) or 0) + 1
    ids = list(range(start, start + len(rows)))
    session.execute(
        sa.insert(Case), [row | {"id": id_} for id_, row in zip(ids, rows, strict=True)]
    )
    if session.get_bind().dialect.name == "postgresql":  # the next case the app opens follows
        session.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('safety_case', 'id'), :last)"),
            {"last": ids[-1]},
        )
    return ids


def _link_follow_ups(rng: random.Random, ids: list[int]) -> None:
    """Make about one report in twenty a follow-up of an earlier one (ids follow receipt order).

    The follow-up joins the first report's case, and the case's clocks are derived again.
    """
    links = {
        ids[index]: ids[rng.randrange(index)] for index in range(1, len(ids)) if rng.random() < 0.05
    }
    firsts = {first for first in links.values() if first not in links}
    links = {row: first for row, first in links.items() if first in firsts and row not in firsts}
    if not links:
        return
    with write_transaction() as session:
        connection = session.connection()
        case_of = dict(
            connection.execute(
                sa.select(Report.id, Report.case_id).where(Report.id.in_([*links, *links.values()]))
            ).all()
        )
        moves = [
            {"row": row, "first": first, "old": case_of[row], "new": case_of[first]}
            for row, first in links.items()
        ]
        connection.execute(
            sa.update(Report)
            .where(Report.id == sa.bindparam("row"))
            .values(follow_up_of_id=sa.bindparam("first"), case_id=sa.bindparam("new")),
            moves,
        )
        connection.execute(  # a duplicate of a follow-up's own case duplicates its new case
            sa.update(Case)
            .where(Case.duplicate_of_id == sa.bindparam("old"))
            .values(duplicate_of_id=sa.bindparam("new")),
            moves,
        )
        moved = [case_id for move in moves for case_id in (move["old"], move["new"])]
        batch_tally.recount_cases(connection, moved)  # before the old cases go
        connection.execute(sa.delete(Case).where(Case.id.in_([move["old"] for move in moves])))
        joined = sa.select(Case).where(Case.id.in_({move["new"] for move in moves}))
        loaded = joined.options(selectinload(Case.reports).selectinload(Report.drugs))
        for case in session.scalars(loaded):
            cases.derive(case.reports, case)
        session.flush()
        copy_case_values(connection, [move["new"] for move in moves])  # moved without the ORM


def _report(
    rng: random.Random, received_at: datetime, references: set[str]
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    choice = rng.choice
    today = received_at.astimezone(regulatory.CHINA).date()
    onset = today - timedelta(days=rng.randint(0, 20))
    kind = choice(list(vocab.REPORTER_KIND))
    professional = kind in vocab.HEALTH_PROFESSIONALS
    sex = choice(["male", "female", "female", "male", "unknown"])
    age_unit = choice(["year"] * 12 + ["month", "day"])
    age = {"year": rng.randint(1, 95), "month": rng.randint(1, 11), "day": rng.randint(1, 28)}[
        age_unit
    ]
    birth = None
    if rng.random() < 0.5 and age_unit == "year":
        birth = onset - timedelta(days=age * 365 + rng.randint(1, 300))
    death = rng.random() < 0.01
    serious_criteria = (
        rng.sample(list(vocab.SERIOUSNESS)[1:], rng.randint(1, 2)) if rng.random() < 0.1 else []
    )
    outcome = "death" if death else choice([c for c in vocab.OUTCOME if c != "death"])
    if death:
        serious_criteria = ["death", *serious_criteria]
    history = rng.sample(
        [c for c in vocab.HISTORY if not (c == "pregnancy" and sex == "male")], rng.randint(0, 2)
    )
    reaction = "、".join(rng.sample(REACTIONS, rng.randint(1, 3)))
    hostile = rng.random() < 0.005
    name = choice(SURNAMES) + choice(GIVEN) + (choice(GIVEN) if rng.random() < 0.6 else "")
    reference = regulatory.new_reference(received_at)
    while reference in references:
        reference = regulatory.new_reference(received_at)
    references.add(reference)
    row: dict[str, Any] = {
        "reference": reference,
        "submission_token": f"{TOKEN_PREFIX}{reference}",
        "received_at": received_at,
        "added_at": received_at,
        "language": choice(["zh_CN"] * 9 + ["en"]),
        "remarks": choice(HOSTILE)
        if hostile
        else (None if rng.random() < 0.8 else "患者家属电话补充说明。"),
        "reporter_kind": kind,
        "reporter_organization_type": choice(["hospital", "pharmacy"])
        if professional
        else choice([None, "none"]),
        "reporter_organization": choice(
            ["绥德县医院", "榆林市第一医院", "天宁大药房", "米脂县中医院"]
        )
        if professional
        else None,
        "reporter_name": name,
        "reporter_phone": f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}"
        if rng.random() < 0.8
        else None,
        "reporter_email": f"user{rng.randint(1, 99999)}@example.com"
        if rng.random() < 0.4
        else None,
        "reporter_consent_contact": rng.random() < 0.7,
        "reporter_consent_privacy": True,
        "patient_name": choice(HOSTILE)
        if hostile
        else (name if kind == "patient" else choice(SURNAMES) + choice(GIVEN)),
        "patient_sex": sex,
        "patient_birth_date": birth,
        "patient_age": age,
        "patient_age_unit": age_unit,
        "patient_ethnicity": choice(ETHNIC) if rng.random() < 0.5 else None,
        "patient_weight_kg": round(rng.uniform(*WEIGHTS[age_unit]), 1)
        if rng.random() < 0.6
        else None,
        "patient_disease": choice(DISEASES),
        "patient_past_adr": choice(list(vocab.YES_NO_UNKNOWN)),
        "patient_family_adr": choice(list(vocab.YES_NO_UNKNOWN)),
        "patient_history": history,
        "patient_history_detail": "青霉素过敏" if {"allergy", "other"} & set(history) else None,
        "event_name": reaction,
        "event_onset_date": onset,
        "event_description": f"用药后出现{reaction},予停药及对症处理。",
        "event_outcome": outcome,
        "event_sequelae_detail": "左手麻木" if outcome == "sequelae" else None,
        "event_death_cause": "过敏性休克" if death else None,
        "event_death_date": min(onset + timedelta(days=1), today) if death else None,
        "event_dechallenge": choice(list(vocab.DECHALLENGE)),
        "event_rechallenge": choice(list(vocab.RECHALLENGE)),
        "event_disease_impact": choice(list(vocab.DISEASE_IMPACT)),
        "event_serious": serious_criteria,
        "event_causality": choice(list(vocab.CAUSALITY)) if professional else None,
    }
    status = _status(rng, received_at)
    sent = status in ("submitted", "closed")  # every row has the same keys: one batch
    row["submitted_to_regulator_on"] = today + timedelta(days=rng.randint(0, 20)) if sent else None
    sent_on = row["submitted_to_regulator_on"]
    row["sent_recorded_at"] = regulatory.end_of_china_day(sent_on) if sent_on else None
    invalid_reason, words = choice(INVALID_REASONS) if status == "invalid" else (None, None)
    case: dict[str, Any] = {
        "status": status,
        "national_case_number": f"{today:%Y}61{rng.randint(10**9, 10**10 - 1)}" if sent else None,
        "company_causality": choice(list(vocab.CAUSALITY)) if sent else None,
        "invalid_reason": invalid_reason,
        "status_reason": words,
        "invalid_since": received_at + timedelta(days=2) if status == "invalid" else None,
    }
    row["patient_past_adr_detail"] = "磺胺类药物皮疹" if row["patient_past_adr"] == "yes" else None
    row["patient_family_adr_detail"] = (
        "母亲青霉素过敏" if row["patient_family_adr"] == "yes" else None
    )
    drugs = [_drug(rng, onset, today, "suspect", hostile)]
    while rng.random() < 0.4 and len(drugs) < 5:
        role = choice(["concomitant", "concomitant", "interacting"])
        drugs.append(_drug(rng, onset, today, role, False))
    for position, drug in enumerate(drugs):
        drug["position"] = position
    _derive(case, row, drugs)
    return case, row, drugs


def _status(rng: random.Random, received_at: datetime) -> str:
    """Return a status as a working team leaves it: old cases mostly reported and closed.

    Never `duplicate`: a duplicate's reports are merged into its original (`adr.cases.merges`).
    """
    age = datetime.now(UTC) - received_at
    if age > timedelta(days=45) and rng.random() < 0.97:
        return rng.choice(["submitted", "closed", "closed"])
    return rng.choice([status for status in vocab.STATUS if status != "duplicate"])


def _drug(rng: random.Random, onset: date, today: date, role: str, hostile: bool) -> dict[str, Any]:
    start = onset - timedelta(days=rng.randint(0, 10))
    dosage_form: str | None = None
    strength: str | None = None
    expiry: date | None = None
    if role == "suspect":
        generic, brand, approval, dose, unit, route, frequency = rng.choice(PRODUCTS)
        batch = (
            "-20260101" if hostile else f"{start:%Y%m}{rng.randint(1, 40):02d}{rng.choice('AB')}"
        )
        manufacturer = MANUFACTURER
        # The pack's form and strength, and its expiry as the register has it (made the first
        # of the month, good for two years).
        dosage_form, strength = DOSAGE_FORMS[approval][0], DOSAGE_FORMS[approval][1][0]
        made = start.replace(day=1)
        expiry = None if hostile else made.replace(year=made.year + 2) - timedelta(days=1)
    else:
        generic, brand, approval = rng.choice(OTHER_DRUGS), None, None
        dose, unit = rng.choice(OTHER_DOSES)
        route, frequency = rng.choice(list(vocab.ROUTE)), "每日1次"
        batch, manufacturer = None, None
    return {
        "role": role,
        "approval_number": approval,
        "brand_name": brand,
        "generic_name": generic,
        "manufacturer": manufacturer,
        "batch_number": batch,
        "expiry_date": expiry,
        "dosage_form": dosage_form,
        "strength": strength,
        "dose": dose,
        "dose_unit": unit,
        "route": route,
        "frequency": frequency,
        "start_date": start,
        "end_date": None
        if rng.random() < 0.3
        else min(start + timedelta(days=rng.randint(1, 7)), today),
        "indication": "感染" if role == "suspect" else None,
    }


def _derive(case: dict[str, Any], row: dict[str, Any], drugs: list[dict[str, Any]]) -> None:
    """Set the clock of a report that opens its own case, received on the day we knew of it."""
    report = SimpleNamespace(**row, drugs=[SimpleNamespace(**drug) for drug in drugs])
    report.aware_on = regulatory.china_date(row["received_at"])
    facts = SimpleNamespace(
        **case,
        assessed_serious=None,
        assessed_outcome=None,
        expectedness=None,
        report_category=None,
    )
    cases.derive([report], facts)
    for name in ("aware_on", *cases.REPORT_DERIVED):
        row[name] = getattr(report, name, None)
    for name in ("serious", "death", "report_category", "valid_case", "investigation_due_at"):
        case[name] = getattr(facts, name, None)
    sent = row["submitted_to_regulator_on"]  # a team that reported a death investigated it too
    case["investigation_reported_on"] = sent if case["investigation_due_at"] and sent else None
