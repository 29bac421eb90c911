"""Work cards ("fiches de travail"): authoring, steps, publishing and visibility (``service``),
and their payloads (``schemas``)."""
