"""Run every benchmark in turn."""

from bench import intake, mail

if __name__ == "__main__":
    intake.main()
    mail.main()
