"""Live capture: cameras → latest-frame slots → (MJPEG preview | take recording | live work).

One module per job: ``camera`` reads one camera in its thread, ``slot`` holds its newest frame,
``preview`` encodes the MJPEG preview once for all viewers, ``recorder`` writes one camera of a
take, ``takefile`` is ``take.json`` (typed metadata, the recording in progress, crash recovery),
and ``group`` owns every camera together (the camera group, ``VideoProcessor``).
"""
