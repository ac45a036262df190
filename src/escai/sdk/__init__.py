"""The capture side of ESCAI: a cheap recorder on the caller's thread and exporters on a background thread."""
