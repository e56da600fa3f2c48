"""The EDS validation service: CMS and X.509 of NCA RK (RSA, GOST R 34.10-2012)."""
