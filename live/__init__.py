"""Live work on the cameras' newest frames: the live 2D/3D skeleton (``pose``) and the
calibration wizard's engine (``wizard``). Each owns one thread and reads the camera group's
latest-frame slots; results go out through an ``emit(event, payload)`` callback."""
