"""views: results."""
