"""services: results."""
