"""Plain-language messages about postures, in English and French.

A message is a JSON-ready dict: ``key`` (the template), ``params`` (the numbers and names it
uses), and ``text`` ``{"en": ..., "fr": ...}`` rendered from the templates below, so that the
command line can print it as it is and a page can render ``key`` + ``params`` in its own
language. Pure; thread-safe.
"""
from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "fr")

# What is measured in an exposure (see scoring.ergonomics.EXPOSURES), as a noun phrase.
EXPOSURE_TEXT: dict[str, dict[str, str]] = {
    "back_bent_20": {"en": "back bent more than 20°", "fr": "dos penché de plus de 20°"},
    "back_bent_60": {"en": "back bent more than 60°", "fr": "dos penché de plus de 60°"},
    "back_twisted": {"en": "back twisted or bent sideways more than 20°",
                     "fr": "dos tourné ou incliné sur le côté de plus de 20°"},
    "neck_bent_20": {"en": "neck bent forward more than 20°", "fr": "cou penché en avant de plus de 20°"},
    "neck_extended": {"en": "head tilted back more than 10°", "fr": "tête basculée en arrière de plus de 10°"},
    "arm_raised_45": {"en": "arm raised more than 45°", "fr": "bras levé de plus de 45°"},
    "arm_raised_90": {"en": "arm raised above the shoulder", "fr": "bras levé au-dessus de l'épaule"},
    "knees_bent_60": {"en": "knees bent more than 60°", "fr": "genoux fléchis de plus de 60°"},
    "high_risk": {"en": "high-risk posture (RULA 5+ or REBA 8+)", "fr": "posture à risque élevé (RULA 5+ ou REBA 8+)"},
}

TEMPLATES: dict[str, dict[str, str]] = {
    "exposure_longer": {
        "en": "{step}: {what} for {attempt_s} s (reference: {reference_s} s)",
        "fr": "{step} : {what} pendant {attempt_s} s (référence : {reference_s} s)",
    },
    "lifting_index_higher": {
        "en": "{step}: lifting index {attempt_li} (reference: {reference_li}); hands {attempt_h_cm} cm in front "
              "of the ankles (reference: {reference_h_cm} cm)",
        "fr": "{step} : indice de levage {attempt_li} (référence : {reference_li}) ; mains à {attempt_h_cm} cm "
              "devant les chevilles (référence : {reference_h_cm} cm)",
    },
    "risky_step": {
        "en": "{step}: high-risk posture for {seconds} s (worst: RULA {rula}, REBA {reba} at {at_s} s)",
        "fr": "{step} : posture à risque élevé pendant {seconds} s (pire : RULA {rula}, REBA {reba} à {at_s} s)",
    },
    "risky_exposure": {
        "en": "{step}: {what} for {seconds} s",
        "fr": "{step} : {what} pendant {seconds} s",
    },
    "lift_over_limit": {
        "en": "{step}: lifting index {li}: the load ({load_kg} kg) is over the recommended weight limit ({rwl_kg} kg)",
        "fr": "{step} : indice de levage {li} : la charge ({load_kg} kg) dépasse la limite de poids recommandée "
              "({rwl_kg} kg)",
    },
}


def step_label(number: int, name: str, lang: str) -> str:
    """"Step 2 (Lift the box)" / "Étape 2 (Lift the box)"; the name alone if it already says so."""
    word = "Step" if lang == "en" else "Étape"
    if not name or name.strip().lower() in (f"step {number}", f"étape {number}", f"etape {number}"):
        return f"{word} {number}"
    return f"{word} {number} ({name})"


def _number(value: object, lang: str) -> str:
    if isinstance(value, float):
        text = f"{value:.2f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:.1f}".rstrip("0").rstrip(".")
        return text.replace(".", ",") if lang == "fr" else text
    return str(value)


def render(key: str, params: dict, lang: str) -> str:
    """The message ``key`` with ``params`` in ``lang`` (``en`` or ``fr``). Numbers are written with
    at most 2 decimals (1 above 10), with a decimal comma in French; ``what`` (an exposure key)
    and ``step`` (``{"number", "name"}``) are translated."""
    values = {k: _number(v, lang) for k, v in params.items()}
    if "what" in params:
        values["what"] = EXPOSURE_TEXT[params["what"]][lang]
    if "step" in params:
        values["step"] = step_label(params["step"]["number"], params["step"]["name"], lang)
    return TEMPLATES[key][lang].format(**values)


def message(key: str, **params: object) -> dict:
    """A message dict: ``key``, ``params`` and ``text`` in every language."""
    return {"key": key, "params": params, "text": {lang: render(key, params, lang) for lang in LANGUAGES}}
