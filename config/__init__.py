"""Configuration: settings from the environment and the default policy files beside them."""

from pathlib import Path

from config.settings import ConfigError, Settings, load_settings

CONFIG_DIR = Path(__file__).resolve().parent

__all__ = ["CONFIG_DIR", "ConfigError", "Settings", "load_settings"]
