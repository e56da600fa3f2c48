"""Real-time monitoring: live state, alarm rules, the alarm life cycle, notifications."""
