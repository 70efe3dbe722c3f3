"""Every code list and field label of the national report form, in Chinese and English.

The one source for forms, templates, mails and exports: the regulator's workbook
needs the Chinese term whatever language the reporter used.
"""

from __future__ import annotations

from functools import cache
from typing import NamedTuple


class Term(NamedTuple):
    """A label in the national form's Chinese and in English."""

    zh: str
    en: str

    def text(self, language: str) -> str:
        """Return the label in `language` (`zh_CN`/`zh` or `en`)."""
        return self.en if language.startswith("en") else self.zh


CodeList = dict[str, Term]

REPORTER_KIND: CodeList = {
    "patient": Term("患者本人", "Patient"),
    "relative": Term("患者亲友", "Relative or friend of the patient"),
    "physician": Term("医生", "Doctor"),
    "pharmacist": Term("药师", "Pharmacist"),
    "nurse": Term("护士", "Nurse"),
    "other_hcp": Term("其他医务人员", "Other health professional"),
    "other": Term("其他", "Other"),
}
HEALTH_PROFESSIONALS = frozenset({"physician", "pharmacist", "nurse", "other_hcp"})

ORGANIZATION_TYPE: CodeList = {
    "hospital": Term("医疗机构", "Hospital or clinic"),
    "pharmacy": Term("药品经营企业(药店)", "Pharmacy or drug distributor"),
    "none": Term("无", "None"),
}

SEX: CodeList = {
    "male": Term("男", "Male"),
    "female": Term("女", "Female"),
    "unknown": Term("不详", "Unknown"),
}

AGE_UNIT: CodeList = {
    "year": Term("岁", "years"),
    "month": Term("月", "months"),
    "day": Term("天", "days"),
}

YES_NO: CodeList = {"yes": Term("是", "Yes"), "no": Term("否", "No")}

YES_NO_UNKNOWN: CodeList = {
    "yes": Term("有", "Yes"),
    "no": Term("无", "No"),
    "unknown": Term("不详", "Unknown"),
}

HISTORY: CodeList = {
    "smoking": Term("吸烟史", "Smoking"),
    "alcohol": Term("饮酒史", "Drinking alcohol"),
    "pregnancy": Term("妊娠期", "Pregnancy"),
    "liver_disease": Term("肝病史", "Liver disease"),
    "kidney_disease": Term("肾病史", "Kidney disease"),
    "allergy": Term("过敏史", "Allergies"),
    "other": Term("其他", "Other"),
}

DRUG_ROLE: CodeList = {
    "suspect": Term("怀疑药品", "Suspected drug"),
    "concomitant": Term("并用药品", "Other drug taken at the same time"),
    "interacting": Term("相互作用药品", "Interacting drug"),
}

DOSE_UNIT: CodeList = {
    "mg": Term("mg", "mg"),
    "g": Term("g", "g"),
    "ug": Term("微克", "µg"),
    "ml": Term("ml", "ml"),
    "iu": Term("国际单位", "IU"),
    "tablet": Term("片", "tablet(s)"),
    "capsule": Term("粒", "capsule(s)"),
    "bag": Term("袋", "sachet(s)"),
    "pill": Term("丸", "pill(s)"),
    "drop": Term("滴", "drop(s)"),
    "other": Term("其他", "other"),
}

ROUTE: CodeList = {
    "oral": Term("口服", "By mouth"),
    "iv": Term("静脉滴注/注射", "Into a vein (drip or injection)"),
    "im": Term("肌内注射", "Into a muscle"),
    "sc": Term("皮下注射", "Under the skin"),
    "topical": Term("外用", "On the skin"),
    "inhalation": Term("吸入", "Inhaled"),
    "rectal": Term("直肠", "Rectal"),
    "sublingual": Term("舌下", "Under the tongue"),
    "other": Term("其他", "Other"),
}

OUTCOME: CodeList = {
    "recovered": Term("痊愈", "Recovered"),
    "improving": Term("好转", "Getting better"),
    "not_recovered": Term("未好转", "Not better"),
    "unknown": Term("不详", "Unknown"),
    "sequelae": Term("有后遗症", "Recovered with lasting effects"),
    "death": Term("死亡", "Death"),
}

DECHALLENGE: CodeList = {
    "yes": Term("是", "Yes"),
    "no": Term("否", "No"),
    "unknown": Term("不明", "Not known"),
    "not_applicable": Term("未停药或未减量", "The drug was not stopped or reduced"),
}

RECHALLENGE: CodeList = {
    "yes": Term("是", "Yes"),
    "no": Term("否", "No"),
    "unknown": Term("不明", "Not known"),
    "not_applicable": Term("未再使用", "The drug was not taken again"),
}

DISEASE_IMPACT: CodeList = {
    "not_obvious": Term("不明显", "No clear effect"),
    "prolonged": Term("病程延长", "It lasted longer"),
    "aggravated": Term("病情加重", "It got worse"),
    "sequelae": Term("导致后遗症", "It left lasting effects"),
    "death": Term("导致死亡", "It led to death"),
}

SERIOUSNESS: CodeList = {
    "death": Term("导致死亡", "Lead to death"),
    "life_threatening": Term("危及生命", "Threaten life"),
    "hospitalization": Term("导致住院或住院时间延长", "Need a hospital stay, or make one longer"),
    "disability": Term(
        "导致显著的或永久的人体伤残或器官功能损伤",
        "Cause significant or lasting disability or organ damage",
    ),
    "congenital_anomaly": Term(
        "致癌、致畸、致出生缺陷", "Cause cancer, malformation or a birth defect"
    ),
    "other_important": Term("其他重要医学事件", "Another important medical event"),
}

CAUSALITY: CodeList = {
    "certain": Term("肯定", "Certain"),
    "probable": Term("很可能", "Probable"),
    "possible": Term("可能", "Possible"),
    "unlikely": Term("可能无关", "Unlikely"),
    "conditional": Term("待评价", "Conditional (more data needed)"),
    "unassessable": Term("无法评价", "Cannot be assessed"),
}

REPORT_CATEGORY: CodeList = {
    "general": Term("一般", "General"),
    "serious": Term("严重", "Serious"),
    "new": Term("新的", "New"),
    "new_serious": Term("新的严重", "New and serious"),
}

# Why a case is invalid (report-form.md §5): a case holding the four minimum elements is never
# invalid for lacking one.
INVALID_REASON: CodeList = {
    "missing_element": Term("缺少最低报告要素", "A minimum element is missing"),
    "not_adverse_event": Term("非不良反应/事件", "Not an adverse event"),
    "not_our_product": Term("非本企业产品", "Not our product"),
    "not_human": Term("非人用病例", "Not a human case"),
    "other": Term("其他", "Other"),
}

STATUS: CodeList = {
    "received": Term("已接收", "Received"),
    "in_review": Term("审核中", "In review"),
    "assessed": Term("已评价", "Assessed"),
    "submitted": Term("已上报", "Submitted"),
    "closed": Term("已关闭", "Closed"),
    "invalid": Term("无效", "Invalid"),
    "duplicate": Term("重复", "Duplicate"),
}
NOT_FOR_REGULATOR = ("invalid", "duplicate")  # cases without a deadline
# Cases still owing the regulator a report.
OPEN_STATUSES = tuple(s for s in STATUS if s not in ("closed", *NOT_FOR_REGULATOR))

REPORT_KIND: CodeList = {
    "initial": Term("首次报告", "Initial report"),
    "follow_up": Term("跟踪报告", "Follow-up report"),
}

# The holder's form (上市许可持有人药品不良反应报告表, 2020) beyond the 2011 form's fields.
PREGNANT: CodeList = {
    "yes": Term("是", "Yes"),
    "no": Term("否", "No"),
    "unknown": Term("不详", "Not known"),
}
# Asked of a woman this old at the reaction (a girl of 12 may be pregnant; few women past 55).
CHILD_BEARING_AGE = (12, 55)
PREGNANCY_OUTCOME: CodeList = {
    "ongoing": Term("妊娠中", "Pregnancy continuing"),
    "live_birth": Term("活产", "Live birth"),
    "live_birth_anomaly": Term("活产(有先天异常)", "Live birth with a congenital anomaly"),
    "stillbirth": Term("死产", "Stillbirth"),
    "spontaneous_abortion": Term("自然流产", "Miscarriage"),
    "induced_abortion": Term("人工流产", "Termination"),
    "ectopic": Term("异位妊娠", "Ectopic pregnancy"),
    "unknown": Term("不详", "Unknown"),
}
# 采取的措施 with the drug (E2B G.k.8, codes 1 to 4, 0 and 9).
ACTION_TAKEN: CodeList = {
    "withdrawn": Term("停药", "Drug withdrawn"),
    "reduced": Term("减量", "Dose reduced"),
    "increased": Term("加量", "Dose increased"),
    "not_changed": Term("剂量不变", "Dose not changed"),
    "unknown": Term("不详", "Unknown"),
    "not_applicable": Term("不适用", "Not applicable"),
}
DURATION_UNIT: CodeList = {
    "min": Term("分钟", "minutes"),
    "h": Term("小时", "hours"),
    "d": Term("天", "days"),
    "wk": Term("周", "weeks"),
    "mo": Term("月", "months"),
    "a": Term("年", "years"),
}
CONTINUING: CodeList = {
    "yes": Term("是", "Yes"),
    "no": Term("否", "No"),
    "unknown": Term("不详", "Unknown"),
}
CHINA = "CN"  # 境外报告: a reaction that happened outside China mainland (HK, MO, TW too)
HOLDER_FIELDS: CodeList = {
    "patient_nationality": Term("国籍", "Nationality"),
    "patient_height_cm": Term("身高(cm)", "Height (cm)"),
    "autopsy": Term("是否尸检", "Autopsy done"),
    "autopsy_findings": Term("尸检结果", "Autopsy findings"),
    "pregnancy_lmp": Term("末次月经日期", "Last menstrual period"),
    "gestation_exposure_weeks": Term("用药时孕周", "Weeks of pregnancy at exposure"),
    "gestation_reaction_weeks": Term("发生不良反应时孕周", "Weeks of pregnancy at the reaction"),
    "pregnancy_outcome": Term("妊娠结局", "Outcome of the pregnancy"),
    "pregnancy_detail": Term("妊娠详情及转归", "Pregnancy details"),
    "parent_child": Term(
        "亲代-子代报告(不良反应发生于子代)", "Parent-child report (the reaction is in the child)"
    ),
    "parent_initials": Term("母亲/父亲姓名缩写", "Parent's initials"),
    "parent_age_years": Term("母亲/父亲年龄(岁)", "Parent's age (years)"),
    "parent_sex": Term("母亲/父亲性别", "Parent's sex"),
    "parent_weight_kg": Term("母亲/父亲体重(kg)", "Parent's weight (kg)"),
    "parent_height_cm": Term("母亲/父亲身高(cm)", "Parent's height (cm)"),
    "parent_history": Term("母亲/父亲相关病史", "Parent's relevant history"),
    # A related disease (相关疾病信息), a lab result (相关实验室检查信息), a drug's details.
    "disease-name": Term("疾病名称", "Disease"),
    "disease-start_date": Term("开始日期", "Started"),
    "disease-end_date": Term("结束日期", "Ended"),
    "disease-continuing": Term("报告当时疾病是否仍存在", "Still present when reported"),
    "disease-note": Term("备注", "Comments"),
    "lab-test_name": Term("检查项目", "Test"),
    "lab-test_date": Term("检查日期", "Date"),
    "lab-result": Term("检查结果", "Result"),
    "lab-unit": Term("单位", "Unit"),
    "lab-normal_low": Term("正常值下限", "Normal low"),
    "lab-normal_high": Term("正常值上限", "Normal high"),
    "lab-more_info": Term("补充信息", "More information"),
    "drug-dosage_form": Term("剂型", "Dosage form"),
    "drug-strength": Term("规格", "Strength"),
    "drug-expiry_date": Term("失效日期/有效期至", "Expiry date"),
    "drug-duration": Term("用药时间", "Total duration"),
    "drug-action_taken": Term("采取的措施", "Action taken with the drug"),
}


def _countries() -> CodeList:
    """Return the ISO 3166 countries and regions with their names from Babel's CLDR data."""
    from babel import Locale  # Flask-Babel's dependency

    zh, en = Locale.parse("zh_Hans_CN").territories, Locale("en").territories
    codes = [c for c in map(str, en) if len(c) == 2 and c.isalpha() and c[0] != "X" and c in zh]
    not_countries = {"EU", "EZ", "UN", "QO", "ZZ"}
    found = {c: Term(str(zh[c]), str(en[c])) for c in sorted(codes) if c not in not_countries}
    return found | CHINESE_REGIONS


# How a document of a holder in the PRC names the regions outside China mainland.
CHINESE_REGIONS: CodeList = {
    "HK": Term("中国香港", "Hong Kong, China"),
    "MO": Term("中国澳门", "Macao, China"),
    "TW": Term("中国台湾", "Taiwan, China"),
}


COUNTRIES: CodeList = _countries()


@cache  # every case page lists them
def countries(language: str) -> list[tuple[str, str]]:
    """Return the countries by code and name in `language`, China first, then by name."""
    names = [(code, term.text(language)) for code, term in COUNTRIES.items()]
    return sorted(names, key=lambda item: (item[0] != CHINA, item[1]))


def country_name(code: str | None, language: str) -> str:
    """Return a country's name in `language`, or the code itself when it is not in the list."""
    return label(COUNTRIES, code, language) or (code or "")


# 报告来源 on the holder's form, in the form's order (E2B C.1.CN.1).
HOLDER_REPORT_SOURCE: CodeList = {
    "hospital": Term("医疗机构", "Hospital"),
    "pharmacy": Term("经营企业", "Distributor or pharmacy"),
    "individual": Term("个人", "Individual"),
    "literature": Term("文献", "Literature"),
    "study": Term("研究", "Study"),
    "project": Term("项目", "Programme"),
    "other": Term("其他", "Other"),
    "regulator": Term("监管机构", "Regulator"),
}


def holder_report_source(source: str | None, organization_type: str | None) -> str:
    """Return the holder form's 报告来源: the workbook's 信息来源, the regulator apart.

    No source of ours is a 项目 (a patient programme): that box is never ticked.
    """
    return "regulator" if source == "regulator" else information_source(source, organization_type)


# The holder's form as printed (`adr.regulator.holder_form`) and its sheet of the monthly
# workbook: its title, its sections in order, and the items no other list names.
HOLDER_FORM: CodeList = {
    "title": Term(
        "上市许可持有人药品不良反应报告表(试行)",
        "Marketing authorisation holder's adverse drug reaction report (trial version)",
    ),
    "basics": Term("报告基本情况", "About the report"),
    "patient": Term("患者信息", "Patient"),
    "diseases": Term("相关疾病信息", "Related diseases"),
    "past_adr": Term("既往药品不良反应/过敏史", "Earlier drug reactions and allergies"),
    "history": Term("相关重要信息", "Relevant history"),
    "suspect": Term("怀疑用药", "Suspected drugs"),
    "concomitant": Term("合并用药", "Other drugs taken at the same time"),
    "reactions": Term("不良反应信息", "Reactions"),
    "description": Term("不良反应过程描述", "What happened, and the treatment"),
    "labs": Term("相关实验室检查信息", "Laboratory tests"),
    "pregnancy": Term("妊娠报告有关信息", "Pregnancy"),
    "parent": Term("亲代信息(亲代-子代报告)", "The parent (parent-child report)"),
    "reporter": Term("报告人/报告来源信息", "Reporter and source"),
    "remarks": Term("备注", "Remarks"),
    "serious_report": Term("严重报告", "Serious report"),
    "overseas_report": Term("境外报告", "Overseas report"),
    "case_number": Term("病例编号", "Case number"),
    "report_source": Term("报告来源", "Source of the report"),
    "patient_name": Term("患者姓名", "Patient's name"),
    "ethnicity": Term("民族/种族", "Ethnic group"),
    "patient_phone": Term("患者联系电话", "Patient's phone"),
    "hospital": Term("医疗机构名称", "Hospital"),
    "number": Term("序号", "No."),
    "brand_name": Term("商品名", "Brand name"),
    "generic_name": Term("通用名称", "Generic name"),
    "holder": Term("上市许可持有人/生产企业", "Holder or manufacturer"),
    "batch_number": Term("产品批号", "Batch number"),
    "dosage": Term("用法用量", "Dose, route and frequency"),
    "period": Term("用药起止日期", "Dates taken"),
    "reaction_name": Term("不良反应名称", "Reaction"),
    "llt": Term("MedDRA低位语(LLT)", "MedDRA LLT"),
    "pt": Term("MedDRA首选语(PT)", "MedDRA PT"),
    "onset": Term("发生日期", "Started"),
    "end": Term("结束日期", "Ended"),
    "serious": Term("是否严重", "Serious"),
    "criteria": Term("严重性标准", "Seriousness criteria"),
    "outcome": Term("结果", "Outcome"),
    "holder_causality": Term("持有人关联性评价", "Holder's causality assessment"),
    "death": Term("死亡", "Death"),
    "area": Term("发生地区", "Where it happened"),
    "interacting": Term("相互作用药品", "interacting drug"),
    "related_diseases": Term("相关疾病", "Related diseases"),
    "lab_results": Term("实验室检查", "Laboratory tests"),
    "normal_range": Term("正常值范围", "Normal range"),
    "company": Term("持有人名称", "Marketing authorisation holder"),
    "contact": Term("联系人", "Contact person"),
    "company_phone": Term("持有人联系电话", "Holder's phone"),
    "printed": Term("打印日期", "Printed"),
    "withheld": Term("(已隐去)", "(withheld)"),
    "yes": Term("是", "Yes"),
    "no": Term("否", "No"),
}


# 报告人职业 and 信息来源, derived for the regulator from what the reporter said.
OCCUPATION: CodeList = {
    "physician": Term("医生", "Doctor"),
    "pharmacist": Term("药师", "Pharmacist"),
    "nurse": Term("护士", "Nurse"),
    "other": Term("其他", "Other"),
}
INFORMATION_SOURCE: CodeList = {
    "hospital": Term("医疗机构", "Hospital"),
    "pharmacy": Term("经营企业", "Distributor or pharmacy"),
    "individual": Term("个人", "Individual"),
    "literature": Term("文献报道", "Literature"),
    "study": Term("上市后研究", "Post-marketing study"),
    "other": Term("其他", "Other"),
}


def label(codes: CodeList, code: str | None, language: str) -> str:
    """Return the label of `code` in `language`, or "" when the code is not in the list."""
    return codes[code].text(language) if code in codes else ""


def occupation(reporter_kind: str | None) -> str:
    """Return the 报告人职业 code for a reporter kind."""
    return reporter_kind if reporter_kind in OCCUPATION else "other"


def information_source(source: str | None, organization_type: str | None) -> str:
    """Return the 信息来源 code (export.md): by source, else by where the reporter works."""
    by_source = {
        "literature": "literature",
        "study": "study",
        "regulator": "other",
        "other": "other",
    }
    by_workplace = {"hospital": "hospital", "pharmacy": "pharmacy"}
    return by_source.get(source or "") or by_workplace.get(organization_type or "", "individual")


# Field labels, by HTML name (drug rows by their name within the row).
FIELDS: dict[str, Term] = {
    "follow_up_of": Term("首次报告编码(跟踪报告填写)", "Reference of your earlier report"),
    "remarks": Term("备注", "Remarks"),
    "reporter-kind": Term("报告人身份", "You are"),
    "reporter-organization_type": Term("所在单位类型", "Where you work"),
    "reporter-organization": Term("单位名称", "Organisation"),
    "reporter-name": Term("报告人姓名", "Your name"),
    "reporter-phone": Term("联系电话", "Phone"),
    "reporter-email": Term("电子邮箱", "E-mail"),
    "reporter-consent_contact": Term(
        "同意我们就本报告联系您", "We may contact you about this report"
    ),
    "reporter-consent_privacy": Term(
        "我已阅读并同意隐私声明", "I have read and agree to the privacy notice"
    ),
    "patient-name": Term("患者姓名(可填姓名缩写)", "Patient name or initials"),
    "patient-sex": Term("性别", "Sex"),
    "patient-birth_date": Term("出生日期", "Date of birth"),
    "patient-age": Term("年龄", "Age"),
    "patient-age_unit": Term("年龄单位", "Age unit"),
    "patient-ethnicity": Term("民族", "Ethnic group"),
    "patient-weight_kg": Term("体重(kg)", "Weight (kg)"),
    "patient-phone": Term("患者联系方式", "Patient phone"),
    "patient-disease": Term("原患疾病", "Condition being treated"),
    "patient-hospital": Term("医院名称", "Hospital"),
    "patient-record_number": Term("病历号/门诊号", "Medical record / outpatient no."),
    "patient-past_adr": Term("既往药品不良反应/事件", "Earlier drug reactions"),
    "patient-past_adr_detail": Term("既往不良反应情况", "Details"),
    "patient-family_adr": Term("家族药品不良反应/事件", "Reactions in the family"),
    "patient-family_adr_detail": Term("家族不良反应情况", "Details"),
    "patient-history": Term("相关重要信息", "Relevant history"),
    "patient-history_detail": Term("相关重要信息说明", "Details"),
    "drug-role": Term("药品类别", "Role"),
    "drug-approval_number": Term("批准文号", "Approval number"),
    "drug-brand_name": Term("商品名称", "Brand name"),
    "drug-generic_name": Term("通用名称(含剂型)", "Generic name (with dosage form)"),
    "drug-manufacturer": Term("生产厂家", "Manufacturer"),
    "drug-batch_number": Term("生产批号", "Batch / lot number"),
    "drug-dose": Term("每次剂量", "Dose each time"),
    "drug-dose_unit": Term("剂量单位", "Dose unit"),
    "drug-route": Term("给药途径", "Route"),
    "drug-frequency": Term("用药频次", "How often"),
    "drug-start_date": Term("用药开始时间", "Started"),
    "drug-end_date": Term("用药结束时间", "Stopped"),
    "drug-indication": Term("用药原因", "Reason for use"),
    "drug-expiry_date": Term("失效日期/有效期至", "Expiry date (on the pack)"),
    "drug-dosage_form": Term("剂型", "Dosage form"),
    "drug-strength": Term("规格", "Strength"),
    "patient-pregnant": Term("是否妊娠", "Was the patient pregnant?"),
    "event-province": Term("发生地区(省)", "Where it happened: province"),
    "event-city": Term("发生地区(市)", "Where it happened: city"),
    "event-name": Term("不良反应/事件名称", "Reaction"),
    "event-onset_date": Term("不良反应/事件发生时间", "Date it started"),
    "event-description": Term(
        "不良反应/事件过程描述(包括症状、体征、临床检验等)及处理情况",
        "What happened, tests and treatment",
    ),
    "event-outcome": Term("不良反应/事件的结果", "Outcome"),
    "event-sequelae_detail": Term("后遗症表现", "Lasting effects"),
    "event-death_cause": Term("直接死因", "Cause of death"),
    "event-death_date": Term("死亡时间", "Date of death"),
    "event-dechallenge": Term(
        "停药或减量后，反应/事件是否消失或减轻？",
        "Did it stop or ease after the drug was stopped or reduced?",
    ),
    "event-rechallenge": Term(
        "再次使用怀疑药品后是否再次出现同样反应/事件？",
        "Did it come back when the drug was taken again?",
    ),
    "event-disease_impact": Term("对原患疾病的影响", "Effect on the condition being treated"),
    "event-serious": Term("严重程度相关情况", "Because of the reaction, did any of these happen?"),
    "event-causality": Term("报告人关联性评价", "Your view of the link to the drug"),
    "case-source": Term("信息来源", "Source"),
    "case-awareness_date": Term("首次获知日期", "Date we first knew"),
    # A literature report's citation (staff, source `literature`; E2B C.4.r.1).
    "literature-authors": Term("作者", "Authors"),
    "literature-title": Term("文题", "Title"),
    "literature-journal": Term("期刊", "Journal"),
    "literature-year": Term("年份", "Year"),
    "literature-volume": Term("卷(期)", "Volume (issue)"),
    "literature-pages": Term("页码", "Pages"),
    "literature-doi": Term("DOI", "DOI"),
}

DRUG = Term("药品", "Drug")
# What staff record of a report beside the form's fields; corrections name them so too.
RECORD_FIELDS: CodeList = {
    "submitted_to_regulator_on": Term("上报日期", "Date sent to the national system"),
    "national_case_number": Term("国家系统报告编号", "National case number"),
    "investigation_reported_on": Term("死亡病例调查报告日期", "Death investigation reported"),
    # 境外报告 when not China mainland: it changes the deadline, so it is set as a correction.
    "occurrence_country": Term("不良反应发生国家/地区", "Country where the reaction occurred"),
}


# The labels staff read where the public form speaks to the reporter ("Your name"): the staff
# entry form, the case page, corrections and the safety inbox's mail (issue 21).
STAFF_FIELDS: CodeList = {
    "reporter-kind": Term("报告人身份", "Reporter is"),
    "reporter-organization_type": Term("报告人所在单位类型", "Reporter's workplace"),
    "reporter-organization": Term("报告人单位", "Reporter's organisation"),
    "reporter-name": Term("报告人姓名", "Reporter's name"),
    "reporter-phone": Term("报告人联系电话", "Reporter's phone"),
    "reporter-email": Term("报告人电子邮箱", "Reporter's e-mail"),
    "reporter-consent_contact": Term(
        "报告人同意就本报告接受随访", "The reporter agrees to be contacted about this report"
    ),
    "reporter-consent_privacy": Term(
        "报告人已同意隐私声明", "The reporter agreed to the privacy notice"
    ),
    "event-causality": Term("报告人关联性评价", "Reporter's causality assessment"),
    "follow_up_of": Term("所属病例首次报告编码", "Reference of the case's first report"),
}


def staff_term(name: str) -> Term:
    """Return the label staff read of a form field by its HTML name (`STAFF_FIELDS` first)."""
    return STAFF_FIELDS.get(name) or FIELDS.get(name) or RECORD_FIELDS[name]


def field_label(name: str, language: str) -> str:
    """Return the label staff read of a field by its HTML name; a drug row's names its number."""
    if name.startswith("drugs-"):
        _, index, key = name.split("-", 2)
        return f"{DRUG.text(language)} {int(index) + 1} {FIELDS['drug-' + key].text(language)}"
    return staff_term(name).text(language)


# Where the company heard of a report (report-form.md §6); staff enter all but `web`.
SOURCE: CodeList = {
    "web": Term("网站表单", "Web form"),
    "phone": Term("电话", "Phone"),
    "email": Term("电子邮件", "E-mail"),
    "letter": Term("信函", "Letter"),
    "visit": Term("面访", "Visit"),
    "sales": Term("销售/医药代表", "Sales or medical representative"),
    "literature": Term("文献报道", "Literature"),
    "study": Term("上市后研究", "Post-marketing study"),
    "regulator": Term("监管部门反馈", "Regulator's feedback"),
    "other": Term("其他", "Other"),
}
IMMEDIATELY = Term("立即", "Immediately")
NO_DEADLINE: CodeList = {
    "incomplete": Term("暂无时限(最低要素不全)", "No deadline yet (a minimum element missing)"),
    "not_for_regulator": Term("无需上报", "Not for the regulator"),
    "periodic": Term(
        "境外非严重：不需单独报告，纳入定期报告",
        "Overseas, not serious: no individual report, in the periodic report",
    ),
}
MINIMUM_ELEMENT: CodeList = {
    "patient": Term("可识别的患者", "An identifiable patient"),
    "reporter": Term("可识别的报告人", "An identifiable reporter"),
    "drug": Term("怀疑药品", "A suspected drug"),
    "reaction": Term("不良反应", "A reaction"),
}

EXPECTEDNESS: CodeList = {
    "listed": Term("已知(说明书已载明)", "Listed in the product label"),
    "new": Term("新的(说明书未载明)", "New (not in the label)"),
}

# The Naranjo questionnaire's ten questions; their scores are in `regulatory.NARANJO_SCORES`.
NARANJO: list[Term] = [
    Term(
        "该反应以前是否已有结论性报告？",
        "Are there previous conclusive reports on this reaction?",
    ),
    Term(
        "该反应是否在使用怀疑药品后出现？",
        "Did the reaction appear after the suspected drug was given?",
    ),
    Term(
        "停药或使用特异性拮抗剂后反应是否改善？",
        "Did it improve when the drug was stopped or an antagonist given?",
    ),
    Term(
        "再次使用怀疑药品后反应是否再现？",
        "Did it reappear when the drug was given again?",
    ),
    Term(
        "是否有其他原因可引起该反应？",
        "Are there other causes that could on their own have caused it?",
    ),
    Term(
        "给予安慰剂后反应是否再现？",
        "Did it reappear when a placebo was given?",
    ),
    Term(
        "血（或其他体液）中药物浓度是否达到中毒浓度？",
        "Was the drug found in blood or other fluids in toxic concentrations?",
    ),
    Term(
        "增加剂量反应加重或减少剂量反应减轻？",
        "Was it worse with a higher dose, or milder with a lower one?",
    ),
    Term(
        "患者以前用相同或类似药品是否有类似反应？",
        "Did the patient react the same way to the same or similar drugs before?",
    ),
    Term(
        "是否有客观证据证实该反应？",
        "Was the reaction confirmed by objective evidence?",
    ),
]
NARANJO_ANSWER: CodeList = {
    "yes": Term("是", "Yes"),
    "no": Term("否", "No"),
    "unknown": Term("不知道", "Don't know"),
}
NARANJO_BAND: CodeList = {
    "definite": Term("肯定(≥9分)", "Definite (9 or more)"),
    "probable": Term("很可能(5–8分)", "Probable (5 to 8)"),
    "possible": Term("可能(1–4分)", "Possible (1 to 4)"),
    "doubtful": Term("可疑(≤0分)", "Doubtful (0 or less)"),
}

PUBLIC_FORM = Term("公开报告表", "Public form")
INBOX_READER = Term("安全邮箱收取程序", "The safety inbox reader")  # `adr fetch-mail` in the trail
# How a message of the safety inbox was triaged (adr.inbox), and why one is not a report.
INBOX_OUTCOME: CodeList = {
    "new_report": Term("新报告", "New report"),
    "follow_up": Term("跟踪报告", "Follow-up"),
    "existing": Term("已在系统中", "Already in the system"),
    "not_report": Term("非不良事件报告", "Not an adverse event report"),
}
INBOX_REASON: CodeList = {
    "enquiry": Term("咨询", "Enquiry"),
    "complaint": Term("投诉(无不良事件)", "Complaint without an adverse event"),
    "spam": Term("垃圾邮件", "Spam"),
    "advertisement": Term("广告", "Advertisement"),
    "out_of_office": Term("自动回复", "Out of office"),
    "other": Term("其他", "Other"),
}
# Where a source document came from.
DOCUMENT_ORIGIN: CodeList = {
    "upload": Term("工作人员上传", "Uploaded by staff"),
    "web": Term("报告人随表提交", "Sent with the web form"),
    "email": Term("安全邮箱邮件", "Safety inbox message"),
    "attachment": Term("邮件附件", "Attachment of a message"),
}
# What a source document is, as its content showed it (its stored content type).
DOCUMENT_TYPE: CodeList = {
    "application/pdf": Term("PDF文件", "PDF"),
    "image/jpeg": Term("JPEG图片", "JPEG picture"),
    "image/png": Term("PNG图片", "PNG picture"),
    "message/rfc822": Term("邮件(.eml)", "E-mail message (.eml)"),
}
# Signals (adr.signals): what raised one, where it stands, and what was decided.
SIGNAL_TRIGGER: CodeList = {
    "prr": Term("比例报告比(PRR)", "Proportional reporting ratio (PRR)"),
    "ror": Term("报告比值比(ROR)", "Reporting odds ratio (ROR)"),
    "ic": Term("信息成分(IC)", "Information component (IC)"),
    "trend": Term("报告数异常增加", "Increase over the previous periods"),
    "fatal": Term("死亡病例", "Fatal case"),
    "unlisted": Term("严重且说明书未载明", "Serious and not listed"),
    "dme": Term("重点关注医学事件", "Designated medical event"),
}
SIGNAL_STATUS: CodeList = {
    "new": Term("待确认", "Awaiting validation"),
    "validated": Term("已确认", "Validated"),
    "refuted": Term("已排除", "Refuted"),
    "prioritised": Term("已定优先级", "Prioritised"),
    "evaluated": Term("已评价", "Evaluated"),
    "closed": Term("已关闭", "Closed"),
}
SIGNAL_STEP: CodeList = {
    "detected": Term("检出", "Detected"),
    "cases_added": Term("新增病例", "Cases added"),
    "validated": Term("确认", "Validated"),
    "refuted": Term("排除", "Refuted"),
    "prioritised": Term("确定优先级", "Prioritised"),
    "evaluated": Term("评价", "Evaluated"),
    "action_added": Term("制定措施", "Action planned"),
    "action_done": Term("措施完成", "Action completed"),
    "closed": Term("关闭", "Closed"),
    "reopened": Term("重新打开", "Reopened"),
}
SIGNAL_PRIORITY: CodeList = {
    "high": Term("高", "High"),
    "medium": Term("中", "Medium"),
    "low": Term("低", "Low"),
}
SIGNAL_CONCLUSION: CodeList = {
    "confirmed": Term("确认为风险", "Confirmed risk"),
    "refuted": Term("不构成风险", "Refuted"),
    "more_data": Term("需要更多数据", "Needs more data"),
}
SIGNAL_ACTION: CodeList = {
    "label_change": Term("修订说明书", "Label change"),
    "dhpc": Term("致医务人员的函", "Letter to health professionals"),
    "communication": Term("风险沟通", "Risk communication"),
    "study": Term("开展研究", "Study"),
    "other": Term("其他", "Other"),
}
# Group adverse events (adr.signals.group_events).
GROUP_EVENT_KIND: CodeList = {
    "cluster": Term("同一地区短期内多例", "Several cases in one area within days"),
    "deaths": Term("死亡病例聚集", "Deaths together"),
}
# Exposure staff type for periodic reports (adr.regulator.periodic).
EXPOSURE_UNIT: CodeList = {
    "packs": Term("销售量(盒)", "Packs sold"),
    "patient_days": Term("患者用药天数", "Patient-days"),
}
# Where a case came from, for the periodic tabulations by source (ICH E2C(R2) 6.3).
PERIODIC_SOURCE: CodeList = {
    "health_professional": Term("医务人员", "Health professionals"),
    "consumer": Term("消费者(患者及亲友)", "Consumers (patients and relatives)"),
    "literature": Term("文献报道", "Literature"),
    "study": Term("上市后研究", "Post-marketing studies"),
    "other": Term("其他", "Other"),
}
AUDIT_ACTION: CodeList = {
    "report received": Term("收到报告", "Report received"),
    "case viewed": Term("查看病例", "Case viewed"),
    "assessment": Term("评价", "Assessment"),
    "migrated": Term("数据迁移(病例合并)", "Moved to the case by an upgrade"),
    "deadline": Term("报告时限重新计算", "Deadline recomputed"),
    "follow-up redirected": Term(
        "跟踪报告归入原始病例(所引病例为重复)", "Follow-up filed to the original of a duplicate"
    ),
    "case reopened": Term("收到跟踪报告,病例重新打开", "Follow-up received: case reopened"),
    "note added": Term("添加备注", "Note added"),
    "product added": Term("添加产品", "Product added"),
    "product changed": Term("修改产品", "Product changed"),
    "batches imported": Term("导入批号登记", "Batch register imported"),
    "meddra imported": Term("导入 MedDRA", "MedDRA imported"),
    "batch updated": Term("批号日期更新", "Batch dates updated"),
    "login": Term("登录", "Signed in"),
    "login failed": Term("登录失败", "Sign-in failed"),
    "login alert": Term("多次登录失败提醒", "Repeated failed sign-ins: holder alerted"),
    "password check failed": Term("当前密码核对失败", "Current password wrong"),
    "logout": Term("退出", "Signed out"),
    "export downloaded": Term("下载报表", "Workbook downloaded"),
    "account created": Term("创建账户", "Account created"),
    "password set": Term("设置密码", "Password set"),
    "account deactivated": Term("停用账户", "Account deactivated"),
    "account reactivated": Term("启用账户", "Account reactivated"),
    "second factor enabled": Term("启用双重验证", "Second factor turned on"),
    "second factor removed": Term("移除双重验证", "Second factor removed"),
    "recovery code used": Term("使用恢复码", "Recovery code used"),
    "not a duplicate": Term("判定非重复病例", "Judged not a duplicate"),
    "E2B generated": Term("生成E2B(R3)电子报告", "E2B(R3) file generated"),
    "E2B downloaded": Term("下载E2B(R3)电子报告", "E2B(R3) file downloaded again"),
    "PDF downloaded": Term("下载持有人报告表(PDF)", "Holder's form downloaded as a PDF"),
    # The reactions section of the case page (adr.review.coding).
    "reaction coded": Term("不良反应MedDRA编码", "Reaction coded to MedDRA"),
    "reaction changed": Term("修改不良反应信息", "Reaction's values changed"),
    "reaction added": Term("添加不良反应", "Reaction added"),
    "reaction excluded": Term("判定为非不良反应", "Term set aside: not a reaction"),
    "reaction restored": Term("恢复为不良反应", "Term restored as a reaction"),
    "judgement changed": Term("修改药品与不良反应的评价", "Drug and reaction judgement changed"),
    "term coded": Term("适应症或病史MedDRA编码", "Indication or history coded to MedDRA"),
    # Case integrity (adr.cases): corrections, decisions, merges, four-eyes, follow-up claims.
    "corrected": Term("更正报告数据", "Received data corrected"),
    "assessment corrected": Term("更正此前评价", "Earlier assessment corrected"),
    "reason": Term("原因", "Reason"),
    "merged": Term("重复病例并入原始病例", "Duplicate merged into its original"),
    "merge undone": Term("撤销病例合并", "Merge undone"),
    "approval requested": Term("提交复核", "Approval requested"),
    "approved": Term("复核通过", "Approved"),
    "refused": Term("复核不通过", "Refused"),
    "follow-up claimed": Term("声称为跟踪报告(未核实)", "Says it follows up a case (unverified)"),
    "claim rejected": Term("否认跟踪报告声明", "Follow-up claim rejected"),
    "case assigned": Term("分配病例", "Case assigned"),
    # The holder's form on the case page (adr.review.holder).
    "holder changed": Term("修改持有人报告表信息", "Holder form item changed"),
    "disease added": Term("添加相关疾病", "Related disease added"),
    "disease changed": Term("修改相关疾病", "Related disease changed"),
    "disease removed": Term("删除相关疾病", "Related disease removed"),
    "disease coded": Term("相关疾病MedDRA编码", "Related disease coded to MedDRA"),
    "lab result added": Term("添加实验室检查", "Lab result added"),
    "lab result changed": Term("修改实验室检查", "Lab result changed"),
    "lab result removed": Term("删除实验室检查", "Lab result removed"),
    "lab result coded": Term("实验室检查MedDRA编码", "Lab test coded to MedDRA"),
    "drug details changed": Term("修改药品剂型、规格等信息", "Drug details changed"),
    # Source documents and the safety inbox (adr.inbox).
    "document added": Term("添加原始资料", "Source document added"),
    "document downloaded": Term("下载原始资料", "Source document downloaded"),
    "document taken back": Term(
        "撤销关联，邮件原件移出病例", "Link undone: the message taken off the case"
    ),
    "message stored": Term("收取邮件", "Inbox message stored"),
    "message triaged": Term("邮件分拣", "Inbox message triaged"),
    "message reconciled": Term("邮件自动核对", "Inbox message reconciled automatically"),
    "reconciliation downloaded": Term("下载邮箱核对表", "Inbox reconciliation downloaded"),
    # Signals, group events and periodic reports (adr.signals, adr.regulator.periodic).
    "signals run": Term("信号检测", "Signal detection run"),
    "signal step": Term("信号管理步骤", "Signal step recorded"),
    "signal log downloaded": Term("下载信号跟踪记录", "Signal tracking log downloaded"),
    "designated events changed": Term("修改重点关注事件清单", "Designated medical events changed"),
    "listed reactions coded": Term("说明书不良反应MedDRA编码", "Listed reactions coded"),
    "group event opened": Term("发现群体不良事件", "Group adverse event opened"),
    "group event changed": Term("群体不良事件处理记录", "Group adverse event recorded"),
    "group event downloaded": Term("下载群体不良事件基本信息表", "Group event form downloaded"),
    "exposure entered": Term("录入销售量/暴露量", "Exposure entered"),
    "periodic downloaded": Term("下载定期报告汇总表", "Periodic tabulations downloaded"),
    "meddra recoded": Term("MedDRA版本升级重新编码", "Recoded to a newer MedDRA version"),
    "exposure corrected": Term("更正或删除销售量/暴露量", "Exposure corrected or removed"),
}
ASSESSED_FIELD: CodeList = {
    "status": Term("处理状态", "Status"),
    "status_reason": Term("无效原因", "Why it is invalid"),
    "duplicate_of_id": Term("重复的原始报告", "Original of this duplicate"),
    "assessed_serious": Term("严重性标准(审核确认)", "Seriousness criteria (confirmed)"),
    "assessed_outcome": Term("不良反应结果(审核确认)", "Outcome (confirmed)"),
    "investigation_reported_on": Term("死亡病例调查报告日期", "Death investigation reported"),
    "investigation_due_at": Term("死亡病例调查时限", "Death investigation due"),
    "day_zero": Term("第0天", "Day 0"),
    "valid_case": Term("有效病例", "Valid case"),
    "follow_up_of": Term("所属首次报告", "First report of the case"),
    "expectedness": Term("是否新的", "Expectedness"),
    "company_causality": Term("报告单位关联性评价", "Company causality"),
    "naranjo_answers": Term("Naranjo 答案", "Naranjo answers"),
    "naranjo_score": Term("Naranjo 评分", "Naranjo score"),
    "submitted_to_regulator_on": Term("上报日期", "Sent to the national system"),
    "national_case_number": Term("国家系统报告编号", "National case number"),
    "serious": Term("严重", "Serious"),
    "report_category": Term("报告类型", "Report type"),
    "due_at": Term("报告时限", "Due"),
    "note": Term("备注", "Note"),
    "not_duplicate_of": Term("经核实并非其重复的病例", "Not a duplicate of"),
    "invalid_reason": Term("无效类别", "Invalid because"),
    "duplicate_of": Term("重复的原始报告", "Original of this duplicate"),
    "case": Term("所属病例", "Case"),
    "merge": Term("病例合并", "Merge"),
    "lapsed_due_at": Term("判为无效前已逾期的时限", "Deadline passed before found invalid"),
    "assigned_to": Term("负责人", "Assigned to"),
    "message": Term("安全邮箱邮件", "Inbox message"),  # its triage (adr.inbox.triage)
    "signal": Term("信号", "Signal"),
    "group_event": Term("群体不良事件", "Group adverse event"),
    "meddra_version": Term("MedDRA版本", "MedDRA version"),
    "designated_event": Term("重点关注医学事件", "Designated medical event"),
}
# Steps that wait for a second person under four-eyes (adr.cases.approvals).
APPROVAL_KIND: CodeList = {
    "invalid": Term("判定为无效", "Mark invalid"),
    "duplicate": Term("判定为重复并合并", "Mark duplicate and merge"),
    "close": Term("关闭病例", "Close the case"),
    "sent": Term("记录上报日期", "Record the date sent"),
    "correction": Term("更正报告数据", "Correct received data"),
    "reassessment": Term("改变报告时限的评价", "An assessment that moves a deadline"),
    "investigation": Term("记录死亡病例调查报告日期", "Record the death investigation's date"),
    "unmerge": Term("撤销病例合并", "Undo a merge"),
}
ROLE: CodeList = {
    "reviewer": Term("审核员", "Reviewer"),
    "admin": Term("管理员", "Administrator"),
}
MAIL_STATUS: CodeList = {
    "pending": Term("待发送", "Waiting"),
    "sending": Term("发送中", "Sending"),
    "sent": Term("已发送", "Sent"),
    "failed": Term("发送失败", "Failed"),
}


# The public form's plain words (issue 22): what a patient or a relative reads. A health
# professional reads the official term (`FIELDS` and the code lists, which staff pages, mails,
# the workbook and E2B keep) unless the field is in PLAIN_FOR_ALL. The codes do not change.
PUBLIC_FIELDS: CodeList = {
    "event-name": Term("出现了什么不舒服？", "What reaction did you have?"),
    "event-onset_date": Term("不舒服是哪天开始的？", "Date it started"),
    "event-description": Term("经过和处理", "What happened, tests and treatment"),
    "event-outcome": Term("现在怎么样了？", "How is it now?"),
    "event-sequelae_detail": Term("留下了什么后遗症？", "Lasting effects"),
    "event-death_cause": Term("去世的原因", "Cause of death"),
    "event-death_date": Term("去世的日期", "Date of death"),
    "event-serious": Term("这次不舒服有没有造成下面的情况？", "Did the reaction…"),
    "event-dechallenge": Term(
        "停药或减量以后，不舒服减轻或消失了吗？",
        "Did it stop or ease after the drug was stopped or reduced?",
    ),
    "event-rechallenge": Term(
        "后来又用过这个药吗？又出现同样的不舒服了吗？",
        "Did it come back when the drug was taken again?",
    ),
    "event-disease_impact": Term(
        "这次不舒服对原来的病有影响吗？", "Effect on the illness being treated"
    ),
    "reporter-kind": Term("谁在报告？", "Who is reporting?"),
    "reporter-organization_type": Term("您在哪类单位工作？", "Where you work"),
    "reporter-name": Term("您的姓名", "Your name"),
    "reporter-phone": Term("您的电话", "Your phone"),
    "patient-name": Term("患者姓名", "Patient name or initials"),
    "patient-weight_kg": Term("体重（公斤）", "Weight (kg)"),
    "patient-phone": Term("患者电话", "Patient phone"),
    "patient-disease": Term("患者原来有什么病？", "The patient's illnesses"),
    "patient-history": Term("患者有没有下面的情况？", "Relevant history"),
    "patient-history_detail": Term("请写明", "Details"),
    "patient-past_adr": Term("以前用药后出过不良反应吗？", "Earlier drug reactions"),
    "patient-past_adr_detail": Term("是什么药？出现了什么反应？", "Details"),
    "patient-family_adr": Term(
        "家里人（父母、兄弟姐妹、子女）用药后出过不良反应吗？", "Reactions in the family"
    ),
    "patient-family_adr_detail": Term("是谁？什么药？什么反应？", "Details"),
    "drug-role": Term("这个药是", "Role"),
    "drug-generic_name": Term("药名（通用名）", "Generic name (with dosage form)"),
    "drug-brand_name": Term("商品名", "Brand name"),
    "drug-dose": Term("每次用多少", "Dose each time"),
    "drug-dose_unit": Term("单位", "Dose unit"),
    "drug-route": Term("怎么用的", "Route"),
    "drug-frequency": Term("多久用一次", "How often"),
    "drug-start_date": Term("哪天开始用的", "Started"),
    "drug-end_date": Term("哪天停的", "Stopped"),
    "drug-indication": Term("用这个药治什么病", "Reason for use"),
    "drug-strength": Term("药盒上印的规格", "Strength printed on the pack"),
    "drug-expiry_date": Term("药盒上印的有效期至", "Expiry date printed on the pack"),
    "patient-pregnant": Term("当时是否怀孕？", "Was she pregnant at the time?"),
    "event-province": Term("省（区、市）", "Province"),
    "event-city": Term("市（县）", "City or county"),
    "follow_up_of": Term("之前那份报告的编码", "Reference of your earlier report"),
}
# Plain for a health professional too: who reports, how to reach them, the patient's
# particulars, and the choices of a list box (an <option> holds no second wording).
PLAIN_FOR_ALL = frozenset(
    {
        "reporter-kind", "reporter-organization_type", "reporter-name", "reporter-phone",
        "patient-name", "patient-weight_kg", "patient-phone", "patient-history",
        "patient-history_detail", "patient-past_adr", "patient-past_adr_detail",
        "patient-family_adr", "patient-family_adr_detail", "patient-sex", "patient-age_unit",
        "drug-role", "drug-dose_unit", "drug-route", "follow_up_of", "event-province",
        "event-city",
    }
)  # fmt: skip
PUBLIC_CODES: dict[str, CodeList] = {
    "event-serious": {
        "death": Term("患者去世", "The patient died"),
        "life_threatening": Term(
            "当时有生命危险（如休克、昏迷，需要抢救）", "Life was in danger at the time"
        ),
        "hospitalization": Term(
            "因此住院了，或住院时间延长了（只看了门诊或急诊的不算）",
            "A stay in hospital, or a longer one (not a clinic or emergency visit alone)",
        ),
        "disability": Term("留下了残疾或器官损害", "Lasting disability or organ damage"),
        "congenital_anomaly": Term(
            "孩子出生缺陷（怀孕时用药），或引起癌症",
            "A birth defect (taken in pregnancy), or cancer",
        ),
        "other_important": Term("医生说很严重的其他情况", "Something else a doctor called serious"),
    },
    "event-outcome": {
        "recovered": Term("已经好了", "Recovered"),
        "improving": Term("正在好转", "Getting better"),
        "not_recovered": Term("还没好转", "Not better"),
        "unknown": Term("不清楚", "Unknown"),
        "sequelae": Term("留下了后遗症", "Recovered with lasting effects"),
        "death": Term("患者已去世", "Death"),
    },
    "event-dechallenge": {
        "yes": Term("减轻了或消失了", "Yes"),
        "no": Term("没有减轻", "No"),
        "unknown": Term("不清楚", "Not known"),
        "not_applicable": Term("没有停药，也没有减量", "The drug was not stopped or reduced"),
    },
    "event-rechallenge": {
        "yes": Term("又用了，又出现了", "Yes"),
        "no": Term("又用了，没有再出现", "No"),
        "unknown": Term("不清楚", "Not known"),
        "not_applicable": Term("后来没有再用", "The drug was not taken again"),
    },
    "event-disease_impact": {
        "not_obvious": Term("没有明显影响", "No clear effect"),
        "prolonged": Term("原来的病好得更慢了", "It lasted longer"),
        "aggravated": Term("原来的病加重了", "It got worse"),
        "sequelae": Term("留下了后遗症", "It left lasting effects"),
        "death": Term("因此去世", "It led to death"),
    },
    "reporter-kind": {
        "patient": Term("为我自己（我用了这个药）", "For myself (I took the medicine)"),
        "relative": Term("为家人或朋友", "For a relative or a friend"),
        "physician": Term("我是医生", "I am a doctor"),
        "pharmacist": Term("我是药师", "I am a pharmacist"),
        "nurse": Term("我是护士", "I am a nurse"),
        "other_hcp": Term("我是其他医务人员", "I am another health professional"),
        "other": Term("其他人（如护工、照护者）", "Someone else (a carer, say)"),
    },
    "reporter-organization_type": {
        "hospital": Term("医院、诊所等医疗机构", "Hospital or clinic"),
        "pharmacy": Term("药店或医药公司", "Pharmacy or drug distributor"),
        "none": Term("不在医疗机构或药店工作", "Neither"),
    },
    "patient-sex": {"unknown": Term("不清楚", "Unknown")},
    "patient-pregnant": {"unknown": Term("不清楚", "Not known")},
    "patient-age_unit": {"month": Term("个月", "months")},
    "patient-history": {
        "smoking": Term("吸烟", "Smoking"),
        "alcohol": Term("经常喝酒", "Drinking alcohol"),
        "pregnancy": Term("用药时正在怀孕", "Pregnancy"),
        "liver_disease": Term("有肝病", "Liver disease"),
        "kidney_disease": Term("有肾病", "Kidney disease"),
        "allergy": Term("有过敏（对药物、食物等）", "Allergies"),
    },
    "drug-role": {
        "suspect": Term("怀疑引起不舒服的药（怀疑药品）", "Suspected drug"),
        "concomitant": Term("同时在用的其他药（并用药品）", "Other drug taken at the same time"),
    },
    "drug-route": {
        "oral": Term("口服（吃、喝）", "By mouth"),
        "iv": Term("输液或静脉打针", "Into a vein (drip or injection)"),
        "im": Term("肌肉打针", "Into a muscle"),
        "sc": Term("皮下打针（如胰岛素）", "Under the skin"),
        "topical": Term("外用（涂、贴、洗）", "On the skin"),
        "inhalation": Term("吸入（喷雾、雾化）", "Inhaled"),
        "rectal": Term("肛门用药（栓剂）", "Rectal"),
        "sublingual": Term("含在舌下", "Under the tongue"),
        "other": Term("其他（如滴眼、滴耳）", "Other"),
    },
    "drug-dose_unit": {
        "mg": Term("毫克（mg）", "mg"),
        "g": Term("克（g）", "g"),
        "ug": Term("微克（μg）", "µg"),
        "ml": Term("毫升（ml）", "ml"),
        "iu": Term("国际单位（IU）", "IU"),
    },
}

# China's provinces, autonomous regions, municipalities and special administrative regions
# (GB/T 2260 order): offered where the form asks where a reaction happened; any text is kept.
PROVINCES: tuple[Term, ...] = (
    Term("北京市", "Beijing"),
    Term("天津市", "Tianjin"),
    Term("河北省", "Hebei"),
    Term("山西省", "Shanxi"),
    Term("内蒙古自治区", "Inner Mongolia"),
    Term("辽宁省", "Liaoning"),
    Term("吉林省", "Jilin"),
    Term("黑龙江省", "Heilongjiang"),
    Term("上海市", "Shanghai"),
    Term("江苏省", "Jiangsu"),
    Term("浙江省", "Zhejiang"),
    Term("安徽省", "Anhui"),
    Term("福建省", "Fujian"),
    Term("江西省", "Jiangxi"),
    Term("山东省", "Shandong"),
    Term("河南省", "Henan"),
    Term("湖北省", "Hubei"),
    Term("湖南省", "Hunan"),
    Term("广东省", "Guangdong"),
    Term("广西壮族自治区", "Guangxi"),
    Term("海南省", "Hainan"),
    Term("重庆市", "Chongqing"),
    Term("四川省", "Sichuan"),
    Term("贵州省", "Guizhou"),
    Term("云南省", "Yunnan"),
    Term("西藏自治区", "Xizang (Tibet)"),
    Term("陕西省", "Shaanxi"),
    Term("甘肃省", "Gansu"),
    Term("青海省", "Qinghai"),
    Term("宁夏回族自治区", "Ningxia"),
    Term("新疆维吾尔自治区", "Xinjiang"),
    Term("台湾省", "Taiwan"),
    Term("香港特别行政区", "Hong Kong"),
    Term("澳门特别行政区", "Macao"),
)
