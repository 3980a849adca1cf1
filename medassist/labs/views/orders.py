"""views: orders."""
