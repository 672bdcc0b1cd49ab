"""Reading a text file a user named, with every way it can fail as one line saying what to do."""

from __future__ import annotations

from pathlib import Path


class UnreadableFileError(Exception):
    """The file cannot be read as UTF-8 text; the message says why (without the path)."""


def read_text(path: Path) -> str:
    """The UTF-8 text of `path`, or `UnreadableFileError` (a missing file, a directory, bad bytes)."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UnreadableFileError("no such file") from None
    except IsADirectoryError:
        raise UnreadableFileError("a directory, not a file") from None
    except OSError as error:
        raise UnreadableFileError(f"cannot read the file: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise UnreadableFileError(f"not UTF-8 text (byte {error.start}): save the file as UTF-8") from None
