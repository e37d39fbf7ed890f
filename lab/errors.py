"""The one exception type the lab raises for problems a user can fix (bad audio, bad text,
unknown model id, a capture that came back empty). Apps show its message; they never show a
traceback for it."""


class LabError(ValueError):
    """A problem with the user's input or environment, with a message that names it."""
