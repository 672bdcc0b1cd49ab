"""Where a command may write: checked before it writes anything."""

from __future__ import annotations

import os
from pathlib import Path


def why_no_files_can_go_in(directory: Path) -> str | None:
    """Why files cannot be created in `directory` (made if missing), or None when they can."""
    current = directory
    while True:
        try:
            if current.is_dir():
                break
        except OSError as error:  # e.g. a parent that cannot be searched
            return f"{current}: {error.strerror}"
        if os.path.lexists(current):
            return f"{current} is a broken symbolic link" if current.is_symlink() else f"{current} is a file"
        if current.parent == current:
            return f"{current} does not exist"
        current = current.parent
    # Files are written beside their target and renamed, so the directory itself must be writable.
    if not os.access(current, os.W_OK | os.X_OK):
        return f"{current} is not writable"
    return None
