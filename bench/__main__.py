"""Run every benchmark in turn."""

from bench import (
    compliance,
    duplicates,
    e2b,
    export,
    holder_pdf,
    inbox_storage,
    intake,
    join_notices,
    journey,
    listing,
    load,
    mail,
    meddra,
    meddra_upgrade,
    pages,
    periodic,
    review,
    signal_pages,
    signals,
    triage,
)

if __name__ == "__main__":
    intake.main()
    pages.main()
    mail.main()
    load.main()
    export.main()
    review.main()
    duplicates.main()
    compliance.main()
    listing.main()
    meddra.main()
    e2b.main()
    holder_pdf.main()
    triage.main()
    journey.main()
    inbox_storage.main()
    signal_pages.main()
    signals.main()
    join_notices.main()
    periodic.main()
    meddra_upgrade.main()
