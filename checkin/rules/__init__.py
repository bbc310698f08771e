"""Risk rules engine: assess a member's message as crisis / urgent / watch / none.

    >>> from checkin.rules import assess, AssessmentContext
    >>> assess("im gonna kms tonight").level
    'crisis'

Rules are data (config/rules/*.toml); see config/rules/en.toml for the format.
"""

from .engine import (
    ALL_LANGUAGES,
    DEFAULT_RULE_FILES,
    LEVELS,
    Assessment,
    AssessmentContext,
    Rule,
    RuleFileError,
    RuleSet,
    assess,
    assess_all_languages,
    default_ruleset,
    level_rank,
    load_ruleset,
)
from .normalize import normalize

__all__ = [
    "ALL_LANGUAGES",
    "DEFAULT_RULE_FILES",
    "LEVELS",
    "Assessment",
    "AssessmentContext",
    "Rule",
    "RuleFileError",
    "RuleSet",
    "assess",
    "assess_all_languages",
    "default_ruleset",
    "level_rank",
    "load_ruleset",
    "normalize",
]
