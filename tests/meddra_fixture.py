"""A small synthetic MedDRA release in the MedAscii format, English and Chinese.

Its codes and hierarchy are made up (MedDRA itself is licensed and never ships with the
project); its files have the fields and layout of a real release, so `adr import-meddra`
reads them as it reads the company's.
"""

from __future__ import annotations

from pathlib import Path

VERSION = "27.1"
# code: (English, Chinese)
SOCS = {
    80000001: ("Skin and subcutaneous tissue disorders", "皮肤及皮下组织类疾病"),
    80000002: ("Gastrointestinal disorders", "胃肠系统疾病"),
    80000003: ("Nervous system disorders", "各类神经系统疾病"),
    80000004: ("Hepatobiliary disorders", "肝胆系统疾病"),
    80000005: ("Immune system disorders", "免疫系统疾病"),
    80000006: ("General disorders", "全身性疾病及给药部位各种反应"),
    80000007: ("Cardiac and respiratory disorders", "心脏及呼吸系统疾病"),
}
# PT code: (English, Chinese, its SOC); each PT's HLGT is 81 and HLT 82 followed by its digits.
PTS = {
    83000001: ("Rash", "皮疹", 80000001),
    83000002: ("Pruritus", "瘙痒", 80000001),
    83000003: ("Urticaria", "荨麻疹", 80000001),
    83000004: ("Nausea", "恶心", 80000002),
    83000005: ("Vomiting", "呕吐", 80000002),
    83000006: ("Diarrhoea", "腹泻", 80000002),
    83000007: ("Dizziness", "头晕", 80000003),
    83000008: ("Headache", "头痛", 80000003),
    83000009: ("Hepatic function abnormal", "肝功能异常", 80000004),
    83000010: ("Anaphylactic shock", "过敏性休克", 80000005),
    83000011: ("Chills", "寒战", 80000006),
    83000012: ("Pyrexia", "发热", 80000006),
    83000013: ("Palpitations", "心悸", 80000007),
    83000014: ("Chest discomfort", "胸闷", 80000007),
    83000015: ("Dyspnoea", "呼吸困难", 80000007),
    83000016: ("Hypertension", "高血压", 80000007),
}
# LLT code: (English, Chinese, its PT, current). Each PT is also an LLT of the same code.
LLTS = {
    **{code: (en, zh, code, True) for code, (en, zh, _soc) in PTS.items()},
    84000001: ("Skin rash", "皮肤皮疹", 83000001, True),
    84000002: ("Rash generalised", "全身皮疹", 83000001, True),
    84000003: ("Itching", "发痒", 83000002, True),
    84000004: ("Itch NOS", "瘙痒NOS", 83000002, False),  # no longer current
    84000005: ("Feeling sick", "感到恶心", 83000004, True),
    84000006: ("Liver function test abnormal", "肝功能检查异常", 83000009, True),
    84000007: ("Fever", "发烧", 83000012, True),
    84000008: ("Shortness of breath", "气短", 83000015, True),
}
RASH, PRURITUS, ANAPHYLACTIC_SHOCK, HYPERTENSION = 83000001, 83000002, 83000010, 83000016
NOT_CURRENT = 84000004
# The reactions of the demo data (adr.demo.REACTIONS), each with its LLT.
DEMO_CODES = {zh: code for code, (_en, zh, _pt, current) in LLTS.items() if current}


def write_release(
    folder: Path,
    language: str = "en",
    version: str = VERSION,
    pts: dict[int, tuple[str, str, int]] | None = None,
    llts: dict[int, tuple[str, str, int, bool]] | None = None,
) -> Path:
    """Write the release's MedAscii files in `language` (en, zh) into `folder`; return it.

    `pts` and `llts` replace the terms above (a later version's changes).
    """
    folder.mkdir(parents=True, exist_ok=True)
    pts, llts = pts or PTS, llts or LLTS
    name = 0 if language == "en" else 1

    def write(file: str, lines: list[list[object]]) -> None:
        text = "".join("$".join(map(str, fields)) + "$\n" for fields in lines)
        (folder / file).write_text(text, encoding="utf-8")

    def hlgt(soc: int) -> int:
        return 81000000 + soc % 1000

    def hlt(soc: int) -> int:
        return 82000000 + soc % 1000

    write("meddra_release.asc", [[version, "English" if language == "en" else "Chinese", "", ""]])
    write(
        "soc.asc",
        [[code, names[name], "SOC" + str(code)[-1], *[""] * 7] for code, names in SOCS.items()],
    )
    write(
        "hlgt.asc",
        [[hlgt(code), names[name] + " (HLGT)", *[""] * 7] for code, names in SOCS.items()],
    )
    write(
        "hlt.asc", [[hlt(code), names[name] + " (HLT)", *[""] * 7] for code, names in SOCS.items()]
    )
    write("pt.asc", [[code, term[name], "", term[2], *[""] * 7] for code, term in pts.items()])
    write(
        "llt.asc",
        [
            [code, term[name], term[2], "", "", "", "", "", "", "Y" if term[3] else "N", ""]
            for code, term in llts.items()
        ],
    )
    write(
        "mdhier.asc",
        [
            [
                code,
                hlt(soc),
                hlgt(soc),
                soc,
                (en, zh)[name],
                "",
                "",
                SOCS[soc][name],
                "",
                "",
                soc,
                "Y",
            ]
            for code, (en, zh, soc) in pts.items()
        ],
    )
    write("hlt_pt.asc", [[hlt(term[2]), code] for code, term in pts.items()])
    write("hlgt_hlt.asc", [[hlgt(code), hlt(code)] for code in SOCS])
    write("soc_hlgt.asc", [[code, hlgt(code)] for code in SOCS])
    return folder
