"""The safety inbox and the source documents of cases.

The inbox's messages read over IMAP and stored whole (`messages`, `fetch`), their triage into
reports, follow-ups and what is not a report, the month's reconciliation of the mailbox against
the case list, and the files kept with each case: letters, scans, photos, articles (原始记录,
`documents`).
"""
