"""Reports, recommendations, open data and queries of state bodies."""
