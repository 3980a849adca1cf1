"""Pages of the labs app: orders.py (ordering, collection, labels, custody, pending board,
catalog) and results.py (inbox, results, release, alerts, trends, the error queue)."""
