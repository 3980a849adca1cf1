"""selectors: results."""
