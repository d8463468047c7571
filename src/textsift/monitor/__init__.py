"""Monitor a stream of texts: store predictions, aggregate them in SQL, detect surges, alert and show them."""
