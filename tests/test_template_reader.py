"""The local template reader: Mappings, unsupported intrinsics, parameter
checks, Rules, and a missing PyYAML — each a clear answer, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from clerk_serverless_local.template import Template, TemplateError

ROOT = Path(__file__).resolve().parent.parent

MAPPED = '''
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Retries: {Type: Number, Default: 3, MinValue: 1, MaxValue: 5}
  Name: {Type: String, Default: abc, MinLength: 2, MaxLength: 4}
Mappings:
  Origins:
    dev: {List: "http://localhost:3000,http://localhost:5173", Issuer: https://dev.example}
    prod: {List: https://app.example.com, Issuer: https://clerk.example.com}
Conditions:
  IsProd: !Equals [!FindInMap [Origins, !Ref Stage, Issuer], https://clerk.example.com]
Globals:
  Function:
    Runtime: python3.11
    Environment:
      Variables:
        CLERK_AUTHORIZED_PARTIES: !FindInMap [Origins, !Ref Stage, List]
        FALLBACK: !FindInMap [Origins, !Ref Stage, Missing, {DefaultValue: none}]
        PROD: !If [IsProd, "yes", "no"]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: src/, Handler: app.handler}
  Zones:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Environment:
        Variables:
          ZONES: !Join [",", !GetAZs ""]
  Lost:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Environment:
        Variables:
          X: !FindInMap [Origins, staging, List]
'''


@pytest.fixture
def mapped(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("def handler(event, context):\n    return {'ok': True}\n")
    (tmp_path / "template.yaml").write_text(textwrap.dedent(MAPPED))
    return tmp_path / "template.yaml"


def test_find_in_map_resolves_through_mappings(mapped: Path) -> None:
    dev = Template(mapped).function("Fn").environment
    assert dev == {"CLERK_AUTHORIZED_PARTIES": "http://localhost:3000,http://localhost:5173", "FALLBACK": "none", "PROD": "no"}
    prod = Template(mapped, {"Stage": "prod"}).function("Fn").environment
    assert prod["CLERK_AUTHORIZED_PARTIES"] == "https://app.example.com" and prod["PROD"] == "yes"
    assert Template(mapped).parameters_feeding("CLERK_AUTHORIZED_PARTIES") == ["Stage"]


def test_a_missing_mapping_key_names_it(mapped: Path) -> None:
    with pytest.raises(TemplateError, match=r"Fn::FindInMap: no 'staging' in mapping Origins"):
        Template(mapped).function("Lost")


def test_an_unsupported_intrinsic_is_one_clear_error(mapped: Path) -> None:
    with pytest.raises(TemplateError, match=r"Fn::GetAZs is not supported by the local template reader \(supported: .*Fn::FindInMap"):
        Template(mapped).function("Zones")


def test_unsupported_intrinsic_through_the_cli_is_one_line(mapped: Path) -> None:
    event = mapped.parent / "event.json"
    event.write_text("{}")
    out = _cli("invoke", "Zones", "-e", str(event), "-t", str(mapped))
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [out.stderr.strip()] and "Fn::GetAZs is not supported" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"Stage": "qa"}, "Stage: 'qa' is not one of dev, prod"),
        ({"Retries": "9"}, "Retries: 9 is outside its MinValue/MaxValue"),
        ({"Retries": "many"}, "Retries: 'many' is not a number"),
        ({"Name": "toolong"}, "Name: length 7 is outside"),
    ],
)
def test_overrides_are_checked_as_cloudformation_does(mapped: Path, overrides: dict[str, str], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        Template(mapped, overrides)


def test_condition_tags_refer_to_conditions(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(textwrap.dedent('''
        Parameters:
          A: {Type: String, Default: ""}
        Conditions:
          HasA: !Not [!Equals [!Ref A, ""]]
          Either: !Or [!Condition HasA, !Condition HasA]
        Resources:
          Fn: {Type: AWS::Serverless::Function, Properties: {CodeUri: src/, Handler: a.b, Runtime: python3.11}}
    '''))
    assert Template(tmp_path / "template.yaml").conditions["Either"] is False  # a !Condition is not a truthy dict
    assert Template(tmp_path / "template.yaml", {"A": "x"}).conditions["Either"] is True


def _cli(*args: str, cwd: Path = ROOT, hide_yaml: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLERK_")}
    prelude = "import sys; sys.modules['yaml'] = None; " if hide_yaml else "import sys; "
    code = prelude + "from clerk_serverless_local.__main__ import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [("demo",), ("serve", "--port", "0"), ("invoke", "MeFunction", "-e", "events/http_v2/bearer.json")])
def test_missing_pyyaml_is_one_line_naming_the_install(args: tuple[str, ...]) -> None:
    out = _cli(*args, hide_yaml=True)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [out.stderr.strip()]
    assert "PyYAML" in out.stderr and "pip install clerk-serverless-local" in out.stderr


def test_base64_encodes_as_cloudformation_does(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "template.yaml").write_text(textwrap.dedent('''\
        AWSTemplateFormatVersion: "2010-09-09"
        Transform: AWS::Serverless-2016-10-31
        Resources:
          Fn:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src/
              Handler: app.handler
              Runtime: python3.13
              Environment:
                Variables:
                  B: !Base64 abc
                  J: !Base64 {"Fn::Join": ["", ["a", "b"]]}
        '''))
    assert Template(tmp_path / "template.yaml").function("Fn").environment == {"B": "YWJj", "J": "YWI="}
