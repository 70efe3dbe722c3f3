"""What the company hands the regulator: the monthly workbook, the compliance figures, the
periodic line listing, and the national system's acknowledgements of its E2B files.

The E2B builder (`adr.e2b`) and MedDRA (`adr.meddra`) join this package when an issue next
changes them.
"""
