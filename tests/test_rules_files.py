"""Rule files: loading, extension, malformed files, and the `assess` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from checkin.rules import RuleFileError, assess, default_ruleset, load_ruleset
from checkin.rules.cli import assess_command
from checkin.rules.engine import DEFAULT_RULE_FILES

CORPUS = Path(__file__).parent / "corpus" / "risk_corpus.tsv"

GOOD = """language = "en"

[[rule]]
id = "local.fire_drill"
level = "urgent"
reason = "deployment-specific phrase"
phrases = ["red balloon"]
"""


def write(tmp_path: Path, text: str, name: str = "rules.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_extra_rule_file_extends_defaults(tmp_path):
    extra = write(tmp_path, GOOD)
    rs = load_ruleset([*DEFAULT_RULE_FILES, extra])
    a = assess("I saw a RED   balloon today", ruleset=rs)
    assert a.level == "urgent" and "local.fire_drill" in a.rules
    assert assess("i saw a red balloon").level == "none"  # default ruleset unchanged
    rs2 = default_ruleset(extra_paths=[extra])
    assert assess("red balloon", ruleset=rs2).level == "urgent"
    assert assess("im going to kill myself", ruleset=rs2).level == "crisis"


def test_extra_rule_file_can_use_default_macros(tmp_path):
    extra = write(
        tmp_path, GOOD.replace('phrases = ["red balloon"]', "patterns = ['swallow \\w+ (?:{PILLS})']")
    )
    rs = load_ruleset([*DEFAULT_RULE_FILES, extra])
    assert "local.fire_drill" in assess("i might swallow some pills", ruleset=rs).rules


def line_of(text: str, needle: str) -> int:
    """Line number of the LAST line containing needle (the offending rule is appended)."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert hits, needle
    return hits[-1]


BAD = {
    "toml_syntax": (GOOD + '\n[[rule]]\nid = "x"\nlevel = "urgent\n', 'level = "urgent', "TOML"),
    "missing_id": (GOOD + '\n[[rule]]\nlevel = "urgent"\nphrases = ["x"]\n', "[[rule]]", "missing an 'id'"),
    "missing_level": (
        GOOD + '\n[[rule]]\nid = "local.nolevel"\nphrases = ["x"]\n',
        'id = "local.nolevel"',
        "missing 'level'",
    ),
    "missing_pattern": (
        GOOD + '\n[[rule]]\nid = "local.nopattern"\nlevel = "watch"\n',
        'id = "local.nopattern"',
        "no 'pattern'",
    ),
    "unknown_level": (
        GOOD + '\n[[rule]]\nid = "local.badlevel"\nlevel = "severe"\nphrases = ["x"]\n',
        'id = "local.badlevel"',
        "unknown level 'severe'",
    ),
    "bad_regex": (
        GOOD + '\n[[rule]]\nid = "local.badregex"\nlevel = "watch"\npattern = \'(unclosed\'\n',
        'id = "local.badregex"',
        "does not compile",
    ),
    "duplicate_id": (
        GOOD + '\n[[rule]]\nid = "local.fire_drill"\nlevel = "watch"\nphrases = ["y"]\n',
        None,
        "duplicate rule id 'local.fire_drill'",
    ),
    "unknown_macro": (
        GOOD + '\n[[rule]]\nid = "local.macro"\nlevel = "watch"\npattern = \'{NOPE} x\'\n',
        'id = "local.macro"',
        "unknown macro",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_malformed_rule_file_names_file_line_and_reason(tmp_path, kind):
    text, needle, reason = BAD[kind]
    p = write(tmp_path, text)
    with pytest.raises(RuleFileError) as info:
        load_ruleset([p])
    err = info.value
    if needle is None:  # duplicate: the second occurrence of the id
        expected_line = [n for n, l in enumerate(text.splitlines(), 1) if 'id = "local.fire_drill"' in l][1]
    else:
        expected_line = line_of(text, needle)
    assert err.file == str(p)
    assert err.line == expected_line, str(err)
    assert reason in err.reason
    assert str(err).startswith(f"{p}:{expected_line}: ")


def test_duplicate_id_across_files(tmp_path):
    a = write(tmp_path, GOOD, "a.toml")
    b = write(tmp_path, GOOD, "b.toml")
    with pytest.raises(RuleFileError) as info:
        load_ruleset([a, b])
    assert info.value.file == str(b) and info.value.line == 4
    assert str(a) in info.value.reason


def test_missing_rule_file(tmp_path):
    with pytest.raises(RuleFileError) as info:
        load_ruleset([tmp_path / "nope.toml"])
    assert "cannot read" in str(info.value)


def test_default_rule_files_load():
    rs = default_ruleset()
    ids = [r.id for r in rs.rules] + [c.id for c in rs.combines]
    assert len(ids) == len(set(ids))
    assert len(rs.rules) > 40
    assert (DEFAULT_RULE_FILES[0].parent / "NOTICE").read_text().count("Apache") >= 1


# --------------------------------------------------------------------------- CLI


def test_cli_reads_stdin_and_prints_json_lines():
    result = CliRunner().invoke(
        assess_command, [], input="im gonna kms tonight\n\nthis heat is killing me\nllámame\n"
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(l) for l in result.output.splitlines()]
    assert [l["level"] for l in lines] == ["crisis", "none", "urgent"]
    assert set(lines[0]) == {"level", "rules", "matches"}
    assert "kill myself" in " ".join(lines[0]["matches"])


def test_cli_language_option():
    result = CliRunner().invoke(assess_command, ["--language", "en"], input="voy a suicidarme\n")
    assert result.exit_code == 0
    assert json.loads(result.output)["level"] != "crisis"
    result = CliRunner().invoke(assess_command, ["--language", "fr"], input="x\n")
    assert result.exit_code != 0


def test_cli_eval_prints_report():
    result = CliRunner().invoke(assess_command, ["--eval", str(CORPUS)])
    assert result.exit_code == 0, result.output
    assert "recall" in result.output and "precision" in result.output
    for lvl in ("crisis", "urgent", "watch", "none"):
        assert lvl in result.output
    assert "crisis assessed urgent or higher: 100.0%" in result.output


@pytest.mark.parametrize(
    "content",
    [
        None,
        "",
        "level\ttext\nsevere\ti am sad\n",
        "lvl,text\ncrisis,x\n",
        "level\ttext\ncrisis no tab here\n",
    ],
)
def test_cli_eval_bad_file_is_one_line_error(tmp_path, content):
    p = tmp_path / "eval.tsv"
    if content is not None:
        p.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(assess_command, ["--eval", str(p)])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    error_lines = [l for l in result.output.splitlines() if l.startswith("Error:")]
    assert len(error_lines) == 1 and str(p) in error_lines[0]
