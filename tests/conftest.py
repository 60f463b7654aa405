"""Cross-service tests: contract suites, integration against the real stack, end to end."""
