"""Which configuration files the user trusts to run their rule directories, remembered per file and content.

Rule files are code; a configuration found by searching upward (a cloned repository, a bundle you cd into) may
come from someone else, so its `rules_dirs` run only once the user has allowed it. Like `direnv allow`: the
record names the file and the SHA-256 of its bytes, so trust given to a repository's configuration does not carry
over to a different file at another path (a bundle you cd into), nor to the same file after someone changes it (a
pull that adds a rules directory). It lives in the user's configuration directory, which a project cannot write.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path


def trust_store() -> Path:
    """The file that remembers trusted configuration files: the per-user configuration directory + inferscope
    ($XDG_CONFIG_HOME or ~/.config on Linux and other Unixes, ~/Library/Application Support on macOS,
    %APPDATA% on Windows)."""
    if sys.platform == "win32":
        base = os.environ.get("APPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Roaming")
    elif sys.platform == "darwin":
        base = os.path.join(os.path.expanduser("~"), "Library", "Application Support")
    else:
        xdg = os.environ.get("XDG_CONFIG_HOME", "")
        base = xdg if xdg and os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "inferscope" / "trusted-rules.json"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _trusted() -> dict[str, str]:
    """{resolved path: sha256}; an unreadable or damaged store trusts nothing (it never runs more rules)."""
    try:
        data = json.loads(trust_store().read_text(encoding="utf-8"))
        return {str(k): str(v) for k, v in data.get("trusted", {}).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def trust_state(path: Path) -> str:
    """ "trusted" (this file with this content), "changed" (trusted with other content) or "unknown"."""
    known = _trusted().get(str(Path(path).resolve()))
    if known is None:
        return "unknown"
    try:
        return "trusted" if known == _digest(Path(path)) else "changed"
    except OSError:
        return "unknown"


def remember_trust(path: Path) -> str | None:
    """Trust `path` with its current content from now on; a warning line if the record cannot be written."""
    store = trust_store()
    try:
        trusted = _trusted()
        trusted[str(Path(path).resolve())] = _digest(Path(path))
        store.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = store.with_name(f".{store.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"trusted": trusted}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, store)
    except OSError as exc:
        return (
            f"cannot remember that you trust {path} ({exc.strerror or exc}): pass --trust-config-rules again next time"
        )
    return None
