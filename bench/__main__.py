"""Run every benchmark in turn."""

from bench import export, intake, load, mail, review

if __name__ == "__main__":
    intake.main()
    mail.main()
    load.main()
    export.main()
    review.main()
