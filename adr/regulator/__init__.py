"""What the company hands the regulator: the monthly workbook, the compliance figures, the
periodic line listing, the E2B(R3) files and the national system's acknowledgements of them.

MedDRA (`adr.meddra`) joins this package when an issue next changes it.
"""
