"""VSION's configuration (``config.yaml``), under the name the original VSION used: see :mod:`config`."""
from config.edit import describe_cameras, dump_settings, seal_config, set_camera_url
from config.loader import load_settings, parse_settings, register_secrets
from config.logs import LOG_FORMAT, setup_logging
from config.masking import MaskSecretsFilter, mask_secrets, safe_url
from config.schema import (
    CAMERA_NAME,
    MAX_CAMERAS,
    BoardConfig,
    CameraConfig,
    CameraTuning,
    ConfigError,
    JobsConfig,
    LimitsConfig,
    PreviewConfig,
    RecordingConfig,
    SecurityConfig,
    ServerConfig,
    Settings,
)

__all__ = ["CAMERA_NAME", "LOG_FORMAT", "MAX_CAMERAS", "BoardConfig", "CameraConfig", "CameraTuning", "ConfigError",
           "JobsConfig", "LimitsConfig", "MaskSecretsFilter", "PreviewConfig", "RecordingConfig", "SecurityConfig", "ServerConfig", "Settings",
           "describe_cameras", "dump_settings", "load_settings", "mask_secrets", "parse_settings", "register_secrets",
           "safe_url", "seal_config", "set_camera_url", "setup_logging"]
