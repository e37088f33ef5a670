"""Reference solutions, generated from the source notebooks by `python -m course.solutions`."""
