"""Takes: the take lifecycle (``lifecycle``: start, stop, register, process, resume), the takes
in the database (``service``, ``views``), their files (``files``), the background work done on
them (``tasks``), attempts' results (``results``), the calibration sets they name
(``calibrations``) and the recording payloads (``schemas``)."""
