"""What differs between tasks (multi-class, multi-label, regression, and each on text pairs), behind one `Task`."""
