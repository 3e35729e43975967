"""What the commands write: one module per output (health report, watch table, ping, sentry-test,
config). Renderers take values and a Terminal; they choose no exit code."""
