"""Run every benchmark in turn."""

from bench import export, intake, mail, review

if __name__ == "__main__":
    intake.main()
    mail.main()
    export.main()
    review.main()
