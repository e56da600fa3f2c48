"""Validation, estimation and editing (VEE) of readings: the rule engine and the estimators.

``rules`` names the checks and their bits, ``config`` says which checks apply to which commodity
and quantity and with what thresholds, ``engine`` runs them over a batch and its context with
numpy, ``estimate`` fills gaps and rejected intervals. Nothing here touches the database.
"""
