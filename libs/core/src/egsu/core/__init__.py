"""What every EGSU TEK process shares: settings, errors, logging, telemetry and the service skeleton."""
