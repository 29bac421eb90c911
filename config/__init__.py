"""VSION's configuration file, ``config.yaml``: its schema, reading it, editing it in place.

``schema`` (pydantic models), ``loader`` (read and validate, decrypt camera URLs in memory),
``yamlfile`` (ruamel.yaml round trip: comments and order kept), ``edit`` (the changes VSION
makes itself), ``secretbox`` (camera URLs encrypted at rest), ``masking`` (secrets never shown),
``logs`` (the log format).
"""
