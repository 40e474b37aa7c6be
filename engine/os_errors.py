"""What the system said about a file, in the words a person reads.

The command line and the window both name the file themselves ("cannot write t.json: ..."), so
the reason comes without its ``[Errno 21]`` and without the path (or the temporary file's name)
that ``str(OSError)`` carries.
"""

from __future__ import annotations

import errno


def os_reason(exc: OSError) -> str:
    """``exc``'s reason, lower-case first, without its errno and the paths."""
    if exc.errno == errno.EISDIR:
        return "it is a folder"
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]
