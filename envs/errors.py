"""The one exception type for mistakes a user can make (bad config, bad path, missing game)."""


class UserError(Exception):
    """A problem the user can fix. The CLI prints its message on one line and exits with status 2."""
