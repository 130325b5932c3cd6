"""User names that cannot pass for another's (issue 20.9)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("name", ["lі", "Li", "l1", "LI", "ⅼi"])
def test_a_name_that_looks_like_an_existing_user_is_refused(tmp_path, name: str) -> None:
    # Issue 20.9: `lі` with a Cyrillic і was accepted next to `li`, and approved as someone else.
    from datetime import UTC, datetime

    from ledctl.errors import LedctlError
    from ledctl.notices.users import User, Users

    users = Users(tmp_path / "s.sqlite")
    at = datetime(2026, 11, 25, tzinfo=UTC)
    root = users.add("root", "admin", "root-password-1", at, None)
    users.add("li", "approver", "li-password-123", at, root)
    with pytest.raises(LedctlError, match=r"looks like the existing user 'li'|mixes|write it as"):
        users.add(name, "approver", "other-password-1", at, root)
    assert users.add("王伟", "operator", "wang-password-1", at, root) == User("王伟", "operator")
    assert users.add("liu", "operator", "liu-password-12", at, root).name == "liu"
