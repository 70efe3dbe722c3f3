"""Run every benchmark in turn."""

from bench import duplicates, export, intake, load, mail, pages, review

if __name__ == "__main__":
    intake.main()
    pages.main()
    mail.main()
    load.main()
    export.main()
    review.main()
    duplicates.main()
