"""Run every benchmark in turn."""

from bench import (
    compliance,
    duplicates,
    e2b,
    export,
    holder_pdf,
    inbox_storage,
    intake,
    journey,
    listing,
    load,
    mail,
    meddra,
    pages,
    periodic,
    review,
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
    periodic.main()
