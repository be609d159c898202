"""Read a SAM ``template.yaml`` the way ``sam local invoke`` needs it.

Resolves what a function's runtime setup depends on: ``Globals`` merged into
each function, parameter defaults (and overrides, checked against their
``AllowedValues``/``AllowedPattern``/lengths as CloudFormation does),
conditions, ``Mappings``, and the intrinsics templates use for those values
(``Ref``, ``Fn::If``, ``Fn::Sub``, ``Fn::Join``, ``Fn::Select``, ``Fn::Split``,
``Fn::FindInMap``, ``Fn::Equals``/``Not``/``And``/``Or``, and the ``Rules``
functions). Anything that only exists once deployed (``Fn::GetAtt``, resource
``Ref`` s other than layers, ``Fn::ImportValue``) resolves to a readable
placeholder; any other intrinsic is a :class:`TemplateError` naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "local",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/local/00000000",
    "AWS::NotificationARNs": [],
}
_NO_VALUE = object()


class TemplateError(Exception):
    """The template cannot be read, or a function in it cannot be run."""


class MissingDependencyError(TemplateError):
    """An optional dependency of the local tools is not installed."""


INSTALL_HINT = "pip install clerk-serverless-local (from a checkout: pip install -e ./local)"


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise MissingDependencyError("reading template.yaml needs PyYAML, which is not installed: "
                                     f"{INSTALL_HINT}") from None
    return yaml


def _loader() -> Any:
    _yaml()  # one clear error when PyYAML is missing
    import yaml

    class CfnLoader(yaml.SafeLoader):
        pass

    def construct(loader: Any, tag_suffix: str, node: Any) -> Any:
        name = tag_suffix if tag_suffix in ("Ref", "Condition") else f"Fn::{tag_suffix}"
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    CfnLoader.add_multi_constructor("!", construct)
    return CfnLoader


def load_yaml(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation YAML file, short-form intrinsics (``!Ref``) included."""
    yaml = _yaml()
    try:
        document = yaml.load(path.read_text(), Loader=_loader())  # noqa: S506 - SafeLoader subclass
    except OSError as exc:
        raise TemplateError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{path} has no Resources section")
    return document


@dataclass
class FunctionSpec:
    """What running one function locally needs to know."""

    logical_id: str
    handler: str
    code_uri: Path
    runtime: str
    timeout: float
    memory: int
    architecture: str
    environment: dict[str, str]
    layers: list[str] = field(default_factory=list)  # local layer logical IDs
    external_layers: list[str] = field(default_factory=list)  # ARNs we cannot fetch
    events: dict[str, Any] = field(default_factory=dict)
    function_url: dict[str, Any] | None = None


class Template:
    """A SAM template with its parameters resolved."""

    def __init__(self, path: str | Path, parameter_overrides: dict[str, str] | None = None) -> None:
        self.path = Path(path).resolve()
        self.root = self.path.parent
        self.document = load_yaml(self.path)
        self.overrides = dict(parameter_overrides or {})
        self.parameters = self._parameters(self.overrides)
        self.conditions: dict[str, bool] = {}
        for name in self.document.get("Conditions") or {}:
            self._condition(name)

    # -- public ----------------------------------------------------------------

    def with_overrides(self, overrides: dict[str, str]) -> Template:
        """The same template with more parameter overrides (these win)."""
        return Template(self.path, {**self.overrides, **overrides})

    def rule_violations(self) -> list[str]:
        """The ``AssertDescription`` of every ``Rules`` assertion these
        parameters break, as CloudFormation would refuse the stack."""
        broken = []
        for name, rule in (self.document.get("Rules") or {}).items():
            rule = rule or {}
            if "RuleCondition" in rule and not self.resolve(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions") or []:
                if not self.resolve(assertion.get("Assert")):
                    broken.append(f"{name}: {assertion.get('AssertDescription') or 'assertion failed'}")
        return broken

    def parameters_feeding(self, variable: str) -> list[str]:
        """Names of the parameters an environment variable's value is built
        from, in ``Globals`` or any function (e.g. ``CLERK_AUTHORIZED_PARTIES``
        → ``["ClerkAuthorizedParties"]``)."""
        sources = [(self.document.get("Globals") or {}).get("Function") or {}]
        sources += [(self.resources[f].get("Properties") or {}) for f in self.function_ids()]
        found: list[str] = []
        for source in sources:
            value = (((source.get("Environment") or {}).get("Variables")) or {}).get(variable)
            for name in _refs(value):
                if name in self.parameters and name not in found:
                    found.append(name)
        return found

    @property
    def resources(self) -> dict[str, Any]:
        """The ``Resources`` section."""
        resources: dict[str, Any] = self.document["Resources"]
        return resources

    def function_ids(self) -> list[str]:
        """Logical IDs of the ``AWS::Serverless::Function`` resources."""
        return [rid for rid, r in self.resources.items()
                if isinstance(r, dict) and r.get("Type") == "AWS::Serverless::Function"]

    def function(self, logical_id: str) -> FunctionSpec:
        """The resolved spec of one function; :class:`TemplateError` if unknown."""
        resource = self.resources.get(logical_id)
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            known = ", ".join(self.function_ids()) or "none"
            raise TemplateError(f"no function {logical_id!r} in {self.path.name} (functions: {known})")
        globals_ = (self.document.get("Globals") or {}).get("Function") or {}
        props = resource.get("Properties") or {}
        merged = {**globals_, **props}
        env: dict[str, str] = {}
        for source in (globals_, props):
            variables = ((source.get("Environment") or {}).get("Variables")) or {}
            for name, value in variables.items():
                resolved = self.resolve(value)
                if resolved is not _NO_VALUE:
                    env[name] = _as_env(resolved)
        handler = self.resolve(merged.get("Handler"))
        if not isinstance(handler, str) or not handler:
            raise TemplateError(f"{logical_id} has no Handler")
        code_uri = self.resolve(merged.get("CodeUri"))
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id} has no local CodeUri")
        layers, external = [], []
        for ref in list(globals_.get("Layers") or []) + list(props.get("Layers") or []):
            layer = self.resolve(ref)
            if layer is _NO_VALUE:
                continue
            if isinstance(layer, dict) and "LayerRef" in layer:
                layers.append(layer["LayerRef"])
            elif isinstance(layer, str):
                external.append(layer)
        archs = self.resolve(merged.get("Architectures")) or ["x86_64"]
        return FunctionSpec(
            logical_id=logical_id,
            handler=handler,
            code_uri=(self.root / code_uri).resolve(),
            runtime=str(self.resolve(merged.get("Runtime")) or "python3.13"),
            timeout=float(self.resolve(merged.get("Timeout")) or 3),
            memory=int(self.resolve(merged.get("MemorySize")) or 128),
            architecture=str(archs[0]),
            environment=env,
            layers=layers,
            external_layers=external,
            events={k: self.resolve(v) for k, v in (props.get("Events") or {}).items()},
            function_url=self.resolve(props.get("FunctionUrlConfig")) if props.get("FunctionUrlConfig") else None,
        )

    def layer_content(self, logical_id: str) -> Path:
        """The ``ContentUri`` directory of a local layer."""
        props = (self.resources.get(logical_id) or {}).get("Properties") or {}
        uri = self.resolve(props.get("ContentUri"))
        if not isinstance(uri, str):
            raise TemplateError(f"layer {logical_id} has no local ContentUri")
        return (self.root / uri).resolve()

    # -- resolution -------------------------------------------------------------

    def _parameters(self, overrides: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in (self.document.get("Parameters") or {}).items():
            spec = spec or {}
            raw = overrides.get(name, spec.get("Default"))
            if raw is None:
                raw = ""
            if spec.get("Type") == "CommaDelimitedList" or str(spec.get("Type", "")).startswith("List<"):
                values[name] = ([] if raw == ""
                                else [p.strip() for p in str(raw).split(",")] if isinstance(raw, str)
                                else list(raw))
            else:
                values[name] = str(raw) if not isinstance(raw, str) else raw
                if name in overrides:
                    _check_parameter(name, spec, values[name])
        unknown = set(overrides) - set(values)
        if unknown:
            raise TemplateError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        return values

    def _condition(self, name: str) -> bool:
        if name not in self.conditions:
            spec = (self.document.get("Conditions") or {}).get(name)
            if spec is None:
                raise TemplateError(f"unknown condition {name}")
            self.conditions[name] = bool(self.resolve(spec))
        return self.conditions[name]

    def resolve(self, value: Any) -> Any:
        """Evaluate intrinsics in ``value`` (``_NO_VALUE`` for ``AWS::NoValue``)."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            handler = _INTRINSICS.get(key)
            if handler is not None:
                return handler(self, arg)
            if isinstance(key, str) and key.startswith("Fn::"):
                supported = ", ".join(sorted(k for k in _INTRINSICS if k.startswith("Fn::")))
                raise TemplateError(f"{self.path.name}: {key} is not supported by the local template reader "
                                    f"(supported: Ref, Condition, {supported})")
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in PSEUDO:
            return PSEUDO[name]
        resource = self.resources.get(name)
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::LayerVersion":
            return {"LayerRef": name}
        return f"<{name}>"

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, extra = arg[0], {k: self.resolve(v) for k, v in (arg[1] or {}).items()}
        else:
            text, extra = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in extra:
                return _as_env(extra[name])
            if "." in name:
                return f"<{name}>"
            return _as_env(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _find_in_map(self, arg: Any) -> Any:
        if not isinstance(arg, list) or len(arg) not in (3, 4):
            raise TemplateError(f"{self.path.name}: Fn::FindInMap takes [MapName, TopLevelKey, SecondLevelKey], "
                                f"not {arg!r}")
        names = [_as_env(self.resolve(part)) for part in arg[:3]]
        default = ((arg[3] or {}).get("DefaultValue", _NO_VALUE) if len(arg) == 4 and isinstance(arg[3], dict)
                   else _NO_VALUE)
        mappings = self.document.get("Mappings") or {}
        node: Any = mappings
        for depth, name in enumerate(names):
            if not isinstance(node, dict) or name not in node:
                if default is not _NO_VALUE:
                    return self.resolve(default)
                where = "Mappings" if depth == 0 else f"mapping {'.'.join(names[:depth])}"
                raise TemplateError(f"{self.path.name}: Fn::FindInMap: no {name!r} in {where}")
            node = node[name]
        return self.resolve(node)


def _check_parameter(name: str, spec: dict[str, Any], value: str) -> None:
    """Refuse an override CloudFormation would refuse (String and Number parameters)."""
    hint = spec.get("ConstraintDescription")
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(v) for v in allowed]:
        raise TemplateError(f"parameter {name}: {value!r} is not one of {', '.join(map(str, allowed))}")
    if ("MinLength" in spec and len(value) < int(spec["MinLength"])
            or "MaxLength" in spec and len(value) > int(spec["MaxLength"])):
        raise TemplateError(f"parameter {name}: length {len(value)} is outside its MinLength/MaxLength")
    pattern = spec.get("AllowedPattern")
    if isinstance(pattern, str):
        try:
            matches = re.fullmatch(pattern, value) is not None
        except re.error:
            matches = True  # a Java-only construct: CloudFormation will judge
        if not matches:
            raise TemplateError(f"parameter {name}: {value!r} does not match its AllowedPattern"
                                + (f" ({hint})" if hint else ""))
    if spec.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            raise TemplateError(f"parameter {name}: {value!r} is not a number") from None
        if ("MinValue" in spec and number < float(spec["MinValue"])
                or "MaxValue" in spec and number > float(spec["MaxValue"])):
            raise TemplateError(f"parameter {name}: {value} is outside its MinValue/MaxValue")


def _refs(value: Any) -> list[str]:
    """Every name a ``Ref`` (or a ``Fn::Sub`` variable) in ``value`` points at."""
    if isinstance(value, list):
        return [name for item in value for name in _refs(item)]
    if not isinstance(value, dict):
        return []
    if set(value) == {"Ref"} and isinstance(value["Ref"], str):
        return [value["Ref"]]
    if set(value) == {"Fn::Sub"}:
        arg = value["Fn::Sub"]
        text = arg[0] if isinstance(arg, list) else arg
        names = [n for n in re.findall(r"\$\{([^}!.]+)\}", text if isinstance(text, str) else "")]
        extra = arg[1] if isinstance(arg, list) and len(arg) > 1 and isinstance(arg[1], dict) else {}
        return [n for n in names if n not in extra] + _refs(list(extra.values()))
    return [name for item in value.values() for name in _refs(item)]


def _as_env(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_as_env(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and "LayerRef" in value:
        return f"<{value['LayerRef']}>"
    return "" if value is None else str(value)


def _select(t: Template, arg: Any) -> Any:
    items = t.resolve(arg[1]) or [""]
    try:
        return items[int(t.resolve(arg[0]))]
    except (IndexError, ValueError, TypeError):
        raise TemplateError(f"{t.path.name}: Fn::Select index {arg[0]!r} is out of range for {items!r}") from None


def _if(t: Template, arg: Any) -> Any:
    name, yes, no = arg
    return t.resolve(yes if t._condition(name) else no)


_INTRINSICS: dict[str, Any] = {
    "Ref": lambda t, a: t._ref(a),
    "Condition": lambda t, a: t._condition(a),
    "Fn::If": _if,
    "Fn::Equals": lambda t, a: _as_env(t.resolve(a[0])) == _as_env(t.resolve(a[1])),
    "Fn::Not": lambda t, a: not t.resolve(a[0]),
    "Fn::And": lambda t, a: all(t.resolve(c) for c in a),
    "Fn::Or": lambda t, a: any(t.resolve(c) for c in a),
    "Fn::Sub": lambda t, a: t._sub(a),
    "Fn::Join": lambda t, a: a[0].join(_as_env(v) for v in t.resolve(a[1])),
    "Fn::Select": lambda t, a: _select(t, a),
    "Fn::Split": lambda t, a: _as_env(t.resolve(a[1])).split(a[0]),
    "Fn::GetAtt": lambda t, a: f"<{'.'.join(a) if isinstance(a, list) else a}>",
    "Fn::ImportValue": lambda t, a: f"<import:{t.resolve(a)}>",
    "Fn::Base64": lambda t, a: _base64(t.resolve(a)),
    "Fn::FindInMap": lambda t, a: t._find_in_map(a),
    # The Rules section's own functions.
    "Fn::Contains": lambda t, a: _as_env(t.resolve(a[1])) in [_as_env(v) for v in _as_list(t.resolve(a[0]))],
    "Fn::EachMemberEquals": lambda t, a: all(_as_env(v) == _as_env(t.resolve(a[1])) for v in _as_list(t.resolve(a[0]))),
    "Fn::EachMemberIn": lambda t, a: all(_as_env(v) in [_as_env(w) for w in _as_list(t.resolve(a[1]))]
                                         for v in _as_list(t.resolve(a[0]))),
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _base64(value: Any) -> Any:
    """``Fn::Base64``: the UTF-8 text, base64-encoded, as CloudFormation passes it."""
    if not isinstance(value, str):
        raise TemplateError("Fn::Base64 takes a string")
    import base64

    return base64.b64encode(value.encode()).decode()
