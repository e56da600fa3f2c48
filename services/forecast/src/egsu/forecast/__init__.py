"""Demand forecasting, back-testing, hierarchy reconciliation and analytics."""
