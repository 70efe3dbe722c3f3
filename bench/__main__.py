"""Run every benchmark in turn."""

from bench import intake

if __name__ == "__main__":
    intake.main()
