"""What a password must be: at least :data:`MIN_PASSWORD` characters and not easy to guess.

Guessability is zxcvbn's estimate (Dropbox's algorithm: common passwords, words, names, keyboard
patterns, repeats, dates, and the account's own name), which must reach :data:`MIN_SCORE`
(about 10^8 guesses). The refusal says why, with zxcvbn's own advice, so whoever chooses the
password can choose better (users page, ``users create``, the API).
"""
from __future__ import annotations

from zxcvbn import zxcvbn

MIN_PASSWORD, MAX_PASSWORD = 12, 200
MIN_SCORE = 3          # zxcvbn's 0..4: 3 = "safely unguessable" (>= 10^8 guesses)
CHECKED_CHARS = 100    # zxcvbn's time grows fast with length; the first 100 characters decide


def password_problem(password: str, user_inputs: tuple[str, ...] = ()) -> str | None:
    """Why ``password`` may not be used (one line, English), or None. ``user_inputs``: words the
    account itself gives away (its name), which make a password easier to guess. Thread-safe."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        return f"password: at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"password: at most {MAX_PASSWORD} characters"
    result = zxcvbn(password[:CHECKED_CHARS], user_inputs=[u for u in user_inputs if u])
    if result["score"] >= MIN_SCORE:
        return None
    feedback = result.get("feedback") or {}
    why = (feedback.get("warning") or "it follows a common pattern").rstrip(".")
    advice = " ".join(feedback.get("suggestions") or ["Add another word or two. Uncommon words are better."])
    return f"password: too easy to guess ({why}). {advice}"
